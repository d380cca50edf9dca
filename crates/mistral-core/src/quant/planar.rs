//! The planar layout GPU backends store block formats in: the same bytes as GGML's blocks,
//! regrouped so that every block's quant bytes start on a 16-byte boundary.
//!
//! GGML blocks are 34, 18, 20, 22, 144, 176 or 210 bytes, so most are only 2-byte aligned and a
//! 16-byte vector load cannot address their quants. A tensor of `nb` blocks is stored instead as
//!
//! ```text
//! [ payload plane: nb × P bytes ][ meta plane: nb × M bytes ]      P + M = block_bytes
//! ```
//!
//! both in block order (row-major: row r's blocks are r·k/B .. (r+1)·k/B). Each block's *payload*
//! is one contiguous byte range of the GGML block, copied unchanged; its *meta* is the rest of the
//! block (the scales), also in GGML order. P is a multiple of 16 in every format, so with a
//! 16-byte aligned buffer every payload and the meta plane itself are 16-byte aligned.
//!
//! ```text
//! format  B    payload (GGML bytes)           P    meta (GGML bytes)                  M
//! Q8_0    32   qs[32]          2..34          32   d                      0..2        2
//! Q4_0    32   qs[16]          2..18          16   d                      0..2        2
//! Q4_1    32   qs[16]          4..20          16   d, m                   0..4        4
//! Q5_0    32   qs[16]          6..22          16   d, qh[4]               0..6        6
//! Q4_K    256  qs[128]         16..144        128  d, dmin, scales[12]    0..16       16
//! Q5_K    256  qh[32], qs[128] 16..176        160  d, dmin, scales[12]    0..16       16
//! Q6_K    256  ql[128], qh[64] 0..192         192  scales[16], d          192..210    18
//! ```
//!
//! Inside the payload and the meta every byte keeps its GGML meaning, so the per-format files'
//! layout comments and dequantizers apply with offsets shifted by the payload's start. The CUDA
//! kernels (`kernels/quant.cuh`) read this layout.

use crate::DType;

/// Where a block's payload lies inside the GGML block: `(start, len)`; the meta is the rest.
///
/// Only defined for the block formats; `None` for f32, f16 and bf16.
pub fn payload_range(dtype: DType) -> Option<(usize, usize)> {
    Some(match dtype {
        DType::Q8_0 => (2, 32),
        DType::Q4_0 => (2, 16),
        DType::Q4_1 => (4, 16),
        DType::Q5_0 => (6, 16),
        DType::Q4K => (16, 128),
        DType::Q5K => (16, 160),
        DType::Q6K => (0, 192),
        DType::F32 | DType::F16 | DType::BF16 => return None,
    })
}

/// Payload bytes per block (`P` above); 0 for the float types.
pub fn payload_bytes(dtype: DType) -> usize {
    payload_range(dtype).map_or(0, |(_, len)| len)
}

/// Meta bytes per block (`M` above); 0 for the float types.
pub fn meta_bytes(dtype: DType) -> usize {
    payload_range(dtype).map_or(0, |(_, len)| dtype.block_bytes() - len)
}

/// GGML blocks to the planar layout. `bytes` must be whole blocks of a block format (the float
/// types have no planar form and are returned unchanged).
pub fn to_planar(dtype: DType, bytes: &[u8]) -> Vec<u8> {
    let Some((start, len)) = payload_range(dtype) else {
        return bytes.to_vec();
    };
    let bb = dtype.block_bytes();
    debug_assert!(bytes.len().is_multiple_of(bb));
    let nb = bytes.len() / bb;
    let mut out = vec![0u8; bytes.len()];
    let (payload, meta) = out.split_at_mut(nb * len);
    let m = bb - len;
    for (i, b) in bytes.chunks_exact(bb).enumerate() {
        payload[i * len..(i + 1) * len].copy_from_slice(&b[start..start + len]);
        let md = &mut meta[i * m..(i + 1) * m];
        md[..start].copy_from_slice(&b[..start]);
        md[start..].copy_from_slice(&b[start + len..]);
    }
    out
}

/// The planar layout back to GGML blocks (the inverse of [`to_planar`]).
pub fn from_planar(dtype: DType, planar: &[u8]) -> Vec<u8> {
    let Some((start, len)) = payload_range(dtype) else {
        return planar.to_vec();
    };
    let bb = dtype.block_bytes();
    debug_assert!(planar.len().is_multiple_of(bb));
    let nb = planar.len() / bb;
    let (payload, meta) = planar.split_at(nb * len);
    let m = bb - len;
    let mut out = vec![0u8; planar.len()];
    for (i, b) in out.chunks_exact_mut(bb).enumerate() {
        let md = &meta[i * m..(i + 1) * m];
        b[..start].copy_from_slice(&md[..start]);
        b[start..start + len].copy_from_slice(&payload[i * len..(i + 1) * len]);
        b[start + len..].copy_from_slice(&md[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{dequantize, f16_to_f32};
    use crate::rng::Rng;

    fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| (rng.range(0.0, 256.0) as u32).min(255) as u8)
            .collect()
    }

    /// Random blocks whose f16 fields are finite (exponent field below 0x1f), so dequantized
    /// values compare with `==`.
    fn random_blocks(dtype: DType, nb: usize, seed: u64) -> Vec<u8> {
        let mut b = random_bytes(seed, nb * dtype.block_bytes());
        let f16_offsets: &[usize] = match dtype {
            DType::Q8_0 | DType::Q4_0 | DType::Q5_0 => &[0],
            DType::Q4_1 | DType::Q4K | DType::Q5K => &[0, 2],
            DType::Q6K => &[208],
            _ => &[],
        };
        for blk in b.chunks_exact_mut(dtype.block_bytes()) {
            for &o in f16_offsets {
                blk[o + 1] &= 0x3b; // exponent ≤ 0x0e: |v| < 2, finite
            }
        }
        b
    }

    #[test]
    fn every_payload_is_sixteen_byte_sized_and_sizes_add_up() {
        for dtype in DType::QUANTIZED {
            assert_eq!(payload_bytes(dtype) % 16, 0, "{dtype}");
            assert_eq!(
                payload_bytes(dtype) + meta_bytes(dtype),
                dtype.block_bytes(),
                "{dtype}"
            );
        }
        assert_eq!(payload_range(DType::BF16), None);
    }

    #[test]
    fn planar_round_trips_random_blocks() {
        for (i, dtype) in DType::QUANTIZED.into_iter().enumerate() {
            let ggml = random_bytes(10 + i as u64, 7 * dtype.block_bytes());
            let planar = to_planar(dtype, &ggml);
            assert_eq!(planar.len(), ggml.len());
            assert_ne!(planar, ggml, "{dtype}: the layout changes");
            assert_eq!(from_planar(dtype, &planar), ggml, "{dtype}");
        }
    }

    /// A host twin of the kernels' per-element decode (`deq_elem` in kernels/quant.cuh), reading
    /// the planar layout directly: block `b`'s payload and meta, weight `e` of the block.
    fn planar_elem(dtype: DType, planar: &[u8], nb: usize, b: usize, e: usize) -> f32 {
        let (p, m) = (payload_bytes(dtype), meta_bytes(dtype));
        let q = &planar[b * p..(b + 1) * p];
        let md = &planar[nb * p + b * m..nb * p + (b + 1) * m];
        let f16 = |i: usize| f16_to_f32(u16::from_le_bytes([md[i], md[i + 1]]));
        let nib = |i: usize, hi: bool| if hi { q[i] >> 4 } else { q[i] & 0xf };
        match dtype {
            DType::Q8_0 => (q[e] as i8) as f32 * f16(0),
            DType::Q4_0 => (nib(e % 16, e >= 16) as i32 - 8) as f32 * f16(0),
            DType::Q4_1 => nib(e % 16, e >= 16) as f32 * f16(0) + f16(2),
            DType::Q5_0 => {
                let qh = u32::from_le_bytes([md[2], md[3], md[4], md[5]]);
                let v = nib(e % 16, e >= 16) as u32 | ((qh >> e) & 1) << 4;
                (v as i32 - 16) as f32 * f16(0)
            }
            DType::Q4K | DType::Q5K => {
                let (sb, c, i) = (e / 32, e / 64, e % 32);
                let (sc, mn) = super::super::k_scales::get_scale_min_k4(sb, &md[4..16]);
                let qs = if dtype == DType::Q5K { 32 } else { 0 };
                let mut v = nib(qs + 32 * c + i, sb % 2 == 1) as u32;
                if dtype == DType::Q5K {
                    v |= ((q[i] >> sb) & 1) as u32 * 16;
                }
                f16(0) * sc as f32 * v as f32 - f16(2) * mn as f32
            }
            DType::Q6K => {
                let (h, r) = (e / 128, e % 128);
                let (kq, l) = (r / 32, r % 32);
                let lo = nib(64 * h + l + 32 * (kq % 2), kq >= 2);
                let hi = (q[128 + 32 * h + l] >> (2 * kq)) & 3;
                let v = (lo | hi << 4) as i32 - 32;
                f16(16) * (md[8 * h + l / 16 + 2 * kq] as i8) as f32 * v as f32
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn dequantizing_the_planar_form_equals_dequantize() {
        for (i, dtype) in DType::QUANTIZED.into_iter().enumerate() {
            let nb = 5;
            let ggml = random_blocks(dtype, nb, 40 + i as u64);
            let mut want = vec![0.0f32; nb * dtype.block_elems()];
            dequantize(dtype, &ggml, &mut want);
            let planar = to_planar(dtype, &ggml);
            for (j, w) in want.iter().enumerate() {
                let (b, e) = (j / dtype.block_elems(), j % dtype.block_elems());
                let got = planar_elem(dtype, &planar, nb, b, e);
                assert_eq!(got.to_bits(), w.to_bits(), "{dtype} block {b} weight {e}");
            }
        }
    }
}
