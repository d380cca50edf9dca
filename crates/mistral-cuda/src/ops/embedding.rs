use cudarc::driver::DeviceRepr;
use mistral_core::ops::check_embedding;
use mistral_core::{DType, Result, TensorInfo};

use super::{u32_of, want_f32};
use crate::device::{arg, Device, Grid};
use crate::kernels::EMBEDDING;
use crate::planar::{check_row, entry};
use crate::CudaTensor;

/// Token ids per launch; they travel as a kernel parameter (`TokenChunk` in embedding.cu).
const MAX_TOKENS: usize = 64;

#[repr(C)]
#[derive(Clone, Copy)]
struct TokenChunk {
    ids: [u32; MAX_TOKENS],
}

// SAFETY: plain-old-data with the layout of `struct TokenChunk { u32 ids[64]; }`.
unsafe impl DeviceRepr for TokenChunk {}

/// `out[t, :] = table[tokens[t], :]` widened to f32 (kernels `embedding_{dtype}`); block formats
/// are dequantized exactly as the CPU does.
pub fn embedding(
    dev: &Device,
    table: &CudaTensor,
    tokens: &[u32],
    hidden: usize,
    out: &mut CudaTensor,
) -> Result<()> {
    let vocab = check_embedding(table, tokens, hidden, &*out)?;
    check_row("embedding", "hidden", table.dtype(), hidden)?;
    want_f32("embedding", "out", &*out)?;
    let name = entry!("embedding_", table.dtype());
    let h = u32_of("embedding", "hidden", hidden)?;
    let vocab = u32_of("embedding", "vocab", vocab)?;
    if tokens.len() == 1 {
        // A decode step begins: record it for graph replay (graph.rs).
        dev.begin_step()?;
    }
    let s = &dev.stream;
    let pt = table.ptr(s);
    for (c, chunk) in tokens.chunks(MAX_TOKENS).enumerate() {
        let mut tok = TokenChunk {
            ids: [0; MAX_TOKENS],
        };
        // In a recorded decode step the token is staged (read from device memory: graph.rs).
        let ids = match dev.stage(chunk) {
            Some(at) => at,
            None => {
                tok.ids[..chunk.len()].copy_from_slice(chunk);
                0u64
            }
        };
        let po = out.ptr_at(s, c * MAX_TOKENS * hidden);
        let grid = Grid {
            grid: (hidden.div_ceil(256) as u32, chunk.len() as u32, 1),
            block: 256,
            shared: 0,
        };
        // SAFETY: embedding_*(const W*, TokenChunk, float*, u32 hidden, const u32*, u32 vocab);
        // the table is [vocab, hidden] (planar blocks for a block format, hidden % B == 0);
        // ids < vocab (checked above), in `tok` or, when staged, at `ids` (written before the
        // recorded step runs); out holds this chunk's rows (checked above); only `chunk.len()`
        // rows launched.
        unsafe {
            dev.launch(
                &EMBEDDING,
                name,
                grid,
                &mut [
                    arg(&pt),
                    arg(&tok),
                    arg(&po),
                    arg(&h),
                    arg(&ids),
                    arg(&vocab),
                ],
            )?
        };
    }
    Ok(())
}
