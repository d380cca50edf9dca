//! Quantize-on-load (`--quant`): every tensor converted in memory, chunks of whole rows in
//! parallel.

use mistral_core::{DType, Error, HostBytes, HostTensor, Result};
use rayon::prelude::*;

use super::Scheme;
use crate::weights::{Layer, Weights};
use crate::{HostWeights, MistralConfig};

/// Elements converted per task: whole rows, about this many.
const CHUNK_ELEMS: usize = 1 << 18;

/// Converts `t` (rows of its last dimension) to `dtype`: the same bytes when it already is,
/// otherwise each chunk of rows decoded to f32 and encoded, in parallel.
pub(super) fn convert(t: &HostTensor, dtype: DType, name: &str) -> Result<Vec<u8>> {
    let ncols = t.shape.last().copied().unwrap_or(1).max(1);
    let rows = t.numel() / ncols;
    let bad = |what: DType| {
        Error::InvalidInput(format!(
            "tensor {name}: rows of {ncols} are not whole {what} blocks"
        ))
    };
    let in_row = t.dtype.bytes_for(ncols).ok_or_else(|| bad(t.dtype))?;
    let out_row = dtype.bytes_for(ncols).ok_or_else(|| bad(dtype))?;
    if t.dtype == dtype {
        return Ok(t.bytes.as_slice().to_vec());
    }
    let src = t.bytes.as_slice();
    if src.len() != in_row * rows {
        return Err(Error::InvalidInput(format!(
            "tensor {name}: {} bytes for {rows} rows of {ncols} {}",
            src.len(),
            t.dtype
        )));
    }
    let chunk_rows = (CHUNK_ELEMS / ncols).max(1);
    let mut out = vec![0u8; out_row * rows];
    out.par_chunks_mut(out_row * chunk_rows)
        .zip(src.par_chunks(in_row * chunk_rows))
        .for_each(|(o, i)| {
            let mut x = vec![0f32; i.len() / in_row * ncols];
            t.dtype.decode_into(i, &mut x);
            o.copy_from_slice(&dtype.encode(&x));
        });
    Ok(out)
}

/// Quantizes weights in memory (`--quant`): every tensor as [`Scheme::tensor_dtype`] says, the
/// same bytes [`write_quantized_gguf`] writes (rows in Hugging Face order). A tied lm_head shares
/// the embedding's bytes.
pub fn quantize_weights(
    host: &HostWeights,
    cfg: &MistralConfig,
    scheme: &Scheme,
) -> Result<HostWeights> {
    let q = |hf: String, t: &HostTensor| -> Result<HostTensor> {
        let dtype = scheme.tensor_dtype(&hf, &t.shape, cfg).dtype;
        Ok(HostTensor {
            dtype,
            shape: t.shape.clone(),
            bytes: HostBytes::from_vec(convert(t, dtype, &hf)?),
        })
    };
    let embed = q("model.embed_tokens.weight".into(), &host.embed)?;
    let mut layers = Vec::with_capacity(host.layers.len());
    for (i, l) in host.layers.iter().enumerate() {
        let n = |part: &str| format!("model.layers.{i}.{part}.weight");
        layers.push(Layer {
            attn_norm: q(n("input_layernorm"), &l.attn_norm)?,
            wq: q(n("self_attn.q_proj"), &l.wq)?,
            wk: q(n("self_attn.k_proj"), &l.wk)?,
            wv: q(n("self_attn.v_proj"), &l.wv)?,
            wo: q(n("self_attn.o_proj"), &l.wo)?,
            ffn_norm: q(n("post_attention_layernorm"), &l.ffn_norm)?,
            w_gate: q(n("mlp.gate_proj"), &l.w_gate)?,
            w_up: q(n("mlp.up_proj"), &l.w_up)?,
            w_down: q(n("mlp.down_proj"), &l.w_down)?,
        });
    }
    let norm = q("model.norm.weight".into(), &host.norm)?;
    let lm_head = if cfg.tie_word_embeddings {
        embed.clone()
    } else {
        q("lm_head.weight".into(), &host.lm_head)?
    };
    Ok(Weights {
        embed,
        layers,
        norm,
        lm_head,
    })
}
