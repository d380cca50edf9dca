use mistral_core::ops::RopeParams;
use mistral_core::Result;

use super::{u32_of, want_f32};
use crate::device::{arg, Device, Grid};
use crate::kernels::ROPE;
use crate::CudaTensor;

/// Hugging Face `rotate_half` RoPE in place (kernel `rope_f32`). `inv_freq` is the device copy of
/// [`RopeParams::inv_freq`] (computed on the host exactly as the CPU reference does).
pub fn rope(dev: &Device, x: &mut CudaTensor, inv_freq: u64, p: &RopeParams) -> Result<()> {
    p.check(&*x)?;
    want_f32("rope", "x", &*x)?;
    if p.rows == 0 || p.heads == 0 || p.head_dim == 0 {
        return Ok(());
    }
    u32_of("rope", "last position", p.start_pos + p.rows)?;
    let (heads, d, start) = (
        u32_of("rope", "heads", p.heads)?,
        u32_of("rope", "head_dim", p.head_dim)?,
        p.start_pos as u32,
    );
    let px = x.ptr(&dev.stream);
    // In a recorded decode step the position is staged (read from device memory: graph.rs).
    let (start, pos_ptr) = match dev.stage(&[start]) {
        Some(at) => (0u32, at),
        None => (start, 0u64),
    };
    // SAFETY: rope_f32(float*, const float*, u32, u32, u32, const u32*); x holds
    // rows·heads·head_dim f32s (checked above), inv_freq holds head_dim / 2, pos_ptr is 0 or a
    // staged u32 written before the recorded step runs; one block per row.
    unsafe {
        dev.launch(
            &ROPE,
            "rope_f32",
            Grid::x(p.rows, 256),
            &mut [
                arg(&px),
                arg(&inv_freq),
                arg(&heads),
                arg(&d),
                arg(&start),
                arg(&pos_ptr),
            ],
        )
    }
}
