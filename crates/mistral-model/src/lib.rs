//! The Mistral model, written once over [`mistral_core::Backend`].
//!
//! - [`config`]: `config.json` (Hugging Face field names) and its validation.
//! - [`safetensors`]: memory-mapped, validated safetensors files (single or sharded with an index).
//! - [`weights`]: the tensors a Mistral checkpoint must contain, with their shapes, and their upload.
//! - [`gguf`]: the config and weights of a llama.cpp GGUF file (Llama and Mistral models).
//! - [`model`]: the executor: `forward(tokens, start_pos)` for prefill and decode, with a rolling KV cache.
//! - [`kv_cache`]: the rolling KV cache in f32, f16 or bf16, and its size in bytes.
//! - [`memory`]: the bytes a model will hold on its backend (weights, KV cache, activations).
//! - [`capture`]: named intermediates (`layer.3.attn_out`) for locating divergences between backends.
//! - [`generate`]: the decode loop with a sampling hook.
//! - [`random`]: writes a random-weight Hugging Face directory of any shape, streaming (the 7B one too).

pub mod capture;
pub mod config;
pub mod generate;
pub mod gguf;
pub mod kv_cache;
pub mod memory;
pub mod model;
pub mod quantize;
pub mod random;
pub mod safetensors;
pub mod weights;

pub use config::MistralConfig;
pub use kv_cache::KvCache;
pub use memory::MemoryPlan;
pub use model::{Logits, Model, ModelOptions};
pub use weights::HostWeights;
