//! Q4_1: filled in by the quantization work (dequantize and reference quantizer).

pub fn dequantize_block(_b: &[u8], _out: &mut [f32]) {
    unimplemented!("q4_1 dequantization")
}

pub fn quantize_block(_x: &[f32], _b: &mut [u8]) {
    unimplemented!("q4_1 quantization")
}
