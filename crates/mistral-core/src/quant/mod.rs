//! GGML's block-quantized formats, defined once: the exact dequantization every backend is proven
//! against, and the reference quantizers `mistral quantize` uses.
//!
//! One format, one file, each opening with its block layout (byte offsets) and dequant formula.
//! Each has
//! - `dequantize_block(block: &[u8], out: &mut [f32])`: one block of `block_bytes()` bytes into
//!   `block_elems()` f32s, bit for bit what llama.cpp's `dequantize_row_*` (and the `gguf` Python
//!   package) computes;
//! - `quantize_block(x: &[f32], out: &mut [u8])`: llama.cpp's reference quantizer for the format
//!   (`quantize_row_*_ref`, no importance matrix), byte for byte.
//!
//! Shared pieces: `search` (ggml's `nearest_int`, `make_qx_quants`, `make_qkx2_quants`) and
//! `k_scales` (Q4_K/Q5_K's 6-bit scale packing, `get_scale_min_k4`, and their common quantizer).
//!
//! Two numeric facts the backends can lean on:
//! - Dequantization is exactly rounded. In every format each product before the last is exact in
//!   f32 (an f16 scale has 11 significant bits, a sub-block scale at most 8, a level at most 8, and
//!   `d·sc·q` needs at most 25 of which only the final product rounds), so `w` is the correctly
//!   rounded value of its formula whatever the association, and a fused multiply-add gives the
//!   same bits. The files keep ggml's order anyway.
//! - Quantization is not: the scale searches accumulate sums in f32, so their bytes depend on the
//!   operation order and on contraction into FMA. These files follow ggml's order without FMA,
//!   as stock llama.cpp builds compile `ggml-quants.c` (in `ggml-base`, without `-march=native`).
//!   Compiled with FMA contraction (`gcc -O3 -march=native` on x86-64), ggml's own Q4_K, Q5_K and
//!   Q6_K reference quantizers change about 7%, 31% and 0.4% of blocks of Gaussian data by a
//!   rounding step; the legacy formats do not change.
//!
//! C's float-to-integer conversions are reproduced as x86-64 performs them, including the cases C
//! leaves undefined (inf/NaN from blocks whose scale underflows): see `search::trunc_i32`.

mod k_scales;
pub mod planar;
pub mod q4_0;
pub mod q4_1;
pub mod q4_k;
pub mod q5_0;
pub mod q5_k;
pub mod q6_k;
pub mod q8_0;
mod search;

use crate::DType;

/// Reads the little-endian f16 at `b[i..i + 2]`, widened to f32.
#[inline(always)]
pub(crate) fn f16_at(b: &[u8], i: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[i], b[i + 1]]))
}

/// f16 bits to f32, exactly as `half` widens them (the test checks all 65,536 inputs), in plain
/// integer arithmetic that inlines into the block loops, where `half`'s run-time F16C dispatch
/// costs a call per scale.
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    let bits = match exp {
        // ±0 and subnormals: mant · 2^-24, exact in f32.
        0 => ((mant as f32) * f32::from_bits(0x3380_0000)).to_bits(),
        0x1f if mant == 0 => 0x7f80_0000,
        // NaN, quieted as the F16C instruction (and so `half`) does, payload kept.
        0x1f => 0x7fc0_0000 | (mant << 13),
        _ => ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(sign | bits)
}

/// Writes `v` rounded to f16 at `b[i..i + 2]`.
pub(crate) fn put_f16(b: &mut [u8], i: usize, v: f32) {
    b[i..i + 2].copy_from_slice(&half::f16::from_f32(v).to_bits().to_le_bytes());
}

type QuantFn = fn(&[f32], &mut [u8]);

fn quantizer(dtype: DType) -> QuantFn {
    match dtype {
        DType::Q8_0 => q8_0::quantize_block,
        DType::Q4_0 => q4_0::quantize_block,
        DType::Q4_1 => q4_1::quantize_block,
        DType::Q5_0 => q5_0::quantize_block,
        DType::Q4K => q4_k::quantize_block,
        DType::Q5K => q5_k::quantize_block,
        DType::Q6K => q6_k::quantize_block,
        DType::F32 | DType::F16 | DType::BF16 => {
            unreachable!("{dtype} is not a block format")
        }
    }
}

/// Dequantizes whole blocks of `dtype`: `bytes.len() == dtype.bytes_for(out.len())`.
pub fn dequantize(dtype: DType, bytes: &[u8], out: &mut [f32]) {
    let deq: fn(&[u8], &mut [f32]) = match dtype {
        DType::Q8_0 => q8_0::dequantize_block,
        DType::Q4_0 => q4_0::dequantize_block,
        DType::Q4_1 => q4_1::dequantize_block,
        DType::Q5_0 => q5_0::dequantize_block,
        DType::Q4K => q4_k::dequantize_block,
        DType::Q5K => q5_k::dequantize_block,
        DType::Q6K => q6_k::dequantize_block,
        DType::F32 | DType::F16 | DType::BF16 => {
            unreachable!("{dtype} is not a block format")
        }
    };
    for (b, o) in bytes
        .chunks_exact(dtype.block_bytes())
        .zip(out.chunks_exact_mut(dtype.block_elems()))
    {
        deq(b, o);
    }
}

/// Quantizes `values` (a whole number of blocks) with the format's reference quantizer.
pub fn quantize(dtype: DType, values: &[f32]) -> Vec<u8> {
    let q = quantizer(dtype);
    assert!(
        values.len().is_multiple_of(dtype.block_elems()),
        "{} values are not whole {dtype} blocks",
        values.len()
    );
    let mut out = vec![0u8; values.len() / dtype.block_elems() * dtype.block_bytes()];
    for (x, b) in values
        .chunks_exact(dtype.block_elems())
        .zip(out.chunks_exact_mut(dtype.block_bytes()))
    {
        q(x, b);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn f16_widening_equals_half_for_every_input() {
        for h in 0..=u16::MAX {
            let want = half::f16::from_bits(h).to_f32();
            assert_eq!(super::f16_to_f32(h).to_bits(), want.to_bits(), "{h:#06x}");
        }
    }
}
