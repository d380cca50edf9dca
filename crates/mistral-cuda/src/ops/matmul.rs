use mistral_core::ops::{MatmulParams, Projection};
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
        (_, q) => unreachable!("cuda tensors are never {q}: upload refuses block formats"),
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

/// Decode's projections of one x through up to three weights of one dtype, as one `gemv3_*`
/// launch (q, k and v); other shapes run one matmul per output. Returns whether it fused.
pub fn matmul_multi(
    dev: &Device,
    x: &CudaTensor,
    outs: &mut [Projection<'_, CudaTensor>],
    m: usize,
    k: usize,
) -> Result<bool> {
    let dtype = outs.first().map(|o| o.w.dtype());
    if m != 1
        || outs.is_empty()
        || outs.len() > 3
        || outs.iter().any(|o| Some(o.w.dtype()) != dtype)
    {
        return Ok(false);
    }
    for o in outs.iter() {
        MatmulParams::new(1, o.n, k).check(x, o.w, &*o.y)?;
        want_f32("matmul", "y", &*o.y)?;
    }
    want_f32("matmul", "x", x)?;
    let s = &dev.stream;
    let (mut w, mut y, mut n) = ([0u64; 3], [0u64; 3], [0u32; 3]);
    for (i, o) in outs.iter().enumerate() {
        (w[i], y[i], n[i]) = (o.w.ptr(s), o.y.ptr(s), u32_of("matmul", "n", o.n)?);
    }
    let rows: usize = outs.iter().map(|o| o.n).sum();
    u32_of("matmul", "rows", rows)?;
    let (px, kk) = (x.ptr(s), u32_of("matmul", "k", k)?);
    let entry = match dtype {
        Some(DType::F32) => "gemv3_f32",
        Some(DType::F16) => "gemv3_f16",
        _ => "gemv3_bf16",
    };
    // SAFETY: gemv3_*(const float* x, const W* w0, w1, w2, float* y0, y1, y2, u32 n0, n1, n2,
    // u32 k); x holds k f32s, each w_i is [n_i, k] of one dtype W and y_i holds n_i f32s (checked
    // above); unused slots have n_i = 0 and are never dereferenced; 8 rows per 256-thread block.
    unsafe {
        dev.launch(
            &GEMV,
            entry,
            Grid::x(rows.div_ceil(8), 256),
            &mut [
                arg(&px),
                arg(&w[0]),
                arg(&w[1]),
                arg(&w[2]),
                arg(&y[0]),
                arg(&y[1]),
                arg(&y[2]),
                arg(&n[0]),
                arg(&n[1]),
                arg(&n[2]),
                arg(&kk),
            ],
        )?
    };
    Ok(true)
}

/// Decode's `out = silu(x·w_gateᵀ) · (x·w_upᵀ)` as one `gemv_swiglu_*` launch (gate and up
/// scratch untouched); returns false for shapes it does not fuse (prefill, mixed dtypes).
#[allow(clippy::too_many_arguments)]
pub fn gate_up_swiglu(
    dev: &Device,
    x: &CudaTensor,
    w_gate: &CudaTensor,
    w_up: &CudaTensor,
    gate: &CudaTensor,
    up: &CudaTensor,
    out: &mut CudaTensor,
    p: &MatmulParams,
) -> Result<bool> {
    if p.m != 1 || p.x_row != 0 || w_gate.dtype() != w_up.dtype() {
        return Ok(false);
    }
    p.check(x, w_gate, &*out)?;
    p.check(x, w_up, &*out)?;
    // The fused kernel leaves the scratch alone, but it must be what the default would need.
    p.check(x, w_gate, gate)?;
    p.check(x, w_up, up)?;
    want_f32("matmul", "x", x)?;
    want_f32("matmul", "out", &*out)?;
    let s = &dev.stream;
    let (px, pg, pu, po) = (x.ptr(s), w_gate.ptr(s), w_up.ptr(s), out.ptr(s));
    let (n, k) = (u32_of("matmul", "n", p.n)?, u32_of("matmul", "k", p.k)?);
    let entry = match w_gate.dtype() {
        DType::F32 => "gemv_swiglu_f32",
        DType::F16 => "gemv_swiglu_f16",
        DType::BF16 => "gemv_swiglu_bf16",
        q => unreachable!("cuda tensors are never {q}: upload refuses block formats"),
    };
    // SAFETY: gemv_swiglu_*(const float* x, const W* wg, const W* wu, float* out, u32 n, u32 k);
    // x holds k f32s, wg and wu are [n, k] of one dtype W, out holds n f32s (checked above).
    unsafe {
        dev.launch(
            &GEMV,
            entry,
            Grid::x(p.n.div_ceil(8), 256),
            &mut [arg(&px), arg(&pg), arg(&pu), arg(&po), arg(&n), arg(&k)],
        )?
    };
    Ok(true)
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
