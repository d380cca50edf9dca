use mistral_core::ops::check_elementwise;
use mistral_core::Result;

use super::{elementwise_grid, want_f32};
use crate::device::{arg, Device};
use crate::kernels::ELEMENTWISE;
use crate::CudaTensor;

/// `out[i] = silu(gate[i]) * up[i]` (kernel `swiglu_f32`).
pub fn swiglu(
    dev: &Device,
    gate: &CudaTensor,
    up: &CudaTensor,
    out: &mut CudaTensor,
    len: usize,
) -> Result<()> {
    check_elementwise("swiglu", &[("gate", gate), ("up", up), ("out", &*out)], len)?;
    for (what, t) in [("gate", gate), ("up", up), ("out", &*out)] {
        want_f32("swiglu", what, t)?;
    }
    if len == 0 {
        return Ok(());
    }
    let s = &dev.stream;
    let (pg, pu, po, n) = (gate.ptr(s), up.ptr(s), out.ptr(s), len as u64);
    // SAFETY: swiglu_f32(const float*, const float*, float*, u64); all hold >= len f32s.
    unsafe {
        dev.launch(
            &ELEMENTWISE,
            "swiglu_f32",
            elementwise_grid(len),
            &mut [arg(&pg), arg(&pu), arg(&po), arg(&n)],
        )
    }
}
