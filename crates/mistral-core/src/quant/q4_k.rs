//! Q4_K: 256 weights in 144 bytes: eight sub-blocks of 32, each with a 6-bit scale and a 6-bit
//! min relative to the block's f16 `d` and `dmin`, and 4-bit levels.
//!
//! ```text
//! offset 0   : d          f16 scale of the sub-block scales
//! offset 2   : dmin       f16 scale of the sub-block mins
//! offset 4   : scales[12] eight 6-bit scales and eight 6-bit mins (packing: `k_scales`)
//! offset 16  : qs[128]    four chunks of 32 bytes; chunk c holds weights 64c..64c+32 in the low
//!                         nibbles and 64c+32..64c+64 in the high nibbles
//! ```
//! Dequantization (`dequantize_row_q4_K`), sub-block `j` with scale `sc` and min `m`:
//! `d1 = d · sc; m1 = dmin · m; w = d1 · q − m1`, each step an f32 operation.

use super::f16_at;
use super::k_scales::{get_scale_min_k4, quantize_scales_mins, K_SCALE_SIZE};
use super::search::Qkx2Search;

/// Weights per block.
pub const BLOCK_ELEMS: usize = 256;
/// Bytes per block.
pub const BLOCK_BYTES: usize = 144;

const QS: usize = 4 + K_SCALE_SIZE;

/// llama.cpp `dequantize_row_q4_K` for one block.
pub fn dequantize_block(b: &[u8], out: &mut [f32]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..QS];
    for (c, (qs, ys)) in b[QS..BLOCK_BYTES]
        .chunks_exact(32)
        .zip(out[..BLOCK_ELEMS].chunks_exact_mut(64))
        .enumerate()
    {
        let (sc1, m1) = get_scale_min_k4(2 * c, scales);
        let (sc2, m2) = get_scale_min_k4(2 * c + 1, scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        let (lo, hi) = ys.split_at_mut(32);
        for ((&q, l), h) in qs.iter().zip(lo).zip(hi) {
            *l = d1 * (q & 0xf) as f32 - m1;
            *h = d2 * (q >> 4) as f32 - m2;
        }
    }
}

/// llama.cpp `quantize_row_q4_K_ref`: per sub-block `make_qkx2_quants(nmax 15, rmin −1,
/// rdelta 0.1, nstep 20)`, then 6-bit scales and mins (see `k_scales::quantize_scales_mins`).
pub fn quantize_block(x: &[f32], b: &mut [u8]) {
    const SEARCH: Qkx2Search = Qkx2Search {
        nmax: 15,
        rmin: -1.0,
        rdelta: 0.1,
        nstep: 20,
    };
    let mut levels = [0u8; 256];
    quantize_scales_mins(&SEARCH, &x[..BLOCK_ELEMS], b, &mut levels);
    for (qs, l) in b[QS..BLOCK_BYTES]
        .chunks_exact_mut(32)
        .zip(levels.chunks_exact(64))
    {
        for (i, q) in qs.iter_mut().enumerate() {
            *q = l[i] | (l[i + 32] << 4);
        }
    }
}
