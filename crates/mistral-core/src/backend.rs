//! The `Backend` trait: what the CPU reference, CUDA and wgpu each implement.
//!
//! Conventions shared by every op:
//! - Tensors are flat, row-major device buffers. Activations and logits are f32; the KV cache is
//!   f32, f16 or bf16 ([`Backend::zeros_dtype`], written by [`Backend::copy`] and read by
//!   [`Backend::attention`]); weights may be f32, f16, bf16 or block-quantized
//!   ([`Backend::supports`] says which a backend takes).
//! - Ops write into preallocated outputs; nothing is allocated per step.
//! - Shapes are given by the op's parameter struct (see [`crate::ops`]); backends call its `check`
//!   first so a mismatch is the same clear [`Error::Shape`](crate::Error::Shape) everywhere.
//! - Ops are enqueued in order; a backend may run them asynchronously. Only reading data back
//!   ([`Backend::download_f32`], [`Backend::argmax`]) and [`Backend::synchronize`] wait.

use crate::ops::{
    AttentionParams, CopyParams, MatmulParams, Projection, RmsNormParams, RopeParams,
};
use crate::{DType, HostTensor, Result};

/// What every backend tensor can say about itself.
pub trait TensorInfo {
    fn dtype(&self) -> DType;
    /// Number of elements.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A compute backend: owns device buffers and runs the ops Mistral needs on them.
pub trait Backend {
    /// A device buffer of `len` elements of one dtype.
    type Tensor: TensorInfo;

    /// A short human-readable name, e.g. `cpu (2 threads)` or `cuda:0 NVIDIA H100`.
    fn name(&self) -> String;

    /// Whether weights stored in `dtype` can be used in [`Backend::matmul`] and [`Backend::embedding`].
    fn supports(&self, dtype: DType) -> bool;

    /// A zero-filled f32 buffer of `len` elements (activations, KV cache, logits).
    fn zeros(&self, len: usize) -> Result<Self::Tensor>;

    /// A zero-filled buffer of `len` elements of a float `dtype` (f32, f16 or bf16): the KV cache.
    /// It holds the stored dtype (two bytes an element for f16/bf16), written by [`Backend::copy`]
    /// and read by [`Backend::attention`]. The default forwards f32 to [`Backend::zeros`] and
    /// refuses the others.
    fn zeros_dtype(&self, len: usize, dtype: DType) -> Result<Self::Tensor> {
        match dtype {
            DType::F32 => self.zeros(len),
            other => Err(unsupported_kv_dtype(&self.name(), other)),
        }
    }

    /// The KV-cache dtype a model uses on this backend when none is asked for. f32 everywhere: a
    /// GPU backend may prefer f16 (half the memory and the cache reads) once its golden-model tests
    /// (logits within 1e-3 of the f32-cache reference) pass with it. They do not: rounding the
    /// cache to f16 moves the goldens' logits by up to 1.1e-2 (NMSE 1e-7 to 4e-7; greedy ids are
    /// unchanged), while the kernels match a CPU keeping the same f16 cache within 1e-3.
    fn default_kv_dtype(&self) -> DType {
        DType::F32
    }

    /// Copies a host tensor (typically a weight) to the device, keeping its dtype.
    fn upload(&self, t: &HostTensor) -> Result<Self::Tensor>;

    /// Reads a whole buffer back, widened to f32. Waits for queued work.
    fn download_f32(&self, t: &Self::Tensor) -> Result<Vec<f32>>;

    /// Waits until all queued work has finished.
    fn synchronize(&self) -> Result<()>;

    /// Embedding gather: `out[t, :] = table[tokens[t], :]` widened to f32.
    ///
    /// `table` is `[vocab, hidden]` in any supported dtype, `out` is `[tokens.len(), hidden]` f32.
    /// Every token id must be `< vocab` (an out-of-range id is an `InvalidInput` error, checked on the host).
    fn embedding(
        &self,
        table: &Self::Tensor,
        tokens: &[u32],
        hidden: usize,
        out: &mut Self::Tensor,
    ) -> Result<()>;

    /// RMSNorm over the last dimension, computed in f32:
    /// `out[r, i] = x[r, i] / sqrt(mean_j(x[r, j]^2) + eps) * weight[i]`.
    ///
    /// `x`, `out`: `[rows, dim]` f32; `weight`: `[dim]` in any supported dtype.
    fn rms_norm(
        &self,
        x: &Self::Tensor,
        weight: &Self::Tensor,
        out: &mut Self::Tensor,
        p: &RmsNormParams,
    ) -> Result<()>;

    /// Residual add fused with the RMSNorm that follows it:
    /// `residual += delta`, then `out = rms_norm(residual, weight)`.
    ///
    /// The default runs [`Backend::add`] then [`Backend::rms_norm`]; a backend may fuse them.
    fn add_rms_norm(
        &self,
        residual: &mut Self::Tensor,
        delta: &Self::Tensor,
        weight: &Self::Tensor,
        out: &mut Self::Tensor,
        p: &RmsNormParams,
    ) -> Result<()> {
        self.add(residual, delta, p.rows * p.dim)?;
        self.rms_norm(residual, weight, out, p)
    }

    /// Matrix multiply against a weight stored as in PyTorch's `nn.Linear`: `y = x · Wᵀ`.
    ///
    /// `x`: f32 `[m, k]` starting at row `p.x_row` of the buffer (so the last row of a prefill can
    /// be projected alone); `w`: `[n, k]` in any supported dtype; `y`: f32 `[m, n]`.
    /// Accumulation is in f32. `m == 1` is the decode (GEMV) case, `m > 1` prefill (GEMM).
    fn matmul(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        y: &mut Self::Tensor,
        p: &MatmulParams,
    ) -> Result<()>;

    /// Several projections of the same activations: for each `o` in `outs`,
    /// `o.y = x · o.wᵀ` as [`Backend::matmul`] with `MatmulParams::new(m, o.n, k)` (the q, k and v
    /// projections). The default runs `matmul` per output; a backend may run them as one kernel.
    fn matmul_multi(
        &self,
        x: &Self::Tensor,
        outs: &mut [Projection<'_, Self::Tensor>],
        m: usize,
        k: usize,
    ) -> Result<()> {
        crate::ops::matmul_multi_unfused(self, x, outs, m, k)
    }

    /// The SwiGLU MLP's first half: `out = silu(x · w_gateᵀ) * (x · w_upᵀ)`, `[p.m, p.n]`, each
    /// product as [`Backend::matmul`] and the combination as [`Backend::swiglu`]. `gate` and `up`
    /// (`[p.m, p.n]` each) are scratch for the default, which runs the two matmuls and then
    /// `swiglu`; a backend may fuse all three into one pass over both weights.
    #[allow(clippy::too_many_arguments)]
    fn gate_up_swiglu(
        &self,
        x: &Self::Tensor,
        w_gate: &Self::Tensor,
        w_up: &Self::Tensor,
        gate: &mut Self::Tensor,
        up: &mut Self::Tensor,
        out: &mut Self::Tensor,
        p: &MatmulParams,
    ) -> Result<()> {
        crate::ops::gate_up_swiglu_unfused(self, x, w_gate, w_up, gate, up, out, p)
    }

    /// Rotary position embedding in Hugging Face's `rotate_half` layout, in place.
    ///
    /// `x` is `[rows, heads, head_dim]` f32; row `r` is at absolute position `p.start_pos + r`.
    /// With `h = head_dim / 2`, `inv_freq[i] = 1 / theta^(2i / head_dim)` and
    /// `angle = pos * inv_freq[i]` (all in f32), for `i < h`:
    /// `x'[i] = x[i]·cos − x[i+h]·sin`, `x'[i+h] = x[i+h]·cos + x[i]·sin`.
    fn rope(&self, x: &mut Self::Tensor, p: &RopeParams) -> Result<()>;

    /// Causal sliding-window attention with grouped-query heads, for a block of `p.n` new queries
    /// against the rolling KV cache plus the block's own keys.
    ///
    /// - `q`: `[n, n_heads, head_dim]`, query `t` at absolute position `i = start_pos + t`
    ///   (RoPE already applied).
    /// - `k_new`, `v_new`: `[n, n_kv_heads, head_dim]`, the block's keys/values (positions
    ///   `start_pos ..`).
    /// - `k_cache`, `v_cache`: `[slots, n_kv_heads, head_dim]`, the rolling cache *before* this
    ///   block is written: position `j < start_pos` lives in slot `j % slots`. Valid for
    ///   `j >= start_pos - slots`.
    /// - `out`: `[n, n_heads, head_dim]`.
    ///
    /// Query head `h` reads KV head `h / (n_heads / n_kv_heads)`. Query `i` attends to key `j` iff
    /// `i - window < j <= i` (so `window` keys, itself included); keys `j >= start_pos` come from
    /// `k_new[j - start_pos]`, older ones from the cache. Scores are `q·k / sqrt(head_dim)`,
    /// softmax in f32. Requires `slots >= min(start_pos, window - 1)`: every past key a query of
    /// the block can see must still be in the cache.
    ///
    /// `k_cache` and `v_cache` share one dtype, f32, f16 or bf16 (a mismatch is a shape error);
    /// 16-bit entries are widened exactly to f32 when read, so the result is the f32 computation
    /// over the stored (rounded) values. Every other tensor is f32.
    fn attention(
        &self,
        q: &Self::Tensor,
        k_new: &Self::Tensor,
        v_new: &Self::Tensor,
        k_cache: &Self::Tensor,
        v_cache: &Self::Tensor,
        out: &mut Self::Tensor,
        p: &AttentionParams,
    ) -> Result<()>;

    /// SwiGLU: `out[i] = silu(gate[i]) * up[i]` with `silu(x) = x / (1 + exp(-x))`, over `len` f32s.
    fn swiglu(
        &self,
        gate: &Self::Tensor,
        up: &Self::Tensor,
        out: &mut Self::Tensor,
        len: usize,
    ) -> Result<()>;

    /// Residual add in place: `x[i] += y[i]` for `i < len`.
    fn add(&self, x: &mut Self::Tensor, y: &Self::Tensor, len: usize) -> Result<()>;

    /// Copies `p.len` f32s from `src[p.src_offset..]` to `dst[p.dst_offset..]` (KV-cache writes).
    ///
    /// `src` is f32; `dst` is f32, f16 or bf16 (the cache's dtype), each value rounded to nearest,
    /// ties to even (`half`'s `from_f32`, CUDA's `cvt.rn`); `dst` elements outside the range keep
    /// their values.
    fn copy(&self, src: &Self::Tensor, dst: &mut Self::Tensor, p: &CopyParams) -> Result<()>;

    /// Index of the largest value of each row of `x` (`[rows, cols]` f32), the first on ties.
    /// Only the ids travel back to the host.
    fn argmax(&self, x: &Self::Tensor, rows: usize, cols: usize) -> Result<Vec<u32>>;
}

/// The error a backend returns for a KV-cache dtype it cannot store (only f32, f16 and bf16 are
/// cache dtypes).
pub fn unsupported_kv_dtype(backend: &str, dtype: DType) -> crate::Error {
    crate::Error::Unsupported(format!(
        "the {backend} backend cannot keep the KV cache in {dtype}; use f32, f16 or bf16"
    ))
}

/// The error a backend returns for weights in a dtype it has no kernels for: names the format and
/// the backend, and says what runs it.
pub fn unsupported_dtype(backend: &str, dtype: DType) -> crate::Error {
    crate::Error::Unsupported(format!(
        "the {backend} backend cannot run {dtype} weights yet; use --backend cpu (it runs every format)"
    ))
}
