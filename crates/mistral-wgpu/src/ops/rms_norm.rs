//! RMSNorm and the fused residual add + RMSNorm, `shaders/rms_norm.wgsl` (one workgroup per row).

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::RmsNormParams;
use mistral_core::Result;

use crate::context::u32_of;
use crate::shader::{weight_define, Shader};
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors `Params` in `rms_norm.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    rows: u32,
    dim: u32,
    eps: f32,
    _pad: u32,
}

/// `out = rms_norm(x) * w`; with `delta`, first `x += delta` (x is then the residual, written back).
/// Shapes were checked by the caller.
pub fn rms_norm(
    b: &WgpuBackend,
    x: &WgpuTensor,
    delta: Option<&WgpuTensor>,
    w: &WgpuTensor,
    out: &mut WgpuTensor,
    p: &RmsNormParams,
) -> Result<()> {
    const OP: &str = "rms_norm";
    let params = Params {
        rows: u32_of(OP, "rows", p.rows)?,
        dim: u32_of(OP, "dim", p.dim)?,
        eps: p.eps,
        _pad: 0,
    };
    let mut defines = vec![weight_define(w.dtype)];
    let mut bufs = vec![
        (1, x.f32_buffer(OP, "x")?),
        (3, w.buffer(OP)?),
        (4, out.f32_buffer(OP, "out")?),
    ];
    if let Some(d) = delta {
        defines.push("ADD");
        bufs.push((2, d.f32_buffer(OP, "delta")?));
    }
    if b.subgroups {
        defines.push("SUBGROUPS");
    }
    let groups = b.ctx.groups_1d(p.rows)?;
    b.ctx.dispatch(
        Shader::RmsNorm,
        &defines,
        bytemuck::bytes_of(&params),
        &bufs,
        groups,
    )
}
