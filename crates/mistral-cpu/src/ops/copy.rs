use mistral_core::ops::CopyParams;
use mistral_core::Result;

use crate::CpuTensor;

/// `dst[dst_offset + i] = src[src_offset + i]` for `i < len`; into an f16/bf16 `dst` (a KV cache)
/// each value is rounded to nearest even, as `half`'s `from_f32` and CUDA's `cvt.rn` do.
pub fn copy(src: &CpuTensor, dst: &mut CpuTensor, p: &CopyParams) -> Result<()> {
    p.check(src, &*dst)?;
    let s = &src.f32s("copy", p.src_offset + p.len)?[p.src_offset..p.src_offset + p.len];
    if let CpuTensor::Half { dtype, bytes } = dst {
        // Two bytes an element (`p.check` verified the length).
        bytes[2 * p.dst_offset..2 * (p.dst_offset + p.len)].copy_from_slice(&dtype.encode(s));
        return Ok(());
    }
    dst.f32_mut("copy", p.dst_offset + p.len)?[p.dst_offset..p.dst_offset + p.len]
        .copy_from_slice(s);
    Ok(())
}
