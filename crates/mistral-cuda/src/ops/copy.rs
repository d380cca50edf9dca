use mistral_core::ops::CopyParams;
use mistral_core::Result;

use super::{elementwise_grid, want_f32};
use crate::device::{arg, Device};
use crate::kernels::ELEMENTWISE;
use crate::CudaTensor;

/// `dst[dst_offset + i] = src[src_offset + i]` for `i < len` (kernel `copy_f32`).
pub fn copy(dev: &Device, src: &CudaTensor, dst: &mut CudaTensor, p: &CopyParams) -> Result<()> {
    p.check(src, &*dst)?;
    want_f32("copy", "src", src)?;
    want_f32("copy", "dst", &*dst)?;
    if p.len == 0 {
        return Ok(());
    }
    let s = &dev.stream;
    let (ps, pd, n) = (
        src.ptr_at(s, p.src_offset),
        dst.ptr_at(s, p.dst_offset),
        p.len as u64,
    );
    // SAFETY: copy_f32(const float*, float*, u64); offsets + len are within both (checked above).
    unsafe {
        dev.launch(
            &ELEMENTWISE,
            "copy_f32",
            elementwise_grid(p.len),
            &mut [arg(&ps), arg(&pd), arg(&n)],
        )
    }
}
