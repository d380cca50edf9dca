//! [`Tokenizer`]: text ↔ token ids, loaded from `tokenizer.json` or `tokenizer.model`.
//!
//! Both files describe the same SentencePiece BPE (32,000 pieces, byte fallback, `▁` dummy
//! prefix). `tokenizer.json` is encoded by the `tokenizers` crate; `tokenizer.model` by this
//! crate's own SentencePiece port ([`crate::sentencepiece`]). Decoding is shared (see
//! [`crate::vocab`]), so the two loaders give identical results; the tests check that they also
//! match the real SentencePiece library.
//!
//! Text is always plain text: `<s>`, `</s>` or `[INST]` written inside it are tokenized as the
//! characters they are, never as control tokens.

use std::fmt;
use std::path::{Path, PathBuf};

use mistral_core::{Error, Result};

use crate::sentencepiece::{self, SpBpe};
use crate::stream::StreamDecoder;
use crate::vocab::{parse_byte_piece, push_lossy, PieceKind, Vocab};

/// `tokenizer.model` of Mistral-7B-Instruct-v0.1, compiled in (see `data/NOTICE`).
const EMBEDDED_MODEL: &[u8] = include_bytes!("../data/tokenizer.model");

enum Encoder {
    Hf(Box<tokenizers::Tokenizer>),
    Sp(Box<SpBpe>),
}

/// A loaded tokenizer. Cheap to share by reference across threads (`Send + Sync`).
pub struct Tokenizer {
    encoder: Encoder,
    vocab: Vocab,
    source: PathBuf,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.encoder {
            Encoder::Hf(_) => "tokenizer.json",
            Encoder::Sp(_) => "sentencepiece",
        };
        f.debug_struct("Tokenizer")
            .field("source", &self.source)
            .field("kind", &kind)
            .field("vocab_size", &self.vocab.len())
            .finish()
    }
}

/// Collapses a message from another library onto one line.
fn one_line(msg: impl fmt::Display) -> String {
    msg.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

impl Tokenizer {
    /// Loads `dir/tokenizer.json` if it exists, else `dir/tokenizer.model`; an error if neither.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::model(
                dir,
                "not a directory (expected one holding tokenizer.json or tokenizer.model)",
            ));
        }
        let json = dir.join("tokenizer.json");
        if json.is_file() {
            return Self::from_tokenizer_json(&json);
        }
        let model = dir.join("tokenizer.model");
        if model.is_file() {
            return Self::from_sentencepiece(&model);
        }
        Err(Error::model(
            dir,
            "has neither tokenizer.json nor tokenizer.model",
        ))
    }

    /// Loads a Hugging Face `tokenizer.json` (encoding through the `tokenizers` crate).
    pub fn from_tokenizer_json(path: &Path) -> Result<Self> {
        Self::from_tokenizer_json_bytes(&read(path)?, path)
    }

    /// Like [`Tokenizer::from_tokenizer_json`] for bytes already in memory; `origin` names them in errors.
    pub fn from_tokenizer_json_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        let bad = |msg: String| Error::model(origin, msg);
        let mut tk = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| bad(format!("not a valid tokenizer.json: {}", one_line(e))))?;
        // Special tokens written in the text are plain text.
        tk.set_encode_special_tokens(true);

        let map = tk.get_vocab(true);
        let mut pieces = vec![None; map.len()];
        for (piece, id) in map {
            match pieces.get_mut(id as usize) {
                Some(slot) => *slot = Some(piece),
                None => {
                    return Err(bad(format!(
                        "token ids are not contiguous: id {id} in a vocabulary of {}",
                        pieces.len()
                    )))
                }
            }
        }
        let special = tk.get_added_tokens_decoder();
        let entries = pieces
            .into_iter()
            .map(Option::unwrap_or_default)
            .enumerate()
            .map(|(id, p)| {
                let kind = match special.get(&(id as u32)) {
                    Some(t) if t.special && p == "<unk>" => PieceKind::Unknown,
                    Some(t) if t.special => PieceKind::Control,
                    _ => parse_byte_piece(&p).map_or(PieceKind::Text, PieceKind::Byte),
                };
                (p, kind)
            })
            .collect();
        let id = |name: &str| {
            tk.token_to_id(name)
                .ok_or_else(|| bad(format!("has no {name} token")))
        };
        let (bos, eos) = (id("<s>")?, id("</s>")?);
        Ok(Tokenizer {
            encoder: Encoder::Hf(Box::new(tk)),
            vocab: Vocab::new(entries, bos, eos),
            source: origin.to_path_buf(),
        })
    }

    /// Loads a SentencePiece `tokenizer.model` (BPE with the identity normalizer, as Mistral's).
    pub fn from_sentencepiece(path: &Path) -> Result<Self> {
        Self::from_sentencepiece_bytes(&read(path)?, path)
    }

    /// Like [`Tokenizer::from_sentencepiece`] for bytes already in memory; `origin` names them in errors.
    pub fn from_sentencepiece_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        let (bpe, vocab) = sentencepiece::load(bytes).map_err(|e| Error::model(origin, e))?;
        Ok(Tokenizer {
            encoder: Encoder::Sp(Box::new(bpe)),
            vocab,
            source: origin.to_path_buf(),
        })
    }

    /// The Mistral-7B-Instruct-v0.1 tokenizer compiled into this crate (its `tokenizer.model`,
    /// from the mistral-common 1.13.1 wheel), for when a model directory has no tokenizer file.
    pub fn embedded() -> Result<Self> {
        Self::from_sentencepiece_bytes(EMBEDDED_MODEL, Path::new("<embedded tokenizer.model>"))
    }

    /// Token ids of `text`, with BOS first when `add_bos`. Never adds EOS.
    pub fn encode(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos {
            ids.push(self.vocab.bos);
        }
        match &self.encoder {
            Encoder::Sp(bpe) => ids.extend(bpe.encode(text)),
            Encoder::Hf(tk) => {
                let enc = tk.encode_fast(text, false).map_err(|e| {
                    Error::InvalidInput(format!("cannot tokenize the text: {}", one_line(e)))
                })?;
                ids.extend_from_slice(enc.get_ids());
            }
        }
        Ok(ids)
    }

    /// The text of `ids`, by SentencePiece's rules (checked against the real library):
    /// `<s>`/`</s>` print nothing, `<unk>` prints ` ⁇ `, `▁` is a space, byte pieces `<0xNN>` are
    /// raw UTF-8 bytes (each byte that does not start a complete valid character becomes U+FFFD),
    /// and the first piece loses the leading space that encoding added. An id outside the
    /// vocabulary is an [`Error::InvalidInput`].
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        let mut first = true;
        for &id in ids {
            self.check_id(id)?;
            self.vocab.push_bytes(id, &mut first, &mut bytes);
        }
        let mut out = String::with_capacity(bytes.len());
        push_lossy(&bytes, true, &mut out);
        Ok(out)
    }

    /// A decoder for generated ids that yields printable text as soon as it is complete.
    pub fn stream(&self) -> StreamDecoder<'_> {
        StreamDecoder::new(self)
    }

    /// Number of ids (32,000 for Mistral-7B).
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The id of `<s>`.
    pub fn bos_id(&self) -> u32 {
        self.vocab.bos
    }

    /// The id of `</s>`.
    pub fn eos_id(&self) -> u32 {
        self.vocab.eos
    }

    /// The raw piece of `id` (`▁Hello`, `<0x0A>`, `<s>`), `None` if out of range.
    pub fn piece(&self, id: u32) -> Option<&str> {
        self.vocab.piece(id)
    }

    /// The file this tokenizer was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    pub(crate) fn check_id(&self, id: u32) -> Result<()> {
        if (id as usize) < self.vocab.len() {
            Ok(())
        } else {
            Err(Error::InvalidInput(format!(
                "token id {id} is out of range for a vocabulary of {} tokens",
                self.vocab.len()
            )))
        }
    }

    pub(crate) fn vocab(&self) -> &Vocab {
        &self.vocab
    }
}
