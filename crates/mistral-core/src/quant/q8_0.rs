//! Q8_0: 32 weights in 34 bytes, symmetric 8-bit.
//!
//! ```text
//! offset 0  : d       f16 scale
//! offset 2  : qs[32]  i8 levels, weight j in qs[j]
//! ```
//! Dequantization (`dequantize_row_q8_0`): `w = q · d`, one f32 product.

use super::search::trunc_i32;
use super::{f16_at, put_f16};

/// Weights per block.
pub const BLOCK_ELEMS: usize = 32;
/// Bytes per block.
pub const BLOCK_BYTES: usize = 34;

/// llama.cpp `dequantize_row_q8_0` for one block.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    for (o, &q) in out[..BLOCK_ELEMS].iter_mut().zip(&b[2..BLOCK_BYTES]) {
        *o = (q as i8) as f32 * d;
    }
}

/// llama.cpp `quantize_row_q8_0_ref`: `d = amax / 127`, `q = roundf(x / d)` (ties away from zero),
/// computed as `x · (1/d)` in f32.
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    let x = &x[..BLOCK_ELEMS];
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, 0, d);
    for (o, &v) in b[2..BLOCK_BYTES].iter_mut().zip(x) {
        // C converts the rounded float to int8_t; see `trunc_i32` for the degenerate inf/NaN case.
        *o = trunc_i32((v * id).round()) as u8;
    }
}
