//! What Q4_K and Q5_K share: eight 6-bit scales and eight 6-bit mins packed in 12 bytes, and the
//! reference quantizer up to the levels (they differ only in the level count and bit packing).
//!
//! Packing of sub-block `j`'s scale `s_j` and min `m_j` (6 bits each) in `scales[0..12]`:
//! ```text
//! byte 0..4  : s_j (j = 0..4) in bits 0..6,  bits 4..6 of s_{j+4} in bits 6..8
//! byte 4..8  : m_j (j = 0..4) in bits 0..6,  bits 4..6 of m_{j+4} in bits 6..8
//! byte 8..12 : low 4 bits of s_{j+4} in bits 0..4, low 4 bits of m_{j+4} in bits 4..8
//! ```

use super::search::{make_qkx2_quants, nearest_int, Qkx2Search};
use super::{f16_at, put_f16};

/// Bytes of the packed scales and mins (`K_SCALE_SIZE`).
pub(crate) const K_SCALE_SIZE: usize = 12;

/// `get_scale_min_k4`: sub-block `j`'s 6-bit scale and min.
pub(crate) fn get_scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// The inverse of [`get_scale_min_k4`]: ORs sub-block `j`'s scale `ls` and min `lm` (both < 64)
/// into `q`, which starts zeroed.
fn put_scale_min_k4(j: usize, ls: u8, lm: u8, q: &mut [u8]) {
    if j < 4 {
        q[j] = ls;
        q[j + 4] = lm;
    } else {
        q[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        q[j - 4] |= (ls >> 4) << 6;
        q[j] |= (lm >> 4) << 6;
    }
}

/// The shared body of `quantize_row_q4_K_ref` and `quantize_row_q5_K_ref` for one 256-weight
/// block: writes `d` at byte 0, `dmin` at byte 2 and the packed scales at bytes 4..16 of `b`, and
/// the levels (`0..=search.nmax`, in weight order) to `levels`.
///
/// 1. Per 32-weight sub-block, [`make_qkx2_quants`] with weights `w_i = rms(x) + |x_i|` gives a
///    scale and a min.
/// 2. Scales and mins become 6-bit integers relative to their largest: `d = max_scale / 63`,
///    `ls = nearest_int(63 / max_scale · scale)` (likewise for mins), rounded to f16.
/// 3. The levels are recomputed against the rounded scales: `l = nearest_int((x + dmin·m) / (d·s))`
///    clamped to `[0, nmax]`; a sub-block whose rounded scale is 0 keeps its search levels.
pub(crate) fn quantize_scales_mins(
    search: &Qkx2Search,
    x: &[f32],
    b: &mut [u8],
    levels: &mut [u8; 256],
) {
    let mut scales = [0.0f32; 8];
    let mut mins = [0.0f32; 8];
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    for (j, xs) in x.chunks_exact(32).enumerate() {
        let sum_x2 = xs.iter().fold(0.0f32, |s, v| s + v * v);
        let av_x = (sum_x2 / 32.0).sqrt();
        let mut weights = [0.0f32; 32];
        for (w, v) in weights.iter_mut().zip(xs) {
            *w = av_x + v.abs();
        }
        let (scale, min) = make_qkx2_quants(search, xs, &weights, &mut levels[32 * j..32 * j + 32]);
        scales[j] = scale;
        mins[j] = min;
        if scale > max_scale {
            max_scale = scale;
        }
        if min > max_min {
            max_min = min;
        }
    }

    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let packed = &mut b[4..4 + K_SCALE_SIZE];
    packed.fill(0);
    for j in 0..8 {
        // C stores the int in a uint8_t (wrapping) before clamping to 63.
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        put_scale_min_k4(j, ls, lm, packed);
    }
    put_f16(b, 0, max_scale / 63.0);
    put_f16(b, 2, max_min / 63.0);

    let (d_all, dmin_all) = (f16_at(b, 0), f16_at(b, 2));
    for (j, xs) in x.chunks_exact(32).enumerate() {
        let (sc, m) = get_scale_min_k4(j, &b[4..4 + K_SCALE_SIZE]);
        let d = d_all * sc as f32;
        if d == 0.0 {
            continue;
        }
        let dm = dmin_all * m as f32;
        for (l, &v) in levels[32 * j..32 * j + 32].iter_mut().zip(xs) {
            *l = nearest_int((v + dm) / d).clamp(0, search.nmax) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_min_packing_round_trips() {
        let mut q = [0u8; K_SCALE_SIZE];
        let want: Vec<(u8, u8)> = (0..8)
            .map(|j| ((j * 9 + 5) % 64, (63 - j * 7) % 64))
            .collect();
        for (j, &(s, m)) in want.iter().enumerate() {
            put_scale_min_k4(j, s, m, &mut q);
        }
        for (j, &sm) in want.iter().enumerate() {
            assert_eq!(get_scale_min_k4(j, &q), sm, "sub-block {j}");
        }
    }
}
