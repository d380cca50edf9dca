//! Q4_0: 32 weights in 18 bytes, symmetric 4-bit.
//!
//! ```text
//! offset 0  : d       f16 scale
//! offset 2  : qs[16]  weight j in the low nibble of qs[j], weight j + 16 in the high nibble
//! ```
//! Dequantization (`dequantize_row_q4_0`): `w = (q − 8) · d`, one f32 product.

use super::search::trunc_i32;
use super::{f16_at, put_f16};

/// Weights per block.
pub const BLOCK_ELEMS: usize = 32;
/// Bytes per block.
pub const BLOCK_BYTES: usize = 18;

/// llama.cpp `dequantize_row_q4_0` for one block.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let (lo, hi) = out[..BLOCK_ELEMS].split_at_mut(16);
    for ((&q, l), h) in b[2..BLOCK_BYTES].iter().zip(lo).zip(hi) {
        *l = ((q & 0xf) as i32 - 8) as f32 * d;
        *h = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

/// llama.cpp `quantize_row_q4_0_ref`: `max` is the weight of largest magnitude (first one on
/// ties), `d = max / −8` (so `max` maps to level 0 and the other sign gets the 8 levels above the
/// midpoint), and `q = min(15, trunc(x / d + 8.5))`.
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    let x = &x[..BLOCK_ELEMS];
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, 0, d);
    let level = |v: f32| (trunc_i32(v * id + 8.5) as i8).min(15) as u8;
    for (j, o) in b[2..BLOCK_BYTES].iter_mut().enumerate() {
        *o = level(x[j]) | (level(x[j + 16]) << 4);
    }
}
