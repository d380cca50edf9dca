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
