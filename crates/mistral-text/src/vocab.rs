//! The id → piece table both loaders share, and the SentencePiece decoding rules built on it.
//!
//! Decoding is done here, not by the `tokenizers` crate, so that `tokenizer.json` and
//! `tokenizer.model` decode identically and [`crate::StreamDecoder`] can reuse the exact same
//! per-piece rules. The rules are SentencePiece's (`DecodeIds` of the real library):
//! - control pieces (`<s>`, `</s>`) produce no text;
//! - the unknown piece (`<unk>`) produces ` ⁇ ` (U+2047 between spaces), as SentencePiece prints it;
//! - byte pieces `<0xNN>` produce the raw byte `NN`; the bytes are read as UTF-8 and every byte
//!   that does not start a complete, valid character becomes one U+FFFD (see [`push_lossy`]);
//! - every other piece produces its text with `▁` (U+2581) replaced by a space;
//! - the first piece that is not a control piece loses one leading space (the dummy prefix added
//!   when encoding); a byte piece or `<unk>` in that place uses up the chance.

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

/// Pieces indexed by id, plus the special ids.
#[derive(Clone, Debug)]
pub(crate) struct Vocab {
    /// Raw pieces as in the file (`▁Hello`, `<0x0A>`, `<s>`).
    raw: Vec<String>,
    /// Text of piece `id` with `▁` already replaced by a space (empty for control and byte pieces).
    text: Vec<String>,
    kinds: Vec<PieceKind>,
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
    /// Builds the table from `(piece, kind)` in id order. The caller checks `bos`/`eos` exist.
    pub(crate) fn new(pieces: Vec<(String, PieceKind)>, bos: u32, eos: u32) -> Self {
        let mut text = Vec::with_capacity(pieces.len());
        let mut kinds = Vec::with_capacity(pieces.len());
        let mut raw = Vec::with_capacity(pieces.len());
        for (piece, kind) in pieces {
            text.push(match kind {
                PieceKind::Text => piece.replace(SPACE_SYMBOL, " "),
                _ => String::new(),
            });
            kinds.push(kind);
            raw.push(piece);
        }
        Vocab {
            raw,
            text,
            kinds,
            bos,
            eos,
        }
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
            PieceKind::Unknown => {
                *first = false;
                out.extend_from_slice(UNKNOWN_TEXT.as_bytes());
            }
            PieceKind::Byte(b) => {
                *first = false;
                out.push(b);
            }
            PieceKind::Text => {
                let t = &self.text[id as usize];
                let t = if *first {
                    t.strip_prefix(' ').unwrap_or(t)
                } else {
                    t
                };
                *first = false;
                out.extend_from_slice(t.as_bytes());
            }
        }
    }
}

/// Appends `bytes` read as UTF-8 to `out`, SentencePiece's way: each byte at which no complete,
/// valid character starts becomes one U+FFFD and decoding resumes at the next byte.
///
/// With `complete == false` an incomplete but so far valid character at the very end is left
/// undecoded (more bytes may complete it); the number of bytes consumed is returned.
pub(crate) fn push_lossy(bytes: &[u8], complete: bool, out: &mut String) -> usize {
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
                pos += 1;
            }
        }
    }
    pos
}
