use mistral_core::ops::check_elementwise;
use mistral_core::Result;

use crate::CpuTensor;

/// `x[i] += y[i]` for `i < len`.
pub fn add(x: &mut CpuTensor, y: &CpuTensor, len: usize) -> Result<()> {
    check_elementwise("add", &[("x", &*x), ("y", y)], len)?;
    let y = y.f32s("add", len)?;
    let x = x.f32_mut("add", len)?;
    x[..len]
        .iter_mut()
        .zip(&y[..len])
        .for_each(|(a, b)| *a += b);
    Ok(())
}
