//! Element types. Weights may be stored as f32, f16 or bf16; activations, the KV cache and logits are f32.

use std::fmt;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    BF16,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
        }
    }

    /// The name used in safetensors headers ("F32", "F16", "BF16").
    pub fn safetensors_name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
        }
    }

    /// Parses a user-facing name: `f32`, `f16`/`float16`, `bf16`/`bfloat16` (case-insensitive).
    pub fn parse(s: &str) -> Option<DType> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Some(DType::F32),
            "f16" | "float16" | "half" => Some(DType::F16),
            "bf16" | "bfloat16" => Some(DType::BF16),
            _ => None,
        }
    }

    /// Decodes little-endian bytes of this dtype into f32 values, exactly (f16 and bf16 widen losslessly).
    ///
    /// `bytes.len()` must equal `out.len() * self.size()`.
    pub fn decode_into(self, bytes: &[u8], out: &mut [f32]) {
        debug_assert_eq!(bytes.len(), out.len() * self.size());
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
        }
    }

    /// Encodes f32 values into little-endian bytes of this dtype (round to nearest even).
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(values.len() * self.size());
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
        }
        out
    }

    /// Rounds an f32 to the nearest value representable in this dtype.
    pub fn round(self, v: f32) -> f32 {
        match self {
            DType::F32 => v,
            DType::F16 => half::f16::from_f32(v).to_f32(),
            DType::BF16 => half::bf16::from_f32(v).to_f32(),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
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
            assert_eq!(bytes.len(), values.len() * dt.size());
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
    }
}
