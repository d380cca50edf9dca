//! Q5_0: 32 weights in 22 bytes, symmetric 5-bit.
//!
//! ```text
//! offset 0  : d       f16 scale
//! offset 2  : qh[4]   little-endian u32: bit j is the fifth bit of weight j
//! offset 6  : qs[16]  low 4 bits: weight j in the low nibble of qs[j], j + 16 in the high nibble
//! ```
//! Dequantization (`dequantize_row_q5_0`): `w = (q − 16) · d`, one f32 product.

use super::search::trunc_i32;
use super::{f16_at, put_f16};

/// Weights per block.
pub const BLOCK_ELEMS: usize = 32;
/// Bytes per block.
pub const BLOCK_BYTES: usize = 22;

/// llama.cpp `dequantize_row_q5_0` for one block.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let (lo, hi) = out[..BLOCK_ELEMS].split_at_mut(16);
    for (j, ((&q, l), h)) in b[6..BLOCK_BYTES].iter().zip(lo).zip(hi).enumerate() {
        let bit_lo = ((qh >> j) & 1) << 4;
        let bit_hi = ((qh >> (j + 16)) & 1) << 4;
        *l = ((q as u32 & 0xf | bit_lo) as i32 - 16) as f32 * d;
        *h = ((q as u32 >> 4 | bit_hi) as i32 - 16) as f32 * d;
    }
}

/// llama.cpp `quantize_row_q5_0_ref`: `max` is the weight of largest magnitude (first one on
/// ties), `d = max / −16`, and `q = min(31, trunc(x / d + 16.5))`.
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    let x = &x[..BLOCK_ELEMS];
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -16.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, 0, d);
    let level = |v: f32| (trunc_i32(v * id + 16.5) as i8).min(31) as u8;
    let mut qh = 0u32;
    for (j, o) in b[6..BLOCK_BYTES].iter_mut().enumerate() {
        let (q0, q1) = (level(x[j]), level(x[j + 16]));
        *o = (q0 & 0xf) | ((q1 & 0xf) << 4);
        qh |= ((q0 as u32 & 0x10) >> 4) << j;
        qh |= ((q1 as u32 & 0x10) >> 4) << (j + 16);
    }
    b[2..6].copy_from_slice(&qh.to_le_bytes());
}
