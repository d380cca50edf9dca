//! Q6_K: 256 weights in 210 bytes: sixteen sub-blocks of 16, each with an i8 scale relative to
//! the block's f16 `d`, and 6-bit levels stored as `q − 32`.
//!
//! ```text
//! offset 0   : ql[128]    low 4 bits. Half h (weights 128h..128h+128) uses ql[64h..64h+64]:
//!                         ql[64h + i] holds weight 128h + i (low nibble) and 128h + 64 + i
//!                         (high nibble), for i in 0..64
//! offset 128 : qh[64]     high 2 bits. qh[32h + i] holds, in bit pairs 0, 2, 4, 6, weights
//!                         128h + i, + 32, + 64, + 96 (i in 0..32)
//! offset 192 : scales[16] i8 scale of each 16-weight sub-block
//! offset 208 : d          f16 super-scale
//! ```
//! Dequantization (`dequantize_row_q6_K`): `w = d · sc · (q − 32)`, evaluated as
//! `(d · sc) · (q − 32)` in f32.

use super::search::{make_qx_quants, nearest_int};
use super::{f16_at, put_f16};

/// Weights per block.
pub const BLOCK_ELEMS: usize = 256;
/// Bytes per block.
pub const BLOCK_BYTES: usize = 210;

const QH: usize = 128;
const SCALES: usize = 192;
const D: usize = 208;

/// Below this the largest sub-block scale counts as zero and the block is all zeros
/// (`GROUP_MAX_EPS`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// llama.cpp `dequantize_row_q6_K` for one block.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, D);
    for h in 0..2 {
        let ql = &b[64 * h..64 * h + 64];
        let qh = &b[QH + 32 * h..QH + 32 * h + 32];
        let sc = &b[SCALES + 8 * h..SCALES + 8 * h + 8];
        let y = &mut out[128 * h..128 * h + 128];
        for l in 0..32 {
            let is = l / 16;
            let q = [
                (ql[l] & 0xf) | ((qh[l] & 3) << 4),
                (ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4),
                (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4),
                (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4),
            ];
            for (k, &q) in q.iter().enumerate() {
                let scale = sc[is + 2 * k] as i8;
                y[l + 32 * k] = d * scale as f32 * (q as i32 - 32) as f32;
            }
        }
    }
}

/// llama.cpp `quantize_row_q6_K_ref`: per 16-weight sub-block `make_qx_quants(nmax 32,
/// rmse_type 1)`; the scale of largest magnitude `max_scale` sets `d = max_scale / −128` and each
/// sub-block stores `min(127, nearest_int(scale / d))`; the levels are recomputed against the
/// rounded scales, `l = clamp(nearest_int(x / (d · sc)), −32, 31) + 32`.
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    let x = &x[..BLOCK_ELEMS];
    let mut levels = [0i8; 256];
    let mut scales = [0.0f32; 16];
    let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
    for ((s, xs), ls) in scales
        .iter_mut()
        .zip(x.chunks_exact(16))
        .zip(levels.chunks_exact_mut(16))
    {
        *s = make_qx_quants(32, xs, ls);
        if s.abs() > max_abs_scale {
            max_abs_scale = s.abs();
            max_scale = *s;
        }
    }
    b[..BLOCK_BYTES].fill(0);
    if max_abs_scale < GROUP_MAX_EPS {
        return;
    }

    let iscale = -128.0 / max_scale;
    put_f16(b, D, 1.0 / iscale);
    for (o, &s) in b[SCALES..D].iter_mut().zip(&scales) {
        *o = nearest_int(iscale * s).min(127) as i8 as u8;
    }
    let d_all = f16_at(b, D);
    for j in 0..16 {
        let d = d_all * b[SCALES + j] as i8 as f32;
        if d == 0.0 {
            continue;
        }
        for (l, &v) in levels[16 * j..16 * j + 16].iter_mut().zip(&x[16 * j..]) {
            *l = (nearest_int(v / d).clamp(-32, 31) + 32) as i8;
        }
    }

    let (ql, rest) = b[..D].split_at_mut(QH);
    let qh = &mut rest[..SCALES - QH];
    for h in 0..2 {
        let l = &levels[128 * h..128 * h + 128];
        let ql = &mut ql[64 * h..64 * h + 64];
        let qh = &mut qh[32 * h..32 * h + 32];
        for i in 0..32 {
            let q = [l[i], l[i + 32], l[i + 64], l[i + 96]].map(|v| v as u8);
            ql[i] = (q[0] & 0xf) | ((q[2] & 0xf) << 4);
            ql[i + 32] = (q[1] & 0xf) | ((q[3] & 0xf) << 4);
            qh[i] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
        }
    }
}
