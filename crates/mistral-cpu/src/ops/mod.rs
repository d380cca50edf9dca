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

/// Dot product with eight independent accumulators so the compiler can vectorise it.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}
