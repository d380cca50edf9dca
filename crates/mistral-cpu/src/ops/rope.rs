use mistral_core::ops::RopeParams;
use mistral_core::Result;
use rayon::prelude::*;

use crate::CpuTensor;

/// Hugging Face `rotate_half` RoPE, in place; cos/sin of `pos * inv_freq` computed in f32.
pub fn rope(x: &mut CpuTensor, p: &RopeParams) -> Result<()> {
    p.check(&*x)?;
    let (row, half) = (p.heads * p.head_dim, p.head_dim / 2);
    let inv_freq = p.inv_freq();
    let x = &mut x.f32_mut("rope", p.rows * row)?[..p.rows * row];
    x.par_chunks_mut(row).enumerate().for_each(|(r, xr)| {
        let pos = (p.start_pos + r) as f32;
        let (cos, sin): (Vec<f32>, Vec<f32>) = inv_freq
            .iter()
            .map(|f| ((pos * f).cos(), (pos * f).sin()))
            .unzip();
        for head in xr.chunks_exact_mut(p.head_dim) {
            let (a, b) = head.split_at_mut(half);
            for i in 0..half {
                let (x1, x2) = (a[i], b[i]);
                a[i] = x1 * cos[i] - x2 * sin[i];
                b[i] = x2 * cos[i] + x1 * sin[i];
            }
        }
    });
    Ok(())
}
