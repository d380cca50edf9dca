//! SwiGLU, `shaders/swiglu.wgsl`.

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::check_elementwise;
use mistral_core::Result;

use super::ELEMENTWISE_WG;
use crate::context::u32_of;
use crate::shader::Shader;
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors `Params` in `swiglu.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    len: u32,
    _pad: [u32; 3],
}

/// `out[i] = silu(gate[i]) * up[i]` for `i < len`.
pub fn swiglu(
    b: &WgpuBackend,
    gate: &WgpuTensor,
    up: &WgpuTensor,
    out: &mut WgpuTensor,
    len: usize,
) -> Result<()> {
    check_elementwise("swiglu", &[("gate", gate), ("up", up), ("out", &*out)], len)?;
    let p = Params {
        len: u32_of("swiglu", "len", len)?,
        _pad: [0; 3],
    };
    let bufs = [
        (1, gate.f32_buffer("swiglu", "gate")?),
        (2, up.f32_buffer("swiglu", "up")?),
        (3, out.f32_buffer("swiglu", "out")?),
    ];
    let groups = b.ctx.groups_1d(len.div_ceil(ELEMENTWISE_WG))?;
    b.ctx
        .dispatch(Shader::Swiglu, &[], bytemuck::bytes_of(&p), &bufs, groups)
}
