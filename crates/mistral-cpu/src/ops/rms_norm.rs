use mistral_core::ops::RmsNormParams;
use mistral_core::Result;
use rayon::prelude::*;

use crate::CpuTensor;

/// `out = x / sqrt(mean(x²) + eps) * weight`, per row, in the order Hugging Face computes it:
/// `weight * (x * rsqrt(variance + eps))`.
pub fn rms_norm(
    x: &CpuTensor,
    w: &CpuTensor,
    out: &mut CpuTensor,
    p: &RmsNormParams,
) -> Result<()> {
    p.check(x, w, &*out)?;
    let n = p.rows * p.dim;
    let x = &x.f32s("rms_norm", n)?[..n];
    let mut weight = vec![0.0; p.dim];
    w.read_row(0, &mut weight);
    let out = &mut out.f32_mut("rms_norm", n)?[..n];
    out.par_chunks_mut(p.dim)
        .zip(x.par_chunks(p.dim))
        .for_each(|(o, x)| {
            let mean = super::dot(x, x) / p.dim as f32;
            let inv = 1.0 / (mean + p.eps).sqrt();
            for ((o, x), w) in o.iter_mut().zip(x).zip(&weight) {
                *o = w * (x * inv);
            }
        });
    Ok(())
}
