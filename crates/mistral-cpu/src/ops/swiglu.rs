use mistral_core::ops::check_elementwise;
use mistral_core::Result;
use rayon::prelude::*;

use crate::CpuTensor;

/// `out[i] = silu(gate[i]) * up[i]`, `silu(x) = x / (1 + exp(-x))` (as `torch.nn.functional.silu`).
pub fn swiglu(gate: &CpuTensor, up: &CpuTensor, out: &mut CpuTensor, len: usize) -> Result<()> {
    check_elementwise("swiglu", &[("gate", gate), ("up", up), ("out", &*out)], len)?;
    let (g, u) = (gate.f32s("swiglu", len)?, up.f32s("swiglu", len)?);
    let o = out.f32_mut("swiglu", len)?;
    o[..len]
        .par_chunks_mut(4096)
        .zip(g[..len].par_chunks(4096).zip(u[..len].par_chunks(4096)))
        .for_each(|(o, (g, u))| {
            for i in 0..o.len() {
                o[i] = g[i] / (1.0 + (-g[i]).exp()) * u[i];
            }
        });
    Ok(())
}
