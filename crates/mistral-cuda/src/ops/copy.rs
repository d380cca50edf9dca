use mistral_core::ops::CopyParams;
use mistral_core::Result;

use super::{elementwise_grid, kv_entry};
use crate::device::{arg, Device};
use crate::kernels::ELEMENTWISE;
use crate::CudaTensor;

/// `dst[dst_offset + i] = src[src_offset + i]` for `i < len`: f32 into an f32, f16 or bf16 `dst`
/// (a KV cache), rounded to nearest even (kernels `copy_f32`, `copy_f16`, `copy_bf16`).
pub fn copy(dev: &Device, src: &CudaTensor, dst: &mut CudaTensor, p: &CopyParams) -> Result<()> {
    p.check(src, &*dst)?;
    let entry = kv_entry("copy", dst.dtype)?;
    if p.len == 0 {
        return Ok(());
    }
    let s = &dev.stream;
    let n = p.len as u64;
    // In a recorded decode step the offsets (the cache slot) are staged (graph.rs).
    let staged = match (u32::try_from(p.src_offset), u32::try_from(p.dst_offset)) {
        (Ok(so), Ok(d)) => dev.stage(&[so, d]),
        _ => None, // offsets past 2^32 elements stay kernel arguments
    };
    let (ps, pd, po) = match staged {
        Some(at) => (src.ptr(s), dst.ptr(s), at),
        None => (
            src.ptr_at(s, p.src_offset),
            dst.ptr_at(s, p.dst_offset),
            0u64,
        ),
    };
    // SAFETY: copy_<dst dtype>(const float*, T*, u64, const u32*) with T the element type of `dst`
    // (`entry` is chosen by its dtype, so `ptr_at` and the kernel use the same element size);
    // offsets + len are within both (checked above), applied on the host or, when staged, by the
    // kernel from `po` (two u32s written before the recorded step runs).
    unsafe {
        dev.launch(
            &ELEMENTWISE,
            entry,
            elementwise_grid(p.len),
            &mut [arg(&ps), arg(&pd), arg(&n), arg(&po)],
        )
    }
}
