//! Flat f32 copy (KV-cache writes), `shaders/copy.wgsl`.

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::CopyParams;
use mistral_core::Result;

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
    _pad: u32,
}

/// `dst[dst_offset + i] = src[src_offset + i]` for `i < len`.
pub fn copy(b: &WgpuBackend, src: &WgpuTensor, dst: &mut WgpuTensor, p: &CopyParams) -> Result<()> {
    p.check(src, &*dst)?;
    let params = Params {
        len: u32_of("copy", "len", p.len)?,
        src_offset: u32_of("copy", "src_offset", p.src_offset)?,
        dst_offset: u32_of("copy", "dst_offset", p.dst_offset)?,
        _pad: 0,
    };
    let bufs = [
        (1, src.f32_buffer("copy", "src")?),
        (2, dst.f32_buffer("copy", "dst")?),
    ];
    let groups = b.ctx.groups_1d(p.len.div_ceil(ELEMENTWISE_WG))?;
    b.ctx.dispatch(
        Shader::Copy,
        &[],
        bytemuck::bytes_of(&params),
        &bufs,
        groups,
    )
}
