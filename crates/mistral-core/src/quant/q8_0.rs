//! Q8_0: blocks of 32 weights, 34 bytes: `d: f16`, then `qs: [i8; 32]`. `w[i] = d · qs[i]`.

use super::{f16_at, put_f16};

pub const BLOCK_ELEMS: usize = 32;
pub const BLOCK_BYTES: usize = 34;

/// llama.cpp `dequantize_row_q8_0`: `y[i] = d * qs[i]` in f32.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    for (o, &q) in out.iter_mut().zip(&b[2..BLOCK_BYTES]) {
        *o = d * (q as i8) as f32;
    }
}

/// llama.cpp `quantize_row_q8_0_ref`: `d = amax / 127`, `q = round(x / d)`.
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    put_f16(b, 0, d);
    for (o, v) in b[2..BLOCK_BYTES].iter_mut().zip(x) {
        *o = ((v * id).round() as i8) as u8;
    }
}
