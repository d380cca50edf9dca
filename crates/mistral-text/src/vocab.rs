//! The id → piece table every loader shares, and the decoding rules built on it.
//!
//! Decoding is done here, not by the `tokenizers` crate, so that `tokenizer.json`,
//! `tokenizer.model` and GGUF metadata decode identically and [`crate::StreamDecoder`] can reuse
//! the exact same per-piece rules. There are two families ([`Decoding`]).
//!
//! **SentencePiece** (Mistral, Llama 2; `DecodeIds` of the real library):
//! - control pieces (`<s>`, `</s>`) produce no text;
//! - the unknown piece (`<unk>`) produces ` ⁇ ` (U+2047 between spaces), as SentencePiece prints it;
//! - byte pieces `<0xNN>` produce the raw byte `NN`; the bytes are read as UTF-8 and every byte
//!   that does not start a complete, valid character becomes one U+FFFD (see [`push_lossy`]);
//! - every other piece produces its text with `▁` (U+2581) replaced by a space;
//! - the first piece that is not a control piece loses one leading space (the dummy prefix added
//!   when encoding); a byte piece or `<unk>` in that place uses up the chance.
//!
//! **Byte-level BPE** (GPT-2, Llama 3, SmolLM2; the `ByteLevel` decoder of `tokenizers`, with
//! `skip_special_tokens=True`):
//! - control pieces produce no text;
//! - every other piece is spelled in GPT-2's byte alphabet (`Ġ` is the byte 0x20, `Ċ` 0x0A, ...):
//!   each character maps back to its byte (a character outside the alphabet, in a piece added as
//!   plain text, stands for its own UTF-8);
//! - the bytes are read as UTF-8 the way Rust's `String::from_utf8_lossy` does (each maximal
//!   invalid sequence becomes one U+FFFD), which is what `tokenizers` does; nothing is stripped.

/// What a vocabulary entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PieceKind {
    /// Ordinary text (SentencePiece NORMAL, USER_DEFINED or UNUSED).
    Text,
    /// A byte-fallback piece `<0xNN>`.
    Byte(u8),
    /// `<s>`, `</s>`, padding: never printed.
    Control,
    /// `<unk>`: printed as ` ⁇ `.
    Unknown,
}

/// The SentencePiece whitespace symbol.
pub(crate) const SPACE_SYMBOL: char = '\u{2581}';

/// What SentencePiece prints for `<unk>`.
const UNKNOWN_TEXT: &str = " \u{2047} ";

/// Which decoding rules a vocabulary follows (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoding {
    SentencePiece,
    ByteLevel,
}

/// Pieces indexed by id, plus the special ids.
#[derive(Clone, Debug)]
pub(crate) struct Vocab {
    /// Raw pieces as in the file (`▁Hello`, `<0x0A>`, `<s>`, `Ġhello`).
    raw: Vec<String>,
    /// Bytes of piece `id` (`▁` already a space, byte-level spelling already undone; empty for
    /// control and byte pieces).
    text: Vec<Box<[u8]>>,
    kinds: Vec<PieceKind>,
    decoding: Decoding,
    pub(crate) bos: u32,
    pub(crate) eos: u32,
}

/// Parses `<0xNN>` (exactly two upper- or lower-case hex digits) into its byte.
pub(crate) fn parse_byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

impl Vocab {
    /// Builds a SentencePiece table from `(piece, kind)` in id order. The caller checks
    /// `bos`/`eos` exist.
    pub(crate) fn new(pieces: Vec<(String, PieceKind)>, bos: u32, eos: u32) -> Self {
        Self::with_decoding(pieces, bos, eos, Decoding::SentencePiece)
    }

    /// Builds the table for either decoding family (byte-level pieces never have kind `Byte`).
    pub(crate) fn with_decoding(
        pieces: Vec<(String, PieceKind)>,
        bos: u32,
        eos: u32,
        decoding: Decoding,
    ) -> Self {
        let mut text = Vec::with_capacity(pieces.len());
        let mut kinds = Vec::with_capacity(pieces.len());
        let mut raw = Vec::with_capacity(pieces.len());
        let unbyte = (decoding == Decoding::ByteLevel).then(crate::byte_level::char_to_byte);
        for (piece, kind) in pieces {
            text.push(match (kind, &unbyte) {
                (PieceKind::Text, None) => piece.replace(SPACE_SYMBOL, " ").into_bytes().into(),
                (PieceKind::Text, Some(map)) => crate::byte_level::unspell(&piece, map).into(),
                _ => Box::default(),
            });
            kinds.push(kind);
            raw.push(piece);
        }
        Vocab {
            raw,
            text,
            kinds,
            decoding,
            bos,
            eos,
        }
    }

    /// Appends `bytes` read as UTF-8 by this vocabulary's rules (see [`push_lossy`]).
    pub(crate) fn push_lossy(&self, bytes: &[u8], complete: bool, out: &mut String) -> usize {
        push_lossy(bytes, complete, self.decoding, out)
    }

    /// Whether piece `id` is a control piece (`<s>`, `<|im_end|>`). The id must be in range.
    pub(crate) fn is_control(&self, id: u32) -> bool {
        self.kinds[id as usize] == PieceKind::Control
    }

    /// Ids of control and unknown pieces with their text: what a text "with special tokens"
    /// may name.
    pub(crate) fn specials(&self) -> Vec<(String, u32)> {
        self.kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| matches!(k, PieceKind::Control | PieceKind::Unknown))
            .map(|(id, _)| (self.raw[id].clone(), id as u32))
            .collect()
    }

    pub(crate) fn decoding(&self) -> Decoding {
        self.decoding
    }

    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    pub(crate) fn piece(&self, id: u32) -> Option<&str> {
        self.raw.get(id as usize).map(String::as_str)
    }

    /// Appends the bytes piece `id` decodes to. `first` says whether no piece has produced
    /// output yet (it is cleared once one has); the first text piece loses one leading space.
    /// The id must be in range.
    pub(crate) fn push_bytes(&self, id: u32, first: &mut bool, out: &mut Vec<u8>) {
        match self.kinds[id as usize] {
            PieceKind::Control => {}
            PieceKind::Unknown if self.decoding == Decoding::ByteLevel => {}
            PieceKind::Unknown => {
                *first = false;
                out.extend_from_slice(UNKNOWN_TEXT.as_bytes());
            }
            PieceKind::Byte(b) => {
                *first = false;
                out.push(b);
            }
            PieceKind::Text => {
                let t = &self.text[id as usize][..];
                let t = if *first && self.decoding == Decoding::SentencePiece {
                    t.strip_prefix(b" ").unwrap_or(t)
                } else {
                    t
                };
                *first = false;
                out.extend_from_slice(t);
            }
        }
    }
}

/// Appends `bytes` read as UTF-8 to `out`. SentencePiece's way: each byte at which no complete,
/// valid character starts becomes one U+FFFD and decoding resumes at the next byte. Byte-level:
/// `String::from_utf8_lossy`'s way, one U+FFFD per maximal invalid sequence.
///
/// With `complete == false` an incomplete but so far valid character at the very end is left
/// undecoded (more bytes may complete it); the number of bytes consumed is returned.
fn push_lossy(bytes: &[u8], complete: bool, decoding: Decoding, out: &mut String) -> usize {
    let mut pos = 0;
    while pos < bytes.len() {
        match std::str::from_utf8(&bytes[pos..]) {
            Ok(s) => {
                out.push_str(s);
                pos = bytes.len();
            }
            Err(e) => {
                let valid = e.valid_up_to();
                // The first `valid` bytes were just checked, so this never falls back to "".
                out.push_str(std::str::from_utf8(&bytes[pos..pos + valid]).unwrap_or_default());
                pos += valid;
                if e.error_len().is_none() && !complete {
                    break;
                }
                out.push(char::REPLACEMENT_CHARACTER);
                pos += match decoding {
                    Decoding::SentencePiece => 1,
                    // An incomplete character at the very end is one maximal invalid sequence.
                    Decoding::ByteLevel => e.error_len().unwrap_or(bytes.len() - pos),
                };
            }
        }
    }
    pos
}
