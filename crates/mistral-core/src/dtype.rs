//! Element types. Weights may be stored as f32, f16, bf16 or one of GGML's block-quantized
//! formats; activations, the KV cache and logits are always f32.
//!
//! A block format packs `block_elems()` consecutive weights of one row into `block_bytes()` bytes
//! (a scale or two and small integers). The exact layouts and their dequantization are GGML's,
//! defined once in [`crate::quant`]: every backend is proven against those functions.

use std::fmt;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    BF16,
    /// 32 weights: f16 scale `d`, 32 × i8. `w = d·q`.
    Q8_0,
    /// 32 weights: f16 `d`, 32 × 4-bit. `w = d·(q − 8)`.
    Q4_0,
    /// 32 weights: f16 `d`, f16 `m`, 32 × 4-bit. `w = d·q + m`.
    Q4_1,
    /// 32 weights: f16 `d`, 32 high bits, 32 × 4-bit low bits. `w = d·(q − 16)`.
    Q5_0,
    /// 256 weights in 8 sub-blocks of 32: f16 `d`, `dmin`, 6-bit scales and mins, 4-bit quants.
    Q4K,
    /// 256 weights in 8 sub-blocks of 32: like Q4_K with a fifth bit per weight.
    Q5K,
    /// 256 weights in 16 sub-blocks of 16: 6-bit quants, i8 scales, f16 `d`.
    Q6K,
}

/// GGML's type ids (`enum ggml_type`), with the names llama.cpp prints, for every id a GGUF file
/// may carry. Only some are [`DType`]s; the rest are named in the error that refuses them.
const GGML_TYPE_NAMES: &[(u32, &str)] = &[
    (0, "F32"),
    (1, "F16"),
    (2, "Q4_0"),
    (3, "Q4_1"),
    (6, "Q5_0"),
    (7, "Q5_1"),
    (8, "Q8_0"),
    (9, "Q8_1"),
    (10, "Q2_K"),
    (11, "Q3_K"),
    (12, "Q4_K"),
    (13, "Q5_K"),
    (14, "Q6_K"),
    (15, "Q8_K"),
    (16, "IQ2_XXS"),
    (17, "IQ2_XS"),
    (18, "IQ3_XXS"),
    (19, "IQ1_S"),
    (20, "IQ4_NL"),
    (21, "IQ3_S"),
    (22, "IQ2_S"),
    (23, "IQ4_XS"),
    (24, "I8"),
    (25, "I16"),
    (26, "I32"),
    (27, "I64"),
    (28, "F64"),
    (29, "IQ1_M"),
    (30, "BF16"),
    (34, "TQ1_0"),
    (35, "TQ2_0"),
    (39, "MXFP4"),
];

impl DType {
    /// Every dtype, floats first.
    pub const ALL: [DType; 10] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
    ];

    /// The block-quantized formats.
    pub const QUANTIZED: [DType; 7] = [
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
    ];

    /// Elements per block: 1 for f32/f16/bf16, 32 for the legacy formats, 256 for K-quants.
    pub fn block_elems(self) -> usize {
        match self {
            DType::F32 | DType::F16 | DType::BF16 => 1,
            DType::Q8_0 | DType::Q4_0 | DType::Q4_1 | DType::Q5_0 => 32,
            DType::Q4K | DType::Q5K | DType::Q6K => 256,
        }
    }

    /// Bytes per block (GGML's `type_size`).
    pub fn block_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::Q8_0 => 34,
            DType::Q4_0 => 18,
            DType::Q4_1 => 20,
            DType::Q5_0 => 22,
            DType::Q4K => 144,
            DType::Q5K => 176,
            DType::Q6K => 210,
        }
    }

    /// Whether this is a block-quantized format.
    pub fn is_quantized(self) -> bool {
        self.block_elems() > 1
    }

    /// Bytes of `elems` elements, or `None` when `elems` is not a whole number of blocks or the
    /// size overflows.
    pub fn bytes_for(self, elems: usize) -> Option<usize> {
        if !elems.is_multiple_of(self.block_elems()) {
            return None;
        }
        (elems / self.block_elems()).checked_mul(self.block_bytes())
    }

    /// Elements held by `bytes` bytes (whole blocks only).
    pub fn elems_in(self, bytes: usize) -> usize {
        bytes / self.block_bytes() * self.block_elems()
    }

    /// Bits per weight, scales included (4.5 for Q4_K, 8.5 for Q8_0, 16 for bf16).
    pub fn bits_per_weight(self) -> f64 {
        (self.block_bytes() * 8) as f64 / self.block_elems() as f64
    }

    /// GGML's type id.
    pub fn ggml_type(self) -> u32 {
        match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::Q4_0 => 2,
            DType::Q4_1 => 3,
            DType::Q5_0 => 6,
            DType::Q8_0 => 8,
            DType::Q4K => 12,
            DType::Q5K => 13,
            DType::Q6K => 14,
            DType::BF16 => 30,
        }
    }

    /// The dtype of GGML type id `id`, or `None` for one this workspace does not run.
    pub fn from_ggml_type(id: u32) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.ggml_type() == id)
    }

    /// llama.cpp's name of GGML type id `id` (`Q5_1`, `IQ2_XS`, …), known or not to this workspace.
    pub fn ggml_type_name(id: u32) -> Option<&'static str> {
        GGML_TYPE_NAMES
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, n)| *n)
    }

    /// The name used in safetensors headers ("F32", "F16", "BF16"); `None` for block formats,
    /// which safetensors cannot hold.
    pub fn safetensors_name(self) -> Option<&'static str> {
        match self {
            DType::F32 => Some("F32"),
            DType::F16 => Some("F16"),
            DType::BF16 => Some("BF16"),
            _ => None,
        }
    }

    /// Parses a user-facing name, case-insensitive: `f32`, `f16`/`float16`, `bf16`/`bfloat16`,
    /// `q8_0`, `q4_0`, `q4_1`, `q5_0`, `q4_k`, `q5_k`, `q6_k`.
    pub fn parse(s: &str) -> Option<DType> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Some(DType::F32),
            "f16" | "float16" | "half" => Some(DType::F16),
            "bf16" | "bfloat16" => Some(DType::BF16),
            "q8_0" => Some(DType::Q8_0),
            "q4_0" => Some(DType::Q4_0),
            "q4_1" => Some(DType::Q4_1),
            "q5_0" => Some(DType::Q5_0),
            "q4_k" => Some(DType::Q4K),
            "q5_k" => Some(DType::Q5K),
            "q6_k" => Some(DType::Q6K),
            _ => None,
        }
    }

    /// Decodes little-endian bytes of this dtype into f32 values, exactly: f16 and bf16 widen
    /// losslessly, block formats dequantize as GGML does ([`crate::quant::dequantize`]).
    ///
    /// `bytes.len()` must equal `self.bytes_for(out.len())`.
    pub fn decode_into(self, bytes: &[u8], out: &mut [f32]) {
        debug_assert_eq!(Some(bytes.len()), self.bytes_for(out.len()));
        match self {
            DType::F32 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
            DType::F16 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
                }
            }
            DType::BF16 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16);
                }
            }
            q => crate::quant::dequantize(q, bytes, out),
        }
    }

    /// Encodes f32 values into little-endian bytes of this dtype: round to nearest even for the
    /// float types, GGML's reference quantizer ([`crate::quant::quantize`]) for block formats.
    ///
    /// For a block format `values.len()` must be a whole number of blocks.
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(values.len() * self.block_bytes() / self.block_elems());
        match self {
            DType::F32 => values
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
            DType::F16 => values.iter().for_each(|v| {
                out.extend_from_slice(&half::f16::from_f32(*v).to_bits().to_le_bytes())
            }),
            DType::BF16 => values.iter().for_each(|v| {
                out.extend_from_slice(&half::bf16::from_f32(*v).to_bits().to_le_bytes())
            }),
            q => out = crate::quant::quantize(q, values),
        }
        out
    }

    /// Rounds an f32 to the nearest value representable in a float dtype (identity for f32).
    /// Block formats round a whole block at a time: use [`DType::encode`] then
    /// [`DType::decode_into`].
    pub fn round(self, v: f32) -> f32 {
        match self {
            DType::F16 => half::f16::from_f32(v).to_f32(),
            DType::BF16 => half::bf16::from_f32(v).to_f32(),
            _ => v,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::Q8_0 => "q8_0",
            DType::Q4_0 => "q4_0",
            DType::Q4_1 => "q4_1",
            DType::Q5_0 => "q5_0",
            DType::Q4K => "q4_k",
            DType::Q5K => "q5_k",
            DType::Q6K => "q6_k",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trips_each_dtype() {
        let values = [0.0f32, 1.0, -2.5, 1e-3, 65504.0, -0.333_333_34];
        for dt in [DType::F32, DType::F16, DType::BF16] {
            let bytes = dt.encode(&values);
            assert_eq!(Some(bytes.len()), dt.bytes_for(values.len()));
            let mut back = vec![0.0; values.len()];
            dt.decode_into(&bytes, &mut back);
            for (v, b) in values.iter().zip(&back) {
                assert_eq!(dt.round(*v), *b, "{dt}: {v}");
            }
        }
        // bf16 keeps 8 bits of mantissa: 1 + 2^-9 rounds to 1.
        assert_eq!(DType::BF16.round(1.0 + 1.0 / 512.0), 1.0);
        assert_eq!(DType::F16.round(1.0 + 1.0 / 512.0), 1.0 + 1.0 / 512.0);
    }

    #[test]
    fn parse_names() {
        assert_eq!(DType::parse("BF16"), Some(DType::BF16));
        assert_eq!(DType::parse("float16"), Some(DType::F16));
        assert_eq!(DType::parse("int8"), None);
        assert_eq!(DType::parse("Q4_K"), Some(DType::Q4K));
        for d in DType::ALL {
            assert_eq!(DType::parse(&d.to_string()), Some(d));
            assert_eq!(DType::from_ggml_type(d.ggml_type()), Some(d));
        }
    }

    #[test]
    fn block_sizes_are_ggml_type_sizes() {
        // ggml.c's type_traits: blck_size and type_size.
        let want = [
            (DType::Q8_0, 32, 34),
            (DType::Q4_0, 32, 18),
            (DType::Q4_1, 32, 20),
            (DType::Q5_0, 32, 22),
            (DType::Q4K, 256, 144),
            (DType::Q5K, 256, 176),
            (DType::Q6K, 256, 210),
        ];
        for (d, elems, bytes) in want {
            assert_eq!((d.block_elems(), d.block_bytes()), (elems, bytes), "{d}");
        }
        assert_eq!(DType::Q4K.bits_per_weight(), 4.5);
        assert_eq!(DType::Q4K.bytes_for(512), Some(288));
        assert_eq!(DType::Q4K.bytes_for(100), None);
        assert_eq!(DType::ggml_type_name(7), Some("Q5_1"));
        assert_eq!(DType::from_ggml_type(7), None);
    }
}
