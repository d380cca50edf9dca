//! Text ↔ token ids for Mistral-7B-Instruct-v0.1 and other Llama-architecture models, chat
//! templates, and sampling.
//!
//! - [`Tokenizer`]: loads `tokenizer.json` (via the `tokenizers` crate) or `tokenizer.model`
//!   (SentencePiece, parsed and run by this crate); both give the same ids as the real
//!   SentencePiece library. [`Tokenizer::embedded`] needs no file at all. From GGUF metadata
//!   ([`GgufVocab`]) it builds SentencePiece (`llama`) or byte-level BPE (`gpt2`) vocabularies.
//! - [`TextModel`]: a model's tokenizer, chat format ([`ChatFormat`]: mistral-common's v1 or a
//!   Jinja [`ChatTemplate`] rendered as transformers does) and stop ids, from a model directory
//!   or a GGUF file.
//! - [`StreamDecoder`]: prints generated tokens as soon as they form complete characters.
//! - [`chat`]: mistral-common's tokenizer-v1 chat template (`<s>[INST] … [/INST]…</s>`), and the
//!   OpenAI-shaped JSON it is usually given in.
//! - [`sampling`]: greedy, temperature, top-k, top-p, repetition penalty with a seeded generator,
//!   and stop strings.
//!
//! ```no_run
//! use mistral_text::{chat, Tokenizer};
//! let tok = Tokenizer::from_dir(std::path::Path::new("models/mistral-7b-instruct-v0.1"))?;
//! let ids = chat::encode_chat(&tok, &[chat::Message::user("Hi")])?;
//! assert_eq!(ids, [1, 733, 16289, 28793, 15359, 733, 28748, 16289, 28793]);
//! # Ok::<(), mistral_core::Error>(())
//! ```

mod byte_level;
pub mod chat;
pub mod export;
mod gguf;
mod model;
mod proto;
pub mod sampling;
mod sentencepiece;
mod stop;
mod stream;
mod template;
mod tokenizer;
mod vocab;

pub use gguf::GgufVocab;
pub use model::{ChatFormat, TextModel};
pub use stream::StreamDecoder;
pub use template::ChatTemplate;
pub use tokenizer::Tokenizer;
