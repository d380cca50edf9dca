use mistral_core::ops::{MatmulParams, Projection};
use mistral_core::{DType, Result, TensorInfo};

use super::{u32_of, want_f32};
use crate::device::{arg, Device, Grid};
use crate::kernels::{KernelFile, GEMM, GEMM_QUANT, GEMV, GEMV_QUANT};
use crate::planar::{check_row, entry};
use crate::CudaTensor;

/// The three kinds of matmul kernel, which differ in launch shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// `gemv*`: a warp per weight row, 8 rows per 256-thread block.
    Gemv,
    /// `gemm_{f16,bf16,<block format>}*`: 64x64 tiles, 128 threads, tensor cores.
    TensorCore,
    /// `gemm_simt_*`: 64x64 tiles, 256 threads, f32 FMA.
    Simt,
}

/// Which kernel computes `y = x · Wᵀ` for this shape and weight dtype.
///
/// - `m == 1` (decode): `gemv_*`, bandwidth-bound; one warp streams one weight row. Block formats
///   read their planar blocks directly (kernels/gemv_quant.cu).
/// - `m > 1`, f16/bf16 weights, `k % 8 == 0` (all Mistral shapes): `gemm_*` on tensor cores with
///   the activations split into 3 (bf16) or 2 (f16) 16-bit terms, which keeps f32-class accuracy
///   (see kernels/gemm.cu for the bound).
/// - `m > 1`, a block format: `gemm_{format}` on tensor cores, the weights' integer levels times
///   the 3-term activations, scaled per sub-block in f32 (kernels/gemm_quant.cu).
/// - otherwise (f32 weights, or k not a multiple of 8): `gemm_simt_*`, plain f32 FMA tiles.
///
/// `fast` (opt-in, [`crate::CudaBackend::set_fast_gemm`]): the tensor-core path takes one term,
/// i.e. rounds the activations to the weights' type as bf16 inference engines and cuBLAS-based
/// stacks do, for 3x (bf16) or 2x (f16) fewer MMAs; results then differ from the f32 reference
/// by that rounding (~2^-9 relative per activation for bf16). Block formats ignore it.
fn choose(m: usize, k: usize, dtype: DType, fast: bool) -> (&'static str, Path) {
    let tc = matches!(dtype, DType::F16 | DType::BF16) && k.is_multiple_of(8);
    match (m, dtype) {
        (1, d) => (entry!("gemv_", d), Path::Gemv),
        (_, d) if d.is_quantized() => (entry!("gemm_", d), Path::TensorCore),
        (_, DType::F16) if tc && fast => ("gemm_f16_fast", Path::TensorCore),
        (_, DType::BF16) if tc && fast => ("gemm_bf16_fast", Path::TensorCore),
        (_, DType::F16) if tc => ("gemm_f16", Path::TensorCore),
        (_, DType::BF16) if tc => ("gemm_bf16", Path::TensorCore),
        (_, d) => (entry!("gemm_simt_", d), Path::Simt),
    }
}

/// The kernel file holding `path`'s entry for weights of `dtype`.
fn file(dtype: DType, path: Path) -> &'static KernelFile {
    match (dtype.is_quantized(), path) {
        (false, Path::Gemv) => &GEMV,
        (true, Path::Gemv) => &GEMV_QUANT,
        (false, _) => &GEMM,
        (true, _) => &GEMM_QUANT,
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
    check_row("matmul", "k", w.dtype(), p.k)?;
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
    let (name, path) = choose(p.m, p.k, w.dtype(), dev.fast_gemm());
    let kernels = file(w.dtype(), path);
    if path == Path::Gemv {
        // SAFETY: gemv_*(const float*, const W*, float*, u32 n, u32 k); x holds k f32s from
        // x_row·k, w is [n, k] (a block format: n·k/B planar blocks, k % B == 0 checked above),
        // y holds n f32s (checked above); 8 rows per 256-thread block.
        return unsafe {
            dev.launch(
                kernels,
                name,
                Grid::x(p.n.div_ceil(8), 256),
                &mut [arg(&px), arg(&pw), arg(&py), arg(&n), arg(&k)],
            )
        };
    }
    let grid = Grid {
        grid: (p.n.div_ceil(64) as u32, p.m.div_ceil(64) as u32, 1),
        block: if path == Path::TensorCore { 128 } else { 256 },
        shared: 0,
    };
    // SAFETY: gemm_*(const float*, const W*, float*, u32 m, u32 n, u32 k); x holds m·k f32s from
    // x_row·k, w is [n, k] (planar blocks for a block format, k % B == 0), y holds m·n f32s
    // (checked above); the tensor-core kernels get k % 8 == 0 (16-byte aligned weight rows for
    // cp.async) from `choose`.
    unsafe {
        dev.launch(
            kernels,
            name,
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
        check_row("matmul", "k", o.w.dtype(), k)?;
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
    let dtype = dtype.unwrap_or(DType::F32); // `outs` is not empty (checked above)
                                             // SAFETY: gemv3_*(const float* x, const W* w0, w1, w2, float* y0, y1, y2, u32 n0, n1, n2,
                                             // u32 k); x holds k f32s, each w_i is [n_i, k] of one dtype W (planar blocks for a block
                                             // format, k % B == 0) and y_i holds n_i f32s (checked above); unused slots have n_i = 0 and
                                             // are never dereferenced; 8 rows per 256-thread block.
    unsafe {
        dev.launch(
            file(dtype, Path::Gemv),
            entry!("gemv3_", dtype),
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
    check_row("matmul", "k", w_gate.dtype(), p.k)?;
    want_f32("matmul", "x", x)?;
    want_f32("matmul", "out", &*out)?;
    let s = &dev.stream;
    let (px, pg, pu, po) = (x.ptr(s), w_gate.ptr(s), w_up.ptr(s), out.ptr(s));
    let (n, k) = (u32_of("matmul", "n", p.n)?, u32_of("matmul", "k", p.k)?);
    let dtype = w_gate.dtype();
    // SAFETY: gemv_swiglu_*(const float* x, const W* wg, const W* wu, float* out, u32 n, u32 k);
    // x holds k f32s, wg and wu are [n, k] of one dtype W (planar blocks for a block format,
    // k % B == 0), out holds n f32s (checked above).
    unsafe {
        dev.launch(
            file(dtype, Path::Gemv),
            entry!("gemv_swiglu_", dtype),
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
        use Path::*;
        assert_eq!(choose(1, 4096, DType::BF16, false), ("gemv_bf16", Gemv));
        assert_eq!(
            choose(64, 4096, DType::BF16, false),
            ("gemm_bf16", TensorCore)
        );
        assert_eq!(choose(5, 130, DType::BF16, false), ("gemm_simt_bf16", Simt));
        assert_eq!(choose(17, 96, DType::F32, false), ("gemm_simt_f32", Simt));
        assert_eq!(
            choose(64, 4096, DType::BF16, true),
            ("gemm_bf16_fast", TensorCore)
        );
        assert_eq!(
            choose(64, 4096, DType::F16, true),
            ("gemm_f16_fast", TensorCore)
        );
        assert_eq!(choose(1, 4096, DType::BF16, true), ("gemv_bf16", Gemv));
        assert_eq!(choose(5, 130, DType::BF16, true), ("gemm_simt_bf16", Simt));
        // Block formats: the planar GEMV for decode, the tensor-core level GEMM for prefill.
        assert_eq!(choose(1, 4096, DType::Q4K, false), ("gemv_q4_k", Gemv));
        assert_eq!(choose(5, 32, DType::Q8_0, true), ("gemm_q8_0", TensorCore));
        assert_eq!(file(DType::Q6K, Gemv).name, "gemv_quant.cu");
        assert_eq!(file(DType::Q6K, TensorCore).name, "gemm_quant.cu");
        assert_eq!(file(DType::BF16, TensorCore).name, "gemm.cu");
    }
}
