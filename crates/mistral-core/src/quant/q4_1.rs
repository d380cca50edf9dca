//! Q4_1: 32 weights in 20 bytes, 4-bit with an offset.
//!
//! ```text
//! offset 0  : d       f16 scale
//! offset 2  : m       f16 offset (the block's minimum)
//! offset 4  : qs[16]  weight j in the low nibble of qs[j], weight j + 16 in the high nibble
//! ```
//! Dequantization (`dequantize_row_q4_1`): `w = q · d + m`, a product then a sum in f32.

use super::search::trunc_i32;
use super::{f16_at, put_f16};

/// Weights per block.
pub const BLOCK_ELEMS: usize = 32;
/// Bytes per block.
pub const BLOCK_BYTES: usize = 20;

/// llama.cpp `dequantize_row_q4_1` for one block.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let (lo, hi) = out[..BLOCK_ELEMS].split_at_mut(16);
    for ((&q, l), h) in b[4..BLOCK_BYTES].iter().zip(lo).zip(hi) {
        *l = (q & 0xf) as f32 * d + m;
        *h = (q >> 4) as f32 * d + m;
    }
}

/// llama.cpp `quantize_row_q4_1_ref`: `d = (max − min) / 15`, `m = min`, and
/// `q = min(15, trunc((x − min) / d + 0.5))`.
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    let x = &x[..BLOCK_ELEMS];
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, 0, d);
    put_f16(b, 2, min);
    let level = |v: f32| (trunc_i32((v - min) * id + 0.5) as i8).min(15) as u8;
    for (j, o) in b[4..BLOCK_BYTES].iter_mut().enumerate() {
        *o = level(x[j]) | (level(x[j + 16]) << 4);
    }
}
