//! [`Tokenizer`]: text ↔ token ids, loaded from `tokenizer.json`, `tokenizer.model` or GGUF
//! metadata ([`crate::GgufVocab`]).
//!
//! Mistral's two files describe the same SentencePiece BPE (32,000 pieces, byte fallback, `▁`
//! dummy prefix). `tokenizer.json` is encoded by the `tokenizers` crate; `tokenizer.model` by this
//! crate's own SentencePiece port ([`crate::sentencepiece`]). Decoding is shared (see
//! [`crate::vocab`]), so the two loaders give identical results; the tests check that they also
//! match the real SentencePiece library.
//!
//! From GGUF metadata: `tokenizer.ggml.model == "llama"` (SentencePiece, what Mistral GGUFs carry)
//! goes through the same SentencePiece port, built from the tokens, scores and types;
//! `"gpt2"` (byte-level BPE) is assembled for the `tokenizers` crate ([`crate::byte_level`]).
//!
//! [`Tokenizer::encode`] treats text as plain text: `<s>`, `</s>` or `<|im_end|>` written inside it
//! are tokenized as the characters they are, never as control tokens.
//! [`Tokenizer::encode_special`] recognises them, as transformers' `tokenizer(text)` does.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mistral_core::{Error, Result};

use crate::sentencepiece::{self, SpBpe};
use crate::stream::StreamDecoder;
use crate::vocab::{parse_byte_piece, Decoding, PieceKind, Vocab};
use crate::GgufVocab;

/// `tokenizer.model` of Mistral-7B-Instruct-v0.1, compiled in (see `data/NOTICE`).
const EMBEDDED_MODEL: &[u8] = include_bytes!("../data/tokenizer.model");

enum Encoder {
    /// `plain` never matches special tokens in the text; `special` (made on first use) does.
    Hf {
        plain: Box<tokenizers::Tokenizer>,
        special: OnceLock<Box<tokenizers::Tokenizer>>,
    },
    Sp(Box<SpBpe>),
}

impl Encoder {
    fn hf(mut tk: tokenizers::Tokenizer) -> Self {
        // Special tokens written in the text are plain text.
        tk.set_encode_special_tokens(true);
        Encoder::Hf {
            plain: Box::new(tk),
            special: OnceLock::new(),
        }
    }
}

/// A loaded tokenizer. Cheap to share by reference across threads (`Send + Sync`).
pub struct Tokenizer {
    encoder: Encoder,
    vocab: Vocab,
    source: PathBuf,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match (&self.encoder, self.vocab.decoding()) {
            (Encoder::Hf { .. }, Decoding::ByteLevel) => "byte-level bpe",
            (Encoder::Hf { .. }, Decoding::SentencePiece) => "tokenizer.json",
            (Encoder::Sp(_), _) => "sentencepiece",
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
        let tk = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| bad(format!("not a valid tokenizer.json: {}", one_line(e))))?;

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
            encoder: Encoder::hf(tk),
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

    /// The tokenizer a GGUF file's metadata describes (see [`GgufVocab`]).
    pub fn from_gguf(path: &Path) -> Result<Self> {
        let file = mistral_gguf::GgufFile::open(path)?;
        Self::from_gguf_vocab(&GgufVocab::from_gguf(&file)?, path)
    }

    /// The tokenizer of GGUF tokenizer metadata; `origin` names the file in errors.
    /// `tokenizer.ggml.model` must be `llama` (SentencePiece) or `gpt2` (byte-level BPE).
    pub fn from_gguf_vocab(v: &GgufVocab, origin: &Path) -> Result<Self> {
        let bad = |msg: String| Error::model(origin, msg);
        if v.tokens.is_empty() || v.tokens.len() > u32::MAX as usize {
            return Err(bad(format!(
                "tokenizer.ggml.tokens has {} tokens",
                v.tokens.len()
            )));
        }
        let n = v.tokens.len() as u32;
        let check = |what: &str, id: Option<u32>| match id {
            Some(id) if id >= n => Err(bad(format!(
                "tokenizer.ggml.{what} {id} is out of range for {n} tokens"
            ))),
            _ => Ok(id),
        };
        let eos = check("eos_token_id", v.eos_id)?;
        let bos = check("bos_token_id", v.bos_id)?;
        check("unknown_token_id", v.unk_id)?;
        match v.model.as_str() {
            "llama" => {
                let (Some(scores), Some(types)) = (&v.scores, &v.token_types) else {
                    return Err(bad(
                        "a SentencePiece (llama) vocabulary needs tokenizer.ggml.scores and tokenizer.ggml.token_type".into(),
                    ));
                };
                let spec = sentencepiece::GgufSpec {
                    tokens: &v.tokens,
                    scores,
                    token_types: types,
                    bos: bos.unwrap_or(1),
                    eos: eos.unwrap_or(2),
                    unk: v.unk_id,
                    add_space_prefix: v.add_space_prefix.unwrap_or(true),
                };
                let (bpe, vocab) = sentencepiece::from_gguf(&spec).map_err(bad)?;
                Ok(Tokenizer {
                    encoder: Encoder::Sp(Box::new(bpe)),
                    vocab,
                    source: origin.to_path_buf(),
                })
            }
            "gpt2" => {
                let pre = v.pre.as_deref().unwrap_or("default");
                let pre_tok = crate::byte_level::pre_tokenizer(pre).ok_or_else(|| {
                    bad(format!(
                        "unsupported tokenizer.ggml.pre {pre:?} (known: {})",
                        crate::byte_level::KNOWN_PRE.join(", ")
                    ))
                })?;
                let Some(merges) = &v.merges else {
                    return Err(bad(
                        "a byte-level BPE (gpt2) vocabulary needs tokenizer.ggml.merges".into(),
                    ));
                };
                let types = v.token_types.as_deref().unwrap_or(&[]);
                let doc = crate::byte_level::tokenizer_json(&v.tokens, types, merges, pre_tok)
                    .map_err(bad)?;
                let tk = tokenizers::Tokenizer::from_bytes(doc.to_string().as_bytes())
                    .map_err(|e| bad(format!("cannot build the BPE: {}", one_line(e))))?;
                let entries = v
                    .tokens
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let kind = match types.get(i) {
                            Some(3) => PieceKind::Control,
                            Some(2) => PieceKind::Unknown,
                            _ => PieceKind::Text,
                        };
                        (t.clone(), kind)
                    })
                    .collect();
                let eos = eos.ok_or_else(|| bad("has no tokenizer.ggml.eos_token_id".into()))?;
                Ok(Tokenizer {
                    encoder: Encoder::hf(tk),
                    vocab: Vocab::with_decoding(
                        entries,
                        bos.unwrap_or(eos),
                        eos,
                        Decoding::ByteLevel,
                    ),
                    source: origin.to_path_buf(),
                })
            }
            other => Err(bad(format!(
                "unsupported tokenizer.ggml.model {other:?} (supported: llama, gpt2)"
            ))),
        }
    }

    /// Token ids of `text`, with BOS first when `add_bos`. Never adds EOS. Special-token text
    /// (`<s>`, `<|im_end|>`) is plain text here; see [`Tokenizer::encode_special`].
    pub fn encode(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos {
            ids.push(self.vocab.bos);
        }
        match &self.encoder {
            Encoder::Sp(bpe) => ids.extend(bpe.encode(text)),
            Encoder::Hf { plain, .. } => hf_encode(plain, text, &mut ids)?,
        }
        Ok(ids)
    }

    /// Like [`Tokenizer::encode`], but the text of a control token (`<s>`, `<|im_end|>`,
    /// `<unk>`) in `text` becomes that token, as transformers' `tokenizer(text)` and
    /// `apply_chat_template(tokenize=True)` do. Pieces between special tokens are encoded on
    /// their own; with a SentencePiece vocabulary only a piece at the very start of the text gets
    /// the dummy prefix (`tokenizers`' Metaspace with `prepend_scheme: first`).
    pub fn encode_special(&self, text: &str, add_bos: bool) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos {
            ids.push(self.vocab.bos);
        }
        match &self.encoder {
            Encoder::Hf { plain, special } => {
                let tk = special.get_or_init(|| {
                    let mut tk = plain.clone();
                    tk.set_encode_special_tokens(false);
                    tk
                });
                hf_encode(tk, text, &mut ids)?;
            }
            Encoder::Sp(bpe) => {
                let specials = self.vocab.specials();
                let mut pos = 0;
                while pos < text.len() {
                    let next = next_special(&text[pos..], &specials);
                    let end = next.map_or(text.len(), |(at, _, _)| pos + at);
                    if end > pos {
                        ids.extend(bpe.encode_with_prefix(&text[pos..end], pos == 0));
                    }
                    match next {
                        Some((_, len, id)) => {
                            ids.push(id);
                            pos = end + len;
                        }
                        None => pos = end,
                    }
                }
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
        self.vocab.push_lossy(&bytes, true, &mut out);
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

    /// The raw piece of `id` (`▁Hello`, `<0x0A>`, `<s>`, byte-level `Ġhello`), `None` if out of
    /// range.
    pub fn piece(&self, id: u32) -> Option<&str> {
        self.vocab.piece(id)
    }

    /// The id of the piece spelled exactly `piece` (the lowest if several are), if any.
    pub fn token_id(&self, piece: &str) -> Option<u32> {
        (0..self.vocab.len() as u32).find(|&id| self.vocab.piece(id) == Some(piece))
    }

    /// Whether `id` is a control token (`<s>`, `</s>`, `<|im_end|>`): one that decodes to no text.
    pub fn is_control(&self, id: u32) -> bool {
        (id as usize) < self.vocab.len() && self.vocab.is_control(id)
    }

    /// Whether pieces are byte-level BPE (GPT-2's alphabet) rather than SentencePiece.
    pub fn is_byte_level(&self) -> bool {
        self.vocab.decoding() == Decoding::ByteLevel
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

fn hf_encode(tk: &tokenizers::Tokenizer, text: &str, ids: &mut Vec<u32>) -> Result<()> {
    let enc = tk
        .encode_fast(text, false)
        .map_err(|e| Error::InvalidInput(format!("cannot tokenize the text: {}", one_line(e))))?;
    ids.extend_from_slice(enc.get_ids());
    Ok(())
}

/// The first special token in `text`: `(byte offset, length, id)`; the longest one where several
/// start at the same place.
fn next_special(text: &str, specials: &[(String, u32)]) -> Option<(usize, usize, u32)> {
    specials
        .iter()
        .filter(|(s, _)| !s.is_empty())
        .filter_map(|(s, id)| text.find(s.as_str()).map(|at| (at, s.len(), *id)))
        .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)))
}
