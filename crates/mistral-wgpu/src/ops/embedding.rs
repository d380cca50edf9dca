//! Embedding gather, `shaders/embedding.wgsl`: one dispatch per part of a row-split table.

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::check_embedding;
use mistral_core::{Error, Result};

use super::ELEMENTWISE_WG;
use crate::context::u32_of;
use crate::shader::{weight_define, Shader};
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors the header of `Params` in `embedding.wgsl`; the token ids follow it.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Header {
    hidden: u32,
    n_tokens: u32,
    row0: u32,
    rows: u32,
}

/// `out[t, :] = table[tokens[t], :]` widened to f32.
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
    let n = tokens.len() * hidden;
    let out_buf = out.f32_buffer(OP, "out")?;
    let groups = b.ctx.groups_1d(n.div_ceil(ELEMENTWISE_WG))?;
    for part in &table.parts {
        // An unsplit table holds every row.
        let (row0, rows) = if table.parts.len() == 1 {
            (0, vocab)
        } else {
            (part.row0, part.rows)
        };
        let header = Header {
            hidden: u32_of(OP, "hidden", hidden)?,
            n_tokens: u32_of(OP, "tokens", tokens.len())?,
            row0: u32_of(OP, "row", row0)?,
            rows: u32_of(OP, "rows", rows)?,
        };
        let mut params = bytemuck::bytes_of(&header).to_vec();
        params.extend_from_slice(bytemuck::cast_slice(tokens));
        b.ctx.dispatch(
            Shader::Embedding,
            &[weight_define(table.dtype)],
            &params,
            &[(1, &part.buffer), (2, out_buf)],
            groups,
        )?;
    }
    Ok(())
}
