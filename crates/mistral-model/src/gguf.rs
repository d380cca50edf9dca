//! Models from GGUF files (llama.cpp's format): the config from `llama.*` metadata, the weights
//! by GGUF tensor name, straight from the memory map.
//!
//! Mistral GGUFs say `llama` too: a Mistral model is a Llama model with a sliding window, read
//! from `llama.attention.sliding_window` when the file has it. The common Mistral-7B v0.1 GGUFs
//! do not, so every command takes `--sliding-window N|none` ([`crate::MistralConfig::sliding_window`]
//! is what it sets).
//!
//! llama.cpp's converter permutes the rows of `attn_q` and `attn_k` so that its interleaved RoPE
//! (pairs `2i, 2i+1`) computes what Hugging Face's `rotate_half` RoPE (pairs `i, i + d/2`) does on
//! the original rows. [`unpermute_rows`] undoes it on load, so the executor's rotate_half stays
//! the only RoPE. Rows are whole blocks in every format, so this moves bytes and never
//! dequantizes; it is the one copy the loader makes (q and k, about 9% of a 7B model).

use std::path::Path;
use std::sync::Arc;

use mistral_core::{Error, HostBytes, HostTensor, Result};
use mistral_gguf::GgufFile;

use crate::weights::Weights;
use crate::{HostWeights, MistralConfig};

/// The GGUF name of a Hugging Face tensor name of a Llama/Mistral model.
pub fn gguf_name(hf: &str) -> String {
    match hf {
        "model.embed_tokens.weight" => return "token_embd.weight".into(),
        "model.norm.weight" => return "output_norm.weight".into(),
        "lm_head.weight" => return "output.weight".into(),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.").unwrap_or(hf);
    let (layer, part) = rest.split_once('.').unwrap_or(("?", rest));
    let part = match part {
        "input_layernorm.weight" => "attn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "post_attention_layernorm.weight" => "ffn_norm.weight",
        "mlp.gate_proj.weight" => "ffn_gate.weight",
        "mlp.up_proj.weight" => "ffn_up.weight",
        "mlp.down_proj.weight" => "ffn_down.weight",
        other => other,
    };
    format!("blk.{layer}.{part}")
}

/// Reads the hyper-parameters of a `llama` GGUF into a config (`model_type` "llama").
pub fn config_from_gguf(f: &GgufFile) -> Result<MistralConfig> {
    let path = f.path();
    let bad = |msg: String| Error::model(path, msg);
    let arch = f.architecture()?;
    if arch != "llama" {
        return Err(bad(format!(
            "unsupported architecture {arch:?} (expected \"llama\"; Mistral GGUFs say llama too)"
        )));
    }
    let need = |key: &str| -> Result<usize> {
        let v = f
            .get_u64(key)?
            .ok_or_else(|| bad(format!("missing metadata key {key}")))?;
        usize::try_from(v).map_err(|_| bad(format!("{key} = {v} is out of range")))
    };
    let opt = |key: &str| -> Result<Option<usize>> {
        f.get_u64(key)?
            .map(|v| usize::try_from(v).map_err(|_| bad(format!("{key} = {v} is out of range"))))
            .transpose()
    };
    if let Some(n) = opt("llama.expert_count")?.filter(|n| *n > 0) {
        return Err(bad(format!(
            "mixture-of-experts models ({n} experts) are not supported"
        )));
    }
    if let Some(kind) = f.get_str("llama.rope.scaling.type")? {
        if kind != "none" {
            return Err(bad(format!("RoPE scaling {kind:?} is not supported")));
        }
    }
    // Llama 3.1+ files carry their RoPE scaling as a tensor, without a metadata key.
    if f.tensor("rope_freqs.weight").is_some() {
        return Err(bad(
            "RoPE frequency factors (rope_freqs.weight, Llama 3.1-style scaling) are not supported"
                .into(),
        ));
    }
    let layers = need("llama.block_count")?;
    // Every layer has nine tensors: a count past that is a corrupt file, refused before the
    // loader lists 9 x layers names.
    if layers > f.tensors().len() / 9 {
        return Err(bad(format!(
            "llama.block_count {layers} does not fit the file's {} tensors",
            f.tensors().len()
        )));
    }
    let hidden = need("llama.embedding_length")?;
    let heads = need("llama.attention.head_count")?;
    let head_dim = opt("llama.attention.key_length")?.unwrap_or(hidden / heads.max(1));
    if let Some(v) = opt("llama.attention.value_length")?.filter(|v| *v != head_dim) {
        return Err(bad(format!(
            "value length {v} differs from key length {head_dim}: not supported"
        )));
    }
    if let Some(r) = opt("llama.rope.dimension_count")?.filter(|r| *r != head_dim) {
        return Err(bad(format!(
            "RoPE on {r} of {head_dim} head dimensions (partial rotary) is not supported"
        )));
    }
    let embd = f
        .tensor("token_embd.weight")
        .ok_or_else(|| bad("missing tensor token_embd.weight".into()))?;
    // [vocab, hidden] in PyTorch order.
    let vocab = embd.shape().first().copied().unwrap_or(0);
    let eos = f.get_u64("tokenizer.ggml.eos_token_id")?;
    let cfg = MistralConfig {
        architectures: None,
        model_type: "llama".into(),
        vocab_size: vocab,
        hidden_size: hidden,
        intermediate_size: need("llama.feed_forward_length")?,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: Some(opt("llama.attention.head_count_kv")?.unwrap_or(heads)),
        head_dim: Some(head_dim),
        rms_norm_eps: f
            .get_f64("llama.attention.layer_norm_rms_epsilon")?
            .unwrap_or(1e-5),
        rope_theta: Some(f.get_f64("llama.rope.freq_base")?.unwrap_or(10000.0)),
        rope_parameters: None,
        sliding_window: opt("llama.attention.sliding_window")?,
        max_position_embeddings: opt("llama.context_length")?.unwrap_or(2048),
        tie_word_embeddings: f.tensor("output.weight").is_none(),
        hidden_act: "silu".into(),
        rope_scaling: None,
        bos_token_id: f
            .get_u64("tokenizer.ggml.bos_token_id")?
            .and_then(|v| u32::try_from(v).ok()),
        eos_token_id: eos.map(serde_json::Value::from),
    };
    cfg.validate().map_err(bad)?;
    Ok(cfg)
}

/// The row pairs of llama.cpp's `permute(w, n_head, n_head_kv)` on a `[heads * head_dim, k]`
/// weight: `(hf, gguf)` for every row, where GGUF row `h·d + 2i + s` holds Hugging Face row
/// `h·d + s·d/2 + i` (`s` ∈ {0, 1}, `i < d/2`).
fn row_pairs(heads: usize, head_dim: usize) -> impl Iterator<Item = (usize, usize)> {
    let half = head_dim / 2;
    (0..heads).flat_map(move |h| {
        (0..2).flat_map(move |s| {
            (0..half).map(move |i| (h * head_dim + s * half + i, h * head_dim + 2 * i + s))
        })
    })
}

/// Copies whole rows of `bytes` (`row_bytes` each, whole blocks in the tensor's format): row
/// `from` of the input lands at row `to` of the output, for each pair.
fn move_rows(
    bytes: &[u8],
    row_bytes: usize,
    pairs: impl Iterator<Item = (usize, usize)>,
) -> Vec<u8> {
    let mut out = vec![0u8; bytes.len()];
    for (to, from) in pairs {
        out[to * row_bytes..(to + 1) * row_bytes]
            .copy_from_slice(&bytes[from * row_bytes..(from + 1) * row_bytes]);
    }
    out
}

/// Undoes llama.cpp's `permute(w, n_head, n_head_kv)` (see [`row_pairs`]) on GGUF rows.
pub fn unpermute_rows(bytes: &[u8], heads: usize, head_dim: usize, row_bytes: usize) -> Vec<u8> {
    move_rows(bytes, row_bytes, row_pairs(heads, head_dim))
}

/// llama.cpp's `permute(w, n_head, n_head_kv)` as convert_hf_to_gguf.py applies it to q and k:
/// the inverse of [`unpermute_rows`].
pub fn permute_rows(bytes: &[u8], heads: usize, head_dim: usize, row_bytes: usize) -> Vec<u8> {
    move_rows(
        bytes,
        row_bytes,
        row_pairs(heads, head_dim).map(|(hf, gg)| (gg, hf)),
    )
}

impl HostWeights {
    /// Takes the model's tensors out of a GGUF file, checking presence, shape and that each
    /// format's block divides its rows, and undoing the q/k row permutation.
    pub fn from_gguf(cfg: &MistralConfig, f: &GgufFile) -> Result<Self> {
        let path = f.path();
        Weights::from_fn(cfg, |hf, shape| {
            let name = gguf_name(hf);
            let t = f
                .host_tensor(&name)
                .ok_or_else(|| Error::model(path, format!("missing tensor {name}")))?;
            if t.shape != shape {
                return Err(Error::model(
                    path,
                    format!(
                        "tensor {name} has shape {:?}, expected {shape:?} (PyTorch order)",
                        t.shape
                    ),
                ));
            }
            let heads = if hf.ends_with("q_proj.weight") {
                cfg.num_attention_heads
            } else if hf.ends_with("k_proj.weight") {
                cfg.n_kv_heads()
            } else {
                return Ok(t);
            };
            let k = shape[1];
            let row_bytes = t.dtype.bytes_for(k).ok_or_else(|| {
                Error::model(
                    path,
                    format!(
                        "tensor {name}: row length {k} is not whole {} blocks",
                        t.dtype
                    ),
                )
            })?;
            let rows = unpermute_rows(t.bytes.as_slice(), heads, cfg.head_dim(), row_bytes);
            Ok(HostTensor {
                bytes: HostBytes::new(Arc::new(rows)),
                ..t
            })
        })
    }

    /// Opens a GGUF file: its config and weights (still in the memory map, but for q and k).
    pub fn load_gguf(path: &Path) -> Result<(MistralConfig, Self)> {
        let f = GgufFile::open(path)?;
        let cfg = config_from_gguf(&f)?;
        let w = Self::from_gguf(&cfg, &f)?;
        Ok((cfg, w))
    }

    /// Loads a model from a Hugging Face directory or a `.gguf` file.
    pub fn load(path: &Path) -> Result<(MistralConfig, Self)> {
        if path.is_file() {
            Self::load_gguf(path)
        } else {
            Self::load_dir(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// llama.cpp's `permute` as convert_hf_to_gguf.py writes it, on row indices:
    /// `w.reshape(n_head, 2, d / 2, k).swapaxes(1, 2).reshape(w.shape)`.
    fn permute_rows(rows: &[u32], heads: usize, head_dim: usize) -> Vec<u32> {
        let half = head_dim / 2;
        let mut out = Vec::new();
        for h in 0..heads {
            for i in 0..half {
                for s in 0..2 {
                    out.push(rows[h * head_dim + s * half + i]);
                }
            }
        }
        out
    }

    #[test]
    fn unpermute_undoes_the_converters_permute() {
        let (heads, head_dim) = (3, 8);
        let rows: Vec<u32> = (0..(heads * head_dim) as u32).collect();
        let permuted = permute_rows(&rows, heads, head_dim);
        assert_ne!(permuted, rows);
        let bytes: Vec<u8> = permuted.iter().flat_map(|r| r.to_le_bytes()).collect();
        let back = unpermute_rows(&bytes, heads, head_dim, 4);
        let back: Vec<u32> = back
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, rows);
    }

    #[test]
    fn names_map_to_llama_cpp_names() {
        assert_eq!(gguf_name("model.embed_tokens.weight"), "token_embd.weight");
        assert_eq!(
            gguf_name("model.layers.12.self_attn.o_proj.weight"),
            "blk.12.attn_output.weight"
        );
        assert_eq!(
            gguf_name("model.layers.0.post_attention_layernorm.weight"),
            "blk.0.ffn_norm.weight"
        );
        assert_eq!(gguf_name("lm_head.weight"), "output.weight");
    }
}
