//! Residual add, `shaders/add.wgsl`.

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::check_elementwise;
use mistral_core::Result;

use super::ELEMENTWISE_WG;
use crate::context::u32_of;
use crate::shader::Shader;
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors `Params` in `add.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    len: u32,
    _pad: [u32; 3],
}

/// `x[i] += y[i]` for `i < len`.
pub fn add(b: &WgpuBackend, x: &mut WgpuTensor, y: &WgpuTensor, len: usize) -> Result<()> {
    check_elementwise("add", &[("x", &*x), ("y", y)], len)?;
    let p = Params {
        len: u32_of("add", "len", len)?,
        _pad: [0; 3],
    };
    let (xb, yb) = (x.f32_buffer("add", "x")?, y.f32_buffer("add", "y")?);
    let groups = b.ctx.groups_1d(len.div_ceil(ELEMENTWISE_WG))?;
    b.ctx.dispatch(
        Shader::Add,
        &[],
        bytemuck::bytes_of(&p),
        &[(1, xb), (2, yb)],
        groups,
    )
}
