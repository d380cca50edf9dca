//! Flat copy of f32s into an f32, f16 or bf16 buffer (KV-cache writes), `shaders/copy.wgsl`.

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::CopyParams;
use mistral_core::{DType, Result};

use super::ELEMENTWISE_WG;
use crate::context::u32_of;
use crate::shader::Shader;
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors `Params` in `copy.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    len: u32,
    src_offset: u32,
    dst_offset: u32,
    /// 16-bit destinations: the `u32` words the range touches (one invocation each).
    words: u32,
}

/// The defines selecting `copy.wgsl`'s destination type for a cache stored in `dtype`.
fn defines(dtype: DType) -> &'static [&'static str] {
    match dtype {
        DType::F16 => &["KV_16", "KV_F16"],
        DType::BF16 => &["KV_16", "KV_BF16"],
        _ => &[],
    }
}

/// `dst[dst_offset + i] = src[src_offset + i]` for `i < len`: f32 into an f32, f16 or bf16 `dst`
/// (`p.check` verified the dtypes), rounded to nearest even.
pub fn copy(b: &WgpuBackend, src: &WgpuTensor, dst: &mut WgpuTensor, p: &CopyParams) -> Result<()> {
    p.check(src, &*dst)?;
    if p.len == 0 {
        return Ok(());
    }
    let sixteen = dst.dtype != DType::F32;
    // Words dst_offset / 2 ..= (dst_offset + len - 1) / 2 of a 16-bit destination.
    let words = (p.dst_offset + p.len - 1) / 2 + 1 - p.dst_offset / 2;
    let params = Params {
        len: u32_of("copy", "len", p.len)?,
        src_offset: u32_of("copy", "src_offset", p.src_offset)?,
        dst_offset: u32_of("copy", "dst_offset", p.dst_offset)?,
        words: u32_of("copy", "words", words)?,
    };
    let bufs = [
        (1, src.f32_buffer("copy", "src")?),
        (2, dst.buffer("copy")?),
    ];
    let invocations = if sixteen { words } else { p.len };
    let groups = b.ctx.groups_1d(invocations.div_ceil(ELEMENTWISE_WG))?;
    b.ctx.dispatch(
        Shader::Copy,
        defines(dst.dtype),
        bytemuck::bytes_of(&params),
        &bufs,
        groups,
    )
}
