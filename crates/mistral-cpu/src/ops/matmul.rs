use mistral_core::ops::MatmulParams;
use mistral_core::{Result, TensorInfo};
use rayon::prelude::*;

use crate::CpuTensor;

/// Weight rows widened per task: large enough to amortise scheduling, small enough to stay in L2.
const ROWS_PER_TASK: usize = 16;

/// `y[m, n] = x[x_row.., k] · w[n, k]ᵀ`, f32 accumulation.
///
/// Parallel over blocks of weight rows: each task widens its rows of `w` to f32 once and reuses them
/// for every row of `x`, so f16/bf16 weights are read exactly once per call.
pub fn matmul(x: &CpuTensor, w: &CpuTensor, y: &mut CpuTensor, p: &MatmulParams) -> Result<()> {
    p.check(x, w, &*y)?;
    let MatmulParams { m, n, k, x_row } = *p;
    let x = &x.f32s("matmul", (x_row + m) * k)?[x_row * k..(x_row + m) * k];
    let y = &mut y.f32_mut("matmul", m * n)?[..m * n];
    let packed = w.dtype() != mistral_core::DType::F32;
    let block = |n0: usize, rows: usize, wbuf: &mut Vec<f32>, out: &mut [f32]| {
        // out is [rows, m]: transposed tile of y.
        let wrows: &[f32] = match w {
            CpuTensor::F32(v) if !packed => &v[n0 * k..(n0 + rows) * k],
            _ => {
                wbuf.resize(rows * k, 0.0);
                w.read_row(n0 * k, wbuf);
                wbuf
            }
        };
        let xr = |i: usize| &x[i * k..(i + 1) * k];
        for (r, wr) in wrows.chunks_exact(k).enumerate() {
            // Four rows of x per pass over the weight row, leftovers one at a time.
            let m4 = m / 4 * 4;
            for i in (0..m4).step_by(4) {
                let d = super::dot4(std::array::from_fn(|a| xr(i + a)), wr);
                out[r * m + i..r * m + i + 4].copy_from_slice(&d);
            }
            for i in m4..m {
                out[r * m + i] = super::dot(xr(i), wr);
            }
        }
    };
    if m == 1 {
        y.par_chunks_mut(ROWS_PER_TASK)
            .enumerate()
            .for_each_init(Vec::new, |wbuf, (b, out)| {
                block(b * ROWS_PER_TASK, out.len(), wbuf, out)
            });
    } else {
        let mut yt = vec![0.0f32; n * m];
        yt.par_chunks_mut(ROWS_PER_TASK * m)
            .enumerate()
            .for_each_init(Vec::new, |wbuf, (b, out)| {
                block(b * ROWS_PER_TASK, out.len() / m, wbuf, out)
            });
        for (j, col) in yt.chunks_exact(m).enumerate() {
            for (i, v) in col.iter().enumerate() {
                y[i * n + j] = *v;
            }
        }
    }
    Ok(())
}
