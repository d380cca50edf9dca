use mistral_core::ops::check_elementwise;
use mistral_core::Result;

use super::{elementwise_grid, want_f32};
use crate::device::{arg, Device};
use crate::kernels::ELEMENTWISE;
use crate::CudaTensor;

/// `x[i] += y[i]` for `i < len` (kernel `add_f32`).
pub fn add(dev: &Device, x: &mut CudaTensor, y: &CudaTensor, len: usize) -> Result<()> {
    check_elementwise("add", &[("x", &*x), ("y", y)], len)?;
    want_f32("add", "x", &*x)?;
    want_f32("add", "y", y)?;
    if len == 0 {
        return Ok(());
    }
    let s = &dev.stream;
    let (px, py, n) = (x.ptr(s), y.ptr(s), len as u64);
    // SAFETY: add_f32(float*, const float*, u64); both buffers hold >= len f32s (checked above).
    unsafe {
        dev.launch(
            &ELEMENTWISE,
            "add_f32",
            elementwise_grid(len),
            &mut [arg(&px), arg(&py), arg(&n)],
        )
    }
}
