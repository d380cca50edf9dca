use mistral_core::ops::CopyParams;
use mistral_core::Result;

use crate::CpuTensor;

/// `dst[dst_offset + i] = src[src_offset + i]` for `i < len`.
pub fn copy(src: &CpuTensor, dst: &mut CpuTensor, p: &CopyParams) -> Result<()> {
    p.check(src, &*dst)?;
    let s = &src.f32s("copy", p.src_offset + p.len)?[p.src_offset..p.src_offset + p.len];
    dst.f32_mut("copy", p.dst_offset + p.len)?[p.dst_offset..p.dst_offset + p.len]
        .copy_from_slice(s);
    Ok(())
}
