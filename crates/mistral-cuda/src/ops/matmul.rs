use mistral_core::ops::MatmulParams;
use mistral_core::{DType, Result, TensorInfo};

use super::{u32_of, want_f32};
use crate::device::{arg, Device, Grid};
use crate::kernels::{GEMM, GEMV};
use crate::CudaTensor;

/// Which kernel computes `y = x · Wᵀ` for this shape and weight dtype.
///
/// - `m == 1` (decode): `gemv_*`, bandwidth-bound; one warp streams one weight row.
/// - `m > 1`, f16/bf16 weights, `k % 8 == 0` (all Mistral shapes): `gemm_*` on tensor cores with
///   the activations split into 3 (bf16) or 2 (f16) 16-bit terms, which keeps f32-class accuracy
///   (see kernels/gemm.cu for the bound).
/// - otherwise (f32 weights, or k not a multiple of 8): `gemm_simt_*`, plain f32 FMA tiles.
///
/// `fast` (opt-in, [`crate::CudaBackend::set_fast_gemm`]): the tensor-core path takes one term,
/// i.e. rounds the activations to the weights' type as bf16 inference engines and cuBLAS-based
/// stacks do, for 3x (bf16) or 2x (f16) fewer MMAs; results then differ from the f32 reference
/// by that rounding (~2^-9 relative per activation for bf16).
fn choose(m: usize, k: usize, dtype: DType, fast: bool) -> (&'static str, bool) {
    match (m, dtype) {
        (1, DType::F32) => ("gemv_f32", true),
        (1, DType::F16) => ("gemv_f16", true),
        (1, DType::BF16) => ("gemv_bf16", true),
        (_, DType::F16) if k.is_multiple_of(8) && fast => ("gemm_f16_fast", false),
        (_, DType::BF16) if k.is_multiple_of(8) && fast => ("gemm_bf16_fast", false),
        (_, DType::F16) if k.is_multiple_of(8) => ("gemm_f16", false),
        (_, DType::BF16) if k.is_multiple_of(8) => ("gemm_bf16", false),
        (_, DType::F32) => ("gemm_simt_f32", false),
        (_, DType::F16) => ("gemm_simt_f16", false),
        (_, DType::BF16) => ("gemm_simt_bf16", false),
    }
}

/// `y[m, n] = x[x_row.., k] · w[n, k]ᵀ`, f32 accumulation.
pub fn matmul(
    dev: &Device,
    x: &CudaTensor,
    w: &CudaTensor,
    y: &mut CudaTensor,
    p: &MatmulParams,
) -> Result<()> {
    p.check(x, w, &*y)?;
    want_f32("matmul", "x", x)?;
    want_f32("matmul", "y", &*y)?;
    if p.m == 0 || p.n == 0 {
        return Ok(());
    }
    let (m, n, k) = (
        u32_of("matmul", "m", p.m)?,
        u32_of("matmul", "n", p.n)?,
        u32_of("matmul", "k", p.k)?,
    );
    let s = &dev.stream;
    let (px, pw, py) = (x.ptr_at(s, p.x_row * p.k), w.ptr(s), y.ptr(s));
    let (entry, gemv) = choose(p.m, p.k, w.dtype(), dev.fast_gemm());
    if gemv {
        // SAFETY: gemv_*(const float*, const W*, float*, u32 n, u32 k); x holds k f32s from
        // x_row·k, w is [n, k], y holds n f32s (checked above); 8 rows per 256-thread block.
        return unsafe {
            dev.launch(
                &GEMV,
                entry,
                Grid::x(p.n.div_ceil(8), 256),
                &mut [arg(&px), arg(&pw), arg(&py), arg(&n), arg(&k)],
            )
        };
    }
    let tc = !entry.starts_with("gemm_simt");
    let grid = Grid {
        grid: (p.n.div_ceil(64) as u32, p.m.div_ceil(64) as u32, 1),
        block: if tc { 128 } else { 256 },
        shared: 0,
    };
    // SAFETY: gemm_*(const float*, const W*, float*, u32 m, u32 n, u32 k); x holds m·k f32s from
    // x_row·k, w is [n, k], y holds m·n f32s (checked above); the tensor-core kernels get k % 8 == 0
    // (16-byte aligned weight rows for cp.async) from `choose`.
    unsafe {
        dev.launch(
            &GEMM,
            entry,
            grid,
            &mut [arg(&px), arg(&pw), arg(&py), arg(&m), arg(&n), arg(&k)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_choice() {
        assert_eq!(choose(1, 4096, DType::BF16, false), ("gemv_bf16", true));
        assert_eq!(choose(64, 4096, DType::BF16, false), ("gemm_bf16", false));
        assert_eq!(
            choose(5, 130, DType::BF16, false),
            ("gemm_simt_bf16", false)
        );
        assert_eq!(choose(17, 96, DType::F32, false), ("gemm_simt_f32", false));
        assert_eq!(
            choose(64, 4096, DType::BF16, true),
            ("gemm_bf16_fast", false)
        );
        assert_eq!(choose(64, 4096, DType::F16, true), ("gemm_f16_fast", false));
        assert_eq!(choose(1, 4096, DType::BF16, true), ("gemv_bf16", true));
        assert_eq!(choose(5, 130, DType::BF16, true), ("gemm_simt_bf16", false));
    }
}
