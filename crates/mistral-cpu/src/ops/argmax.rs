use mistral_core::ops::argmax_row;
use mistral_core::{Error, Result};

use crate::CpuTensor;

/// Index of the largest value of each row, the first one on ties; NaNs are never chosen.
pub fn argmax(x: &CpuTensor, rows: usize, cols: usize) -> Result<Vec<u32>> {
    if cols == 0 {
        return Err(Error::shape("argmax", "zero columns"));
    }
    let x = x.f32s("argmax", rows * cols)?;
    Ok(x[..rows * cols]
        .chunks_exact(cols)
        .map(|row| argmax_row(row) as u32)
        .collect())
}
