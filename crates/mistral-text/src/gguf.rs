//! [`GgufVocab`]: the tokenizer metadata of a GGUF file, under llama.cpp's key names
//! (`tokenizer.ggml.*`, `tokenizer.chat_template`), as plain data.
//!
//! [`crate::Tokenizer::from_gguf_vocab`] and [`crate::TextModel::from_gguf_vocab`] take this
//! struct, so tests can build one by hand; [`GgufVocab::from_gguf`] reads it from a
//! [`mistral_gguf::GgufFile`].

use mistral_core::{Error, Result};
use mistral_gguf::GgufFile;

/// Tokenizer metadata of a GGUF file. Every field but `model` and `tokens` is optional there.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model`: `llama` (SentencePiece) or `gpt2` (byte-level BPE).
    pub model: String,
    /// `tokenizer.ggml.pre`: the pre-tokenizer of a byte-level BPE (`smollm`, `llama-bpe`, ...).
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`, in id order.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.scores` (SentencePiece merge priorities).
    pub scores: Option<Vec<f32>>,
    /// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    pub token_types: Option<Vec<i64>>,
    /// `tokenizer.ggml.merges`: `"a b"`, best first.
    pub merges: Option<Vec<String>>,
    pub bos_id: Option<u32>,
    pub eos_id: Option<u32>,
    /// `tokenizer.ggml.eot_token_id`: end of turn, when it differs from EOS.
    pub eot_id: Option<u32>,
    pub unk_id: Option<u32>,
    pub pad_id: Option<u32>,
    pub add_bos: Option<bool>,
    pub add_eos: Option<bool>,
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece's dummy prefix; llama.cpp's default: true).
    pub add_space_prefix: Option<bool>,
    /// `tokenizer.chat_template` (Jinja).
    pub chat_template: Option<String>,
}

impl GgufVocab {
    /// Reads the tokenizer keys of `f`. Missing `tokenizer.ggml.model` or `tokens` is an error;
    /// a key of the wrong type is an error naming it.
    pub fn from_gguf(f: &GgufFile) -> Result<Self> {
        let id = |key: &str| -> Result<Option<u32>> {
            match f.get_u64(key)? {
                Some(v) => u32::try_from(v)
                    .map(Some)
                    .map_err(|_| Error::model(f.path(), format!("{key} is {v}, not a token id"))),
                None => Ok(None),
            }
        };
        let strings = |key: &str| -> Result<Option<Vec<String>>> {
            Ok(f.get_str_array(key)?
                .map(|v| v.into_iter().map(str::to_owned).collect()))
        };
        let model = f
            .get_str("tokenizer.ggml.model")?
            .ok_or_else(|| {
                Error::model(
                    f.path(),
                    "has no tokenizer (metadata key tokenizer.ggml.model is missing)",
                )
            })?
            .to_owned();
        let tokens = strings("tokenizer.ggml.tokens")?.ok_or_else(|| {
            Error::model(f.path(), "metadata key tokenizer.ggml.tokens is missing")
        })?;
        Ok(GgufVocab {
            model,
            pre: f.get_str("tokenizer.ggml.pre")?.map(str::to_owned),
            tokens,
            scores: f.get_f32_array("tokenizer.ggml.scores")?,
            token_types: f.get_i64_array("tokenizer.ggml.token_type")?,
            merges: strings("tokenizer.ggml.merges")?,
            bos_id: id("tokenizer.ggml.bos_token_id")?,
            eos_id: id("tokenizer.ggml.eos_token_id")?,
            eot_id: id("tokenizer.ggml.eot_token_id")?,
            unk_id: id("tokenizer.ggml.unknown_token_id")?,
            pad_id: id("tokenizer.ggml.padding_token_id")?,
            add_bos: f.get_bool("tokenizer.ggml.add_bos_token")?,
            add_eos: f.get_bool("tokenizer.ggml.add_eos_token")?,
            add_space_prefix: f.get_bool("tokenizer.ggml.add_space_prefix")?,
            chat_template: f.get_str("tokenizer.chat_template")?.map(str::to_owned),
        })
    }

    /// The text of token `id`, if any.
    pub(crate) fn token(&self, id: Option<u32>) -> Option<&str> {
        self.tokens.get(id? as usize).map(String::as_str)
    }
}
