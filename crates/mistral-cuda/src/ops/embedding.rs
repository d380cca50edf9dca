use cudarc::driver::DeviceRepr;
use mistral_core::ops::check_embedding;
use mistral_core::{DType, Result, TensorInfo};

use super::{u32_of, want_f32};
use crate::device::{arg, Device, Grid};
use crate::kernels::EMBEDDING;
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

/// `out[t, :] = table[tokens[t], :]` widened to f32 (kernels `embedding_{dtype}`).
pub fn embedding(
    dev: &Device,
    table: &CudaTensor,
    tokens: &[u32],
    hidden: usize,
    out: &mut CudaTensor,
) -> Result<()> {
    check_embedding(table, tokens, hidden, &*out)?;
    want_f32("embedding", "out", &*out)?;
    let entry = match table.dtype() {
        DType::F32 => "embedding_f32",
        DType::F16 => "embedding_f16",
        DType::BF16 => "embedding_bf16",
        q => unreachable!("cuda tensors are never {q}: upload refuses block formats"),
    };
    let h = u32_of("embedding", "hidden", hidden)?;
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
        // SAFETY: embedding_*(const W*, TokenChunk, float*, u32, const u32*); ids < vocab
        // (checked above), in `tok` or, when staged, at `ids` (written before the recorded step
        // runs); out holds this chunk's rows (checked above); only `chunk.len()` rows launched.
        unsafe {
            dev.launch(
                &EMBEDDING,
                entry,
                grid,
                &mut [arg(&pt), arg(&tok), arg(&po), arg(&h), arg(&ids)],
            )?
        };
    }
    Ok(())
}
