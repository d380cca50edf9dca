//! Text ↔ token ids for Mistral-7B-Instruct-v0.1, its chat template, and sampling.
//!
//! - [`Tokenizer`]: loads `tokenizer.json` (via the `tokenizers` crate) or `tokenizer.model`
//!   (SentencePiece, parsed and run by this crate); both give the same ids as the real
//!   SentencePiece library. [`Tokenizer::embedded`] needs no file at all.
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

pub mod chat;
mod proto;
pub mod sampling;
mod sentencepiece;
mod stop;
mod stream;
mod tokenizer;
mod vocab;

pub use stream::StreamDecoder;
pub use tokenizer::Tokenizer;
