//! Quantization: which format each tensor gets (llama.cpp's mixture rules), quantize-on-load in
//! memory, and `mistral quantize`'s GGUF writer.
//!
//! A [`Scheme`] is a llama.cpp file type (`LLAMA_FTYPE_MOSTLY_*`). [`Scheme::tensor_dtype`]
//! reimplements llama.cpp's `llama_tensor_get_type` (src/llama-quant.cpp) for dense Llama models
//! without an importance matrix, so a file written here has the tensor types `llama-quantize`
//! gives the same model:
//! - 1-D tensors (the norms) stay f32;
//! - `output.weight`, and `token_embd.weight` when the embeddings are tied, get Q6_K (Q8_0 for
//!   q8_0, or when the row length is not a multiple of the default type's block);
//! - Q4_K_M and Q5_K_M give `attn_v` and `ffn_down` Q6_K on the layers `use_more_bits` picks
//!   (the first and last eighth, and every third layer in between);
//! - `q4_k` is llama.cpp's Q4_K_S (`attn_v` of the first 4 layers and `ffn_down` of the first
//!   eighth at Q5_K); `q5_k` is Q5_K_S, `q6_k` is Q6_K. (llama-quantize's `Q4_K` alias means
//!   Q4_K_M; here `q4_k_m` says so.)
//! - A row length that is not a multiple of the chosen type's block falls back as llama.cpp's
//!   `tensor_type_fallback` does: Q4_K → Q5_0, Q6_K → Q8_0, Q5_K → Q5_0 (llama.cpp picks Q5_1,
//!   which this workspace does not have), and f16 when even 32 does not divide the row.
//!
//! Quantization is row-local (blocks never straddle rows), so tensors are converted in chunks of
//! whole rows in parallel, and a row permutation commutes with it: the GGUF writer permutes the
//! q and k rows of a Hugging Face source as `convert_hf_to_gguf.py` does after quantizing, and
//! keeps a GGUF source's rows as they are.

//!
//! Files: this one holds the rules; [`memory`] quantizes in memory (`--quant`); [`write`] writes a
//! GGUF file (`mistral quantize`).

mod memory;
mod write;

pub use crate::gguf::permute_rows;
pub use memory::quantize_weights;
pub use write::{write_quantized_gguf, QuantizeReport, TensorReport};

use mistral_core::{DType, Error, Result};

use crate::MistralConfig;

/// The names [`Scheme::parse`] accepts.
pub const SCHEME_NAMES: &str = "q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m";

/// A quantization scheme: one of llama.cpp's file types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// llama.cpp's file type whose default is this block format (Q4_K → Q4_K_S, Q5_K → Q5_K_S):
    /// every matrix in it, but for the output rules in the module docs.
    Uniform(DType),
    /// `Q4_K_M`: Q4_K, with Q6_K for the output and for half of `attn_v` and `ffn_down`.
    Q4KM,
    /// `Q5_K_M`: Q5_K, with Q6_K for the output and for half of `attn_v` and `ffn_down`.
    Q5KM,
}

/// The type a scheme chose for one tensor, and the one its rule wanted before the row length
/// forced a fallback (equal when there was none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorChoice {
    pub dtype: DType,
    pub wanted: DType,
}

impl TensorChoice {
    pub fn fell_back(&self) -> bool {
        self.dtype != self.wanted
    }
}

/// What a tensor is, for the mixture rules (llama.cpp's `tensor_category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    TokenEmbd,
    Output,
    AttnV,
    FfnDown,
    Other,
}

fn role(hf: &str) -> (Role, Option<usize>) {
    let layer = hf
        .strip_prefix("model.layers.")
        .and_then(|r| r.split('.').next())
        .and_then(|l| l.parse().ok());
    let role = match hf {
        "model.embed_tokens.weight" => Role::TokenEmbd,
        "lm_head.weight" => Role::Output,
        _ if hf.ends_with("self_attn.v_proj.weight") => Role::AttnV,
        _ if hf.ends_with("mlp.down_proj.weight") => Role::FfnDown,
        _ => Role::Other,
    };
    (role, layer)
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers, and every third between.
fn use_more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// llama.cpp's `tensor_type_fallback` for a row of `ncols` elements (Q5_K → Q5_0: see the module
/// docs), with f16 where no block format fits.
fn fallback(want: DType, ncols: usize) -> DType {
    if ncols.is_multiple_of(want.block_elems()) {
        return want;
    }
    let next = match want {
        DType::Q4K | DType::Q5K => DType::Q5_0,
        DType::Q6K => DType::Q8_0,
        _ => DType::F16,
    };
    if ncols.is_multiple_of(next.block_elems()) {
        next
    } else {
        DType::F16
    }
}

impl Scheme {
    /// Parses `q4_k_m` and the other names of [`SCHEME_NAMES`] (case-insensitive; `q4_k_s` and
    /// `q5_k_s` name `q4_k` and `q5_k`).
    pub fn parse(s: &str) -> Result<Scheme> {
        let scheme = match s.to_ascii_lowercase().as_str() {
            "q4_k_m" => Scheme::Q4KM,
            "q5_k_m" => Scheme::Q5KM,
            "q4_k_s" => Scheme::Uniform(DType::Q4K),
            "q5_k_s" => Scheme::Uniform(DType::Q5K),
            other => match DType::parse(other) {
                Some(d) if d.is_quantized() => Scheme::Uniform(d),
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "unknown quantization {s:?}: expected one of {SCHEME_NAMES}"
                    )))
                }
            },
        };
        Ok(scheme)
    }

    /// The name [`Scheme::parse`] reads back.
    pub fn name(&self) -> String {
        match self {
            Scheme::Uniform(d) => d.to_string(),
            Scheme::Q4KM => "q4_k_m".into(),
            Scheme::Q5KM => "q5_k_m".into(),
        }
    }

    /// The type of every tensor no rule singles out.
    pub fn default_dtype(&self) -> DType {
        match self {
            Scheme::Uniform(d) => *d,
            Scheme::Q4KM => DType::Q4K,
            Scheme::Q5KM => DType::Q5K,
        }
    }

    /// llama.cpp's `enum llama_ftype` number, for `general.file_type`.
    pub fn file_type(&self) -> u32 {
        match self {
            Scheme::Uniform(DType::Q4_0) => 2,
            Scheme::Uniform(DType::Q4_1) => 3,
            Scheme::Uniform(DType::Q8_0) => 7,
            Scheme::Uniform(DType::Q5_0) => 8,
            Scheme::Uniform(DType::Q4K) => 14, // Q4_K_S
            Scheme::Q4KM => 15,
            Scheme::Uniform(DType::Q5K) => 16, // Q5_K_S
            Scheme::Q5KM => 17,
            Scheme::Uniform(DType::Q6K) => 18,
            Scheme::Uniform(DType::F16) => 1,
            Scheme::Uniform(DType::BF16) => 32,
            Scheme::Uniform(DType::F32) => 0,
        }
    }

    /// The type of tensor `hf` (Hugging Face name, shape in PyTorch order) of a model `cfg`.
    pub fn tensor_dtype(&self, hf: &str, shape: &[usize], cfg: &MistralConfig) -> TensorChoice {
        if shape.len() < 2 {
            let f32 = DType::F32;
            return TensorChoice {
                dtype: f32,
                wanted: f32,
            };
        }
        let ncols = shape[shape.len() - 1];
        let default = self.default_dtype();
        let (role, layer) = role(hf);
        let n_layers = cfg.num_hidden_layers;
        let i = layer.unwrap_or(0);
        let wanted = match role {
            Role::Output | Role::TokenEmbd if role == Role::Output || cfg.tie_word_embeddings => {
                if !ncols.is_multiple_of(default.block_elems()) || default == DType::Q8_0 {
                    DType::Q8_0
                } else {
                    DType::Q6K
                }
            }
            Role::AttnV => match self {
                Scheme::Q4KM | Scheme::Q5KM if use_more_bits(i, n_layers) => DType::Q6K,
                Scheme::Uniform(DType::Q4K) if i < 4 => DType::Q5K,
                _ => default,
            },
            Role::FfnDown => match self {
                Scheme::Q4KM | Scheme::Q5KM if use_more_bits(i, n_layers) => DType::Q6K,
                Scheme::Uniform(DType::Q4K) if i < n_layers / 8 => DType::Q5K,
                _ => default,
            },
            _ => default,
        };
        TensorChoice {
            dtype: fallback(wanted, ncols),
            wanted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::{permute_rows, unpermute_rows};

    #[test]
    fn permute_is_the_inverse_of_unpermute() {
        let (heads, head_dim, row) = (3, 8, 2);
        let bytes: Vec<u8> = (0..(heads * head_dim * row) as u8).collect();
        let p = permute_rows(&bytes, heads, head_dim, row);
        assert_ne!(p, bytes);
        assert_eq!(unpermute_rows(&p, heads, head_dim, row), bytes);
    }

    #[test]
    fn use_more_bits_matches_llama_cpp_for_32_layers() {
        // Q4_K_M Mistral-7B: attn_v/ffn_down at Q6_K on layers 0-3, 6, 9, ..., 27, 28-31.
        let more: Vec<usize> = (0..32).filter(|&i| use_more_bits(i, 32)).collect();
        assert_eq!(
            more,
            [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
        );
    }

    #[test]
    fn fallbacks_follow_llama_cpp() {
        assert_eq!(fallback(DType::Q4K, 576), DType::Q5_0);
        assert_eq!(fallback(DType::Q6K, 576), DType::Q8_0);
        assert_eq!(fallback(DType::Q5K, 576), DType::Q5_0);
        assert_eq!(fallback(DType::Q4K, 512), DType::Q4K);
        assert_eq!(fallback(DType::Q4K, 100), DType::F16);
        assert_eq!(fallback(DType::Q4_0, 100), DType::F16);
    }
}
