//! One op, one file. Each function checks shapes through the shared parameter structs first.

pub mod add;
pub mod argmax;
pub mod attention;
pub mod copy;
pub mod embedding;
pub mod matmul;
pub mod rms_norm;
pub mod rope;
pub mod swiglu;

/// Dot product in f32 with 32 independent accumulators (four 8-wide vectors, enough to hide FMA
/// latency), compiled twice: for AVX2+FMA, chosen at run time when the CPU has them, and for the
/// baseline target. Both sum in the same order apart from FMA's single rounding.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2_FMA: OnceLock<bool> = OnceLock::new();
        if *AVX2_FMA
            .get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked above); the function only reads slices.
            return unsafe { dot_avx2_fma(a, b) };
        }
    }
    dot_lanes::<false>(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot_avx2_fma(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<true>(a, b)
}

/// `FMA` selects fused multiply-adds (only where the target has them: without hardware FMA,
/// `mul_add` is a slow library call).
#[inline(always)]
fn dot_lanes<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 32;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] = if FMA {
                x[i].mul_add(y[i], acc[i])
            } else {
                acc[i] + x[i] * y[i]
            };
        }
    }
    let mut s = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    // Pairwise reduction of the accumulators.
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0] + s
}

/// Four dot products sharing one weight row: `out[a] = x[a] · w`. Each weight value is loaded once
/// for four rows of `x` (4 × 8 accumulators), so prefill is less load-bound. Dispatched like [`dot`].
#[inline]
pub fn dot4(x: [&[f32]; 4], w: &[f32]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2_FMA: OnceLock<bool> = OnceLock::new();
        if *AVX2_FMA
            .get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
        {
            // SAFETY: the CPU supports AVX2 and FMA (checked above); the function only reads slices.
            return unsafe { dot4_avx2_fma(x, w) };
        }
    }
    dot4_lanes::<false>(x, w)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn dot4_avx2_fma(x: [&[f32]; 4], w: &[f32]) -> [f32; 4] {
    dot4_lanes::<true>(x, w)
}

#[inline(always)]
fn dot4_lanes<const FMA: bool>(x: [&[f32]; 4], w: &[f32]) -> [f32; 4] {
    const L: usize = 8;
    let k = w.len();
    let (x0, x1, x2, x3) = (&x[0][..k], &x[1][..k], &x[2][..k], &x[3][..k]);
    let mut a0 = [0.0f32; L];
    let mut a1 = [0.0f32; L];
    let mut a2 = [0.0f32; L];
    let mut a3 = [0.0f32; L];
    let chunks = k / L;
    for c in 0..chunks {
        let o = c * L;
        let wc = &w[o..o + L];
        let (c0, c1, c2, c3) = (&x0[o..o + L], &x1[o..o + L], &x2[o..o + L], &x3[o..o + L]);
        for l in 0..L {
            let wv = wc[l];
            if FMA {
                a0[l] = c0[l].mul_add(wv, a0[l]);
                a1[l] = c1[l].mul_add(wv, a1[l]);
                a2[l] = c2[l].mul_add(wv, a2[l]);
                a3[l] = c3[l].mul_add(wv, a3[l]);
            } else {
                a0[l] += c0[l] * wv;
                a1[l] += c1[l] * wv;
                a2[l] += c2[l] * wv;
                a3[l] += c3[l] * wv;
            }
        }
    }
    let sum = |v: &[f32; L], xr: &[f32]| {
        let mut s = ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
        for i in chunks * L..k {
            s += xr[i] * w[i];
        }
        s
    };
    [sum(&a0, x0), sum(&a1, x1), sum(&a2, x2), sum(&a3, x3)]
}
