//! Q5_K: 256 weights in 176 bytes: like Q4_K with a fifth bit per weight.
//!
//! ```text
//! offset 0   : d          f16 scale of the sub-block scales
//! offset 2   : dmin       f16 scale of the sub-block mins
//! offset 4   : scales[12] eight 6-bit scales and eight 6-bit mins (packing: `k_scales`)
//! offset 16  : qh[32]     fifth bits: bit s of qh[i] belongs to weight 32s + i (sub-block s)
//! offset 48  : qs[128]    low 4 bits, as Q4_K's qs: chunk c holds weights 64c..64c+32 in the
//!                         low nibbles and 64c+32..64c+64 in the high nibbles
//! ```
//! Dequantization (`dequantize_row_q5_K`), sub-block `j` with scale `sc` and min `m`:
//! `d1 = d · sc; m1 = dmin · m; w = d1 · (q_low + 16·bit) − m1`, each step an f32 operation.

use super::f16_at;
use super::k_scales::{get_scale_min_k4, quantize_scales_mins, K_SCALE_SIZE};
use super::search::Qkx2Search;

/// Weights per block.
pub const BLOCK_ELEMS: usize = 256;
/// Bytes per block.
pub const BLOCK_BYTES: usize = 176;

const QH: usize = 4 + K_SCALE_SIZE;
const QS: usize = QH + 32;

/// llama.cpp `dequantize_row_q5_K` for one block.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..QH];
    let qh = &b[QH..QS];
    for (c, (qs, ys)) in b[QS..BLOCK_BYTES]
        .chunks_exact(32)
        .zip(out[..BLOCK_ELEMS].chunks_exact_mut(64))
        .enumerate()
    {
        let (sc1, m1) = get_scale_min_k4(2 * c, scales);
        let (sc2, m2) = get_scale_min_k4(2 * c + 1, scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        let (u1, u2) = (1u8 << (2 * c), 2u8 << (2 * c));
        let (lo, hi) = ys.split_at_mut(32);
        for (((&q, &h), l), hv) in qs.iter().zip(qh).zip(lo).zip(hi) {
            let q1 = (q & 0xf) + if h & u1 != 0 { 16 } else { 0 };
            let q2 = (q >> 4) + if h & u2 != 0 { 16 } else { 0 };
            *l = d1 * q1 as f32 - m1;
            *hv = d2 * q2 as f32 - m2;
        }
    }
}

/// llama.cpp `quantize_row_q5_K_ref`: per sub-block `make_qkx2_quants(nmax 31, rmin −0.5,
/// rdelta 0.1, nstep 15)` (Q5_K's search is narrower than Q4_K's), then 6-bit scales and mins
/// (see `k_scales::quantize_scales_mins`).
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    const SEARCH: Qkx2Search = Qkx2Search {
        nmax: 31,
        rmin: -0.5,
        rdelta: 0.1,
        nstep: 15,
    };
    let mut levels = [0u8; 256];
    quantize_scales_mins(&SEARCH, &x[..BLOCK_ELEMS], b, &mut levels);
    let (qh, qs) = b[QH..BLOCK_BYTES].split_at_mut(32);
    qh.fill(0);
    for (c, (qs, l)) in qs
        .chunks_exact_mut(32)
        .zip(levels.chunks_exact(64))
        .enumerate()
    {
        let (u1, u2) = (1u8 << (2 * c), 2u8 << (2 * c));
        for (i, q) in qs.iter_mut().enumerate() {
            let (l1, l2) = (l[i], l[i + 32]);
            if l1 > 15 {
                qh[i] |= u1;
            }
            if l2 > 15 {
                qh[i] |= u2;
            }
            *q = (l1 & 0xf) | ((l2 & 0xf) << 4);
        }
    }
}
