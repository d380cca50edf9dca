use mistral_core::ops::RmsNormParams;
use mistral_core::{DType, Result, TensorInfo};

use super::{u32_of, want_f32};
use crate::device::{arg, Device, Grid};
use crate::kernels::RMS_NORM;
use crate::CudaTensor;

fn grid(rows: usize) -> Grid {
    Grid::x(rows, 256)
}

/// `out = rms_norm(x) * weight` per row (kernels `rms_norm_{weight dtype}`).
pub fn rms_norm(
    dev: &Device,
    x: &CudaTensor,
    w: &CudaTensor,
    out: &mut CudaTensor,
    p: &RmsNormParams,
) -> Result<()> {
    p.check(x, w, &*out)?;
    want_f32("rms_norm", "x", x)?;
    want_f32("rms_norm", "out", &*out)?;
    if p.rows == 0 || p.dim == 0 {
        return Ok(());
    }
    let entry = match w.dtype() {
        DType::F32 => "rms_norm_f32",
        DType::F16 => "rms_norm_f16",
        DType::BF16 => "rms_norm_bf16",
        q => unreachable!("cuda tensors are never {q}: upload refuses block formats"),
    };
    let s = &dev.stream;
    let (px, pw, po) = (x.ptr(s), w.ptr(s), out.ptr(s));
    let (dim, eps) = (u32_of("rms_norm", "dim", p.dim)?, p.eps);
    // SAFETY: rms_norm_*(const float*, const W*, float*, u32, float); x/out hold rows·dim f32s,
    // w holds dim elements (checked above); one block per row.
    unsafe {
        dev.launch(
            &RMS_NORM,
            entry,
            grid(p.rows),
            &mut [arg(&px), arg(&pw), arg(&po), arg(&dim), arg(&eps)],
        )
    }
}

/// `residual += delta; out = rms_norm(residual) * weight`, fused in one pass per row
/// (kernels `add_rms_norm_{weight dtype}`).
pub fn add_rms_norm(
    dev: &Device,
    residual: &mut CudaTensor,
    delta: &CudaTensor,
    w: &CudaTensor,
    out: &mut CudaTensor,
    p: &RmsNormParams,
) -> Result<()> {
    p.check(&*residual, w, &*out)?;
    p.check(delta, w, &*out)?;
    for (what, t) in [("residual", &*residual), ("delta", delta), ("out", &*out)] {
        want_f32("add_rms_norm", what, t)?;
    }
    if p.rows == 0 || p.dim == 0 {
        return Ok(());
    }
    let entry = match w.dtype() {
        DType::F32 => "add_rms_norm_f32",
        DType::F16 => "add_rms_norm_f16",
        DType::BF16 => "add_rms_norm_bf16",
        q => unreachable!("cuda tensors are never {q}: upload refuses block formats"),
    };
    let s = &dev.stream;
    let (pr, pd, pw, po) = (residual.ptr(s), delta.ptr(s), w.ptr(s), out.ptr(s));
    let (dim, eps) = (u32_of("add_rms_norm", "dim", p.dim)?, p.eps);
    // SAFETY: add_rms_norm_*(float*, const float*, const W*, float*, u32, float); residual, delta
    // and out hold rows·dim f32s, w holds dim elements (checked above).
    unsafe {
        dev.launch(
            &RMS_NORM,
            entry,
            grid(p.rows),
            &mut [arg(&pr), arg(&pd), arg(&pw), arg(&po), arg(&dim), arg(&eps)],
        )
    }
}
