//! Op parameters (host-side semantics, in elements) with the shape checks every backend runs before
//! launching. GPU backends mirror what they need into their own `#[repr(C)]` uniform structs.

use crate::{Backend, DType, Error, Result, TensorInfo};

/// The dtypes a KV cache may be stored in ([`Backend::zeros_dtype`]).
pub const KV_DTYPES: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

/// Parses a `--kv-dtype` value (`f32`, `f16` or `bf16`, as [`DType::parse`] spells them); anything
/// else is an `InvalidInput` error naming the choices.
pub fn parse_kv_dtype(s: &str) -> Result<DType> {
    DType::parse(s)
        .filter(|d| KV_DTYPES.contains(d))
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "unknown KV-cache dtype {s:?}: expected f32, f16 or bf16"
            ))
        })
}

/// `t` must hold f32s (activations): anything else is a caller bug, reported as a shape error
/// instead of read with the wrong element size.
fn want_f32(op: &'static str, what: &str, t: &impl TensorInfo) -> Result<()> {
    if t.dtype() != DType::F32 {
        return Err(Error::shape(
            op,
            format!("{what} must be f32, got {}", t.dtype()),
        ));
    }
    Ok(())
}

/// `t` must be a KV-cache buffer: f32, f16 or bf16.
fn want_kv(op: &'static str, what: &str, t: &impl TensorInfo) -> Result<()> {
    if !KV_DTYPES.contains(&t.dtype()) {
        return Err(Error::shape(
            op,
            format!("{what} must be f32, f16 or bf16, got {}", t.dtype()),
        ));
    }
    Ok(())
}

fn need(op: &'static str, what: &str, t: &impl TensorInfo, len: usize) -> Result<()> {
    if t.len() < len {
        return Err(Error::shape(
            op,
            format!("{what} has {} elements, needs {len}", t.len()),
        ));
    }
    Ok(())
}

/// RMSNorm over `rows` rows of `dim` values.
#[derive(Clone, Copy, Debug)]
pub struct RmsNormParams {
    pub rows: usize,
    pub dim: usize,
    pub eps: f32,
}

impl RmsNormParams {
    pub fn check(
        &self,
        x: &impl TensorInfo,
        w: &impl TensorInfo,
        out: &impl TensorInfo,
    ) -> Result<()> {
        need("rms_norm", "x", x, self.rows * self.dim)?;
        need("rms_norm", "weight", w, self.dim)?;
        need("rms_norm", "out", out, self.rows * self.dim)
    }
}

/// `y[m, n] = x[x_row .. x_row + m, k] · w[n, k]ᵀ`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MatmulParams {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// First row of `x` to read.
    pub x_row: usize,
}

impl MatmulParams {
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        MatmulParams { m, n, k, x_row: 0 }
    }

    pub fn check(
        &self,
        x: &impl TensorInfo,
        w: &impl TensorInfo,
        y: &impl TensorInfo,
    ) -> Result<()> {
        need("matmul", "x", x, (self.x_row + self.m) * self.k)?;
        if w.len() != self.n * self.k {
            return Err(Error::shape(
                "matmul",
                format!(
                    "weight has {} elements, expected [{}, {}]",
                    w.len(),
                    self.n,
                    self.k
                ),
            ));
        }
        need("matmul", "y", y, self.m * self.n)
    }

    /// FLOPs of the product (a multiply and an add per term).
    pub fn flops(&self) -> u64 {
        2 * (self.m * self.n * self.k) as u64
    }
}

/// RoPE on `rows` rows of `heads` heads, row `r` at position `start_pos + r`.
#[derive(Clone, Copy, Debug)]
pub struct RopeParams {
    pub rows: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub start_pos: usize,
    pub theta: f32,
}

impl RopeParams {
    pub fn new(rows: usize, heads: usize, head_dim: usize, start_pos: usize, theta: f32) -> Self {
        RopeParams {
            rows,
            heads,
            head_dim,
            start_pos,
            theta,
        }
    }

    pub fn check(&self, x: &impl TensorInfo) -> Result<()> {
        if !self.head_dim.is_multiple_of(2) {
            return Err(Error::shape(
                "rope",
                format!("head_dim {} is odd", self.head_dim),
            ));
        }
        need("rope", "x", x, self.rows * self.heads * self.head_dim)
    }

    /// `inv_freq[i] = 1 / theta^(2i / head_dim)` in f32, as Hugging Face computes it.
    pub fn inv_freq(&self) -> Vec<f32> {
        (0..self.head_dim / 2)
            .map(|i| 1.0 / self.theta.powf((2 * i) as f32 / self.head_dim as f32))
            .collect()
    }
}

/// Sliding-window GQA attention for `n` queries starting at `start_pos`; see `Backend::attention`.
#[derive(Clone, Copy, Debug)]
pub struct AttentionParams {
    pub n: usize,
    pub start_pos: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    /// Sliding window W: query `i` sees keys `i - W < j <= i`.
    pub window: usize,
    /// Rows of the rolling KV cache.
    pub slots: usize,
}

impl AttentionParams {
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &self,
        q: &impl TensorInfo,
        k_new: &impl TensorInfo,
        v_new: &impl TensorInfo,
        k_cache: &impl TensorInfo,
        v_cache: &impl TensorInfo,
        out: &impl TensorInfo,
    ) -> Result<()> {
        const OP: &str = "attention";
        if self.n_kv_heads == 0 || !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(Error::shape(
                OP,
                format!(
                    "{} query heads are not a multiple of {} KV heads",
                    self.n_heads, self.n_kv_heads
                ),
            ));
        }
        if self.window == 0 || self.slots == 0 {
            return Err(Error::shape(OP, "window and cache slots must be positive"));
        }
        // The oldest key any query of this block needs from the cache.
        let history = self.start_pos.min(self.window - 1);
        if history > self.slots {
            return Err(Error::shape(
                OP,
                format!(
                    "cache has {} slots but the window needs {history} past keys",
                    self.slots
                ),
            ));
        }
        want_f32(OP, "q", q)?;
        want_f32(OP, "k_new", k_new)?;
        want_f32(OP, "v_new", v_new)?;
        want_f32(OP, "out", out)?;
        want_kv(OP, "k_cache", k_cache)?;
        if k_cache.dtype() != v_cache.dtype() {
            return Err(Error::shape(
                OP,
                format!(
                    "k_cache is {} but v_cache is {}: both caches must share one dtype",
                    k_cache.dtype(),
                    v_cache.dtype()
                ),
            ));
        }
        let kv_row = self.n_kv_heads * self.head_dim;
        need(OP, "q", q, self.n * self.n_heads * self.head_dim)?;
        need(OP, "k_new", k_new, self.n * kv_row)?;
        need(OP, "v_new", v_new, self.n * kv_row)?;
        need(OP, "k_cache", k_cache, self.slots * kv_row)?;
        need(OP, "v_cache", v_cache, self.slots * kv_row)?;
        need(OP, "out", out, self.n * self.n_heads * self.head_dim)
    }

    /// Keys query `t` of the block attends to: positions `first..=i` with `i = start_pos + t`.
    pub fn key_range(&self, t: usize) -> std::ops::RangeInclusive<usize> {
        let i = self.start_pos + t;
        (i + 1).saturating_sub(self.window)..=i
    }

    /// Softmax scale `1 / sqrt(head_dim)`.
    pub fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }

    /// Query-key pairs inside the window (each costs 4·head_dim FLOPs: QKᵀ and PV).
    pub fn pairs(&self) -> u64 {
        (0..self.n)
            .map(|t| self.key_range(t).count() as u64)
            .sum::<u64>()
            * self.n_heads as u64
    }
}

/// Checks an embedding gather of `tokens` rows of `hidden` values from `table` into `out`, and
/// returns the vocabulary size. An out-of-range token id is an `InvalidInput` error.
pub fn check_embedding(
    table: &impl TensorInfo,
    tokens: &[u32],
    hidden: usize,
    out: &impl TensorInfo,
) -> Result<usize> {
    const OP: &str = "embedding";
    if hidden == 0 || !table.len().is_multiple_of(hidden) {
        return Err(Error::shape(
            OP,
            format!("table of {} elements is not [vocab, {hidden}]", table.len()),
        ));
    }
    let vocab = table.len() / hidden;
    if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(Error::InvalidInput(format!(
            "token id {bad} is out of range (vocab size {vocab})"
        )));
    }
    need(OP, "out", out, tokens.len() * hidden)?;
    Ok(vocab)
}

/// Index of the first largest value of `row`; NaN is never chosen (an all-NaN or empty row gives
/// 0). The rule `Backend::argmax` follows on every backend, and host-side sampling too.
pub fn argmax_row(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

/// A flat copy `dst[dst_offset + i] = src[src_offset + i]` for `i < len`, from f32 into an f32, f16
/// or bf16 `dst` (rounded to nearest even): see `Backend::copy`.
#[derive(Clone, Copy, Debug)]
pub struct CopyParams {
    pub src_offset: usize,
    pub dst_offset: usize,
    pub len: usize,
}

impl CopyParams {
    pub fn check(&self, src: &impl TensorInfo, dst: &impl TensorInfo) -> Result<()> {
        want_f32("copy", "src", src)?;
        want_kv("copy", "dst", dst)?;
        need("copy", "src", src, self.src_offset + self.len)?;
        need("copy", "dst", dst, self.dst_offset + self.len)
    }
}

/// Checks an elementwise op over `len` values of each tensor.
pub fn check_elementwise(
    op: &'static str,
    tensors: &[(&str, &dyn TensorInfoDyn)],
    len: usize,
) -> Result<()> {
    for (name, t) in tensors {
        if t.elements() < len {
            return Err(Error::shape(
                op,
                format!("{name} has {} elements, needs {len}", t.elements()),
            ));
        }
    }
    Ok(())
}

/// Object-safe view of [`TensorInfo`] for [`check_elementwise`].
pub trait TensorInfoDyn {
    fn elements(&self) -> usize;
}

impl<T: TensorInfo> TensorInfoDyn for T {
    fn elements(&self) -> usize {
        self.len()
    }
}

/// One output of [`Backend::matmul_multi`]: `y = x · wᵀ` over the `n` rows of `w`.
pub struct Projection<'a, T> {
    pub w: &'a T,
    pub y: &'a mut T,
    pub n: usize,
}

/// [`Backend::matmul_multi`] as one [`Backend::matmul`] per output (the trait's default, and
/// what fusing backends fall back to for shapes they do not fuse).
pub fn matmul_multi_unfused<B: Backend + ?Sized>(
    b: &B,
    x: &B::Tensor,
    outs: &mut [Projection<'_, B::Tensor>],
    m: usize,
    k: usize,
) -> Result<()> {
    for o in outs.iter_mut() {
        b.matmul(x, o.w, o.y, &MatmulParams::new(m, o.n, k))?;
    }
    Ok(())
}

/// [`Backend::gate_up_swiglu`] as two matmuls and a SwiGLU (the trait's default).
#[allow(clippy::too_many_arguments)]
pub fn gate_up_swiglu_unfused<B: Backend + ?Sized>(
    b: &B,
    x: &B::Tensor,
    w_gate: &B::Tensor,
    w_up: &B::Tensor,
    gate: &mut B::Tensor,
    up: &mut B::Tensor,
    out: &mut B::Tensor,
    p: &MatmulParams,
) -> Result<()> {
    b.matmul(x, w_gate, gate, p)?;
    b.matmul(x, w_up, up, p)?;
    b.swiglu(gate, up, out, p.m * p.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_key_range_matches_hugging_face_rule() {
        // i - W < j <= i with W = 4: query 10 sees 7, 8, 9, 10.
        let p = AttentionParams {
            n: 1,
            start_pos: 10,
            n_heads: 4,
            n_kv_heads: 1,
            head_dim: 8,
            window: 4,
            slots: 4,
        };
        assert_eq!(p.key_range(0), 7..=10);
        // Early queries see everything before them.
        let p0 = AttentionParams {
            start_pos: 0,
            n: 3,
            ..p
        };
        assert_eq!(p0.key_range(0), 0..=0);
        assert_eq!(p0.key_range(2), 0..=2);
        assert_eq!(p0.pairs(), (1 + 2 + 3) * 4);
    }

    /// A tensor that is only a dtype and a length, for the checks.
    struct Fake(DType, usize);

    impl TensorInfo for Fake {
        fn dtype(&self) -> DType {
            self.0
        }
        fn len(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn cache_dtypes_are_checked_and_parsed() {
        let p = AttentionParams {
            n: 1,
            start_pos: 3,
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: 4,
            window: 4,
            slots: 4,
        };
        let f = |d| Fake(d, 16);
        let ok = |k, v| {
            p.check(
                &f(DType::F32),
                &f(DType::F32),
                &f(DType::F32),
                &f(k),
                &f(v),
                &f(DType::F32),
            )
        };
        for d in KV_DTYPES {
            assert!(ok(d, d).is_ok(), "{d}");
        }
        let err = ok(DType::F16, DType::BF16).unwrap_err().to_string();
        assert!(err.contains("k_cache is f16 but v_cache is bf16"), "{err}");
        let err = ok(DType::Q8_0, DType::Q8_0).unwrap_err().to_string();
        assert!(
            err.contains("k_cache must be f32, f16 or bf16, got q8_0"),
            "{err}"
        );
        let err = p
            .check(
                &f(DType::F16),
                &f(DType::F32),
                &f(DType::F32),
                &f(DType::F32),
                &f(DType::F32),
                &f(DType::F32),
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("q must be f32"), "{err}");

        let c = CopyParams {
            src_offset: 0,
            dst_offset: 0,
            len: 4,
        };
        assert!(c.check(&f(DType::F32), &f(DType::BF16)).is_ok());
        assert!(c.check(&f(DType::F16), &f(DType::F16)).is_err());
        assert!(c.check(&f(DType::F32), &f(DType::Q4K)).is_err());

        assert_eq!(parse_kv_dtype("F16").unwrap(), DType::F16);
        assert_eq!(parse_kv_dtype("bfloat16").unwrap(), DType::BF16);
        for bad in ["f8", "q8_0", ""] {
            let err = parse_kv_dtype(bad).unwrap_err().to_string();
            assert!(err.contains("expected f32, f16 or bf16"), "{err}");
        }
    }

    #[test]
    fn inv_freq_is_hugging_face_formula() {
        let p = RopeParams::new(1, 1, 8, 0, 10000.0);
        let f = p.inv_freq();
        assert_eq!(f.len(), 4);
        assert_eq!(f[0], 1.0);
        assert!((f[1] - 0.1).abs() < 1e-7);
        assert!((f[3] - 1e-3).abs() < 1e-9);
    }
}
