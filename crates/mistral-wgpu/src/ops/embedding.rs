//! Embedding gather, `shaders/embedding.wgsl` (`shaders/embedding_quant.wgsl` for a block-quantized
//! table, dequantizing exactly as the CPU does): one dispatch per part of a row-split table.

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::check_embedding;
use mistral_core::{Error, Result};

use super::matmul::check_whole_blocks;
use super::ELEMENTWISE_WG;
use crate::context::u32_of;
use crate::shader::{weight_define, Shader};
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors the header of `Params` in `embedding.wgsl` and `embedding_quant.wgsl`; the token ids
/// follow it.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Header {
    hidden: u32,
    n_tokens: u32,
    row0: u32,
    rows: u32,
}

/// `out[t, :] = table[tokens[t], :]` widened (or dequantized) to f32. A block-quantized table needs
/// `hidden` to be a whole number of its blocks.
pub fn embedding(
    b: &WgpuBackend,
    table: &WgpuTensor,
    tokens: &[u32],
    hidden: usize,
    out: &mut WgpuTensor,
) -> Result<()> {
    const OP: &str = "embedding";
    let vocab = check_embedding(table, tokens, hidden, &*out)?;
    if table.parts.len() > 1 && table.row_len != hidden {
        return Err(Error::shape(
            OP,
            format!(
                "split table rows have {} elements, not {hidden}",
                table.row_len
            ),
        ));
    }
    let quant = table.dtype.is_quantized();
    let (shader, per_invocation) = if quant {
        check_whole_blocks(OP, "hidden", hidden, table.dtype)?;
        // Four outputs (one vec4) per invocation.
        (Shader::EmbeddingQuant, 4)
    } else {
        (Shader::Embedding, 1)
    };
    let n = tokens.len() * hidden;
    let out_buf = out.f32_buffer(OP, "out")?;
    let groups = b
        .ctx
        .groups_1d((n / per_invocation).div_ceil(ELEMENTWISE_WG))?;
    for part in &table.parts {
        // An unsplit table holds every row.
        let (row0, rows) = if table.parts.len() == 1 {
            (0, vocab)
        } else {
            (part.row0, part.rows)
        };
        if quant {
            // The quantized shader addresses a part's bytes with u32 offsets.
            u32_of(OP, "table part bytes", part.bytes as usize)?;
        }
        let header = Header {
            hidden: u32_of(OP, "hidden", hidden)?,
            n_tokens: u32_of(OP, "tokens", tokens.len())?,
            row0: u32_of(OP, "row", row0)?,
            rows: u32_of(OP, "rows", rows)?,
        };
        let mut params = bytemuck::bytes_of(&header).to_vec();
        params.extend_from_slice(bytemuck::cast_slice(tokens));
        b.ctx.dispatch(
            shader,
            &[weight_define(table.dtype)],
            &params,
            &[(1, &part.buffer), (2, out_buf)],
            groups,
        )?;
    }
    Ok(())
}
