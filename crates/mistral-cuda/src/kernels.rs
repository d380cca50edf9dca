//! The kernel sources, embedded in the binary: one `.cu` file per op family under `kernels/`.

/// The header every kernel file includes (`#include "common.cuh"`), handed to NVRTC in memory.
pub const COMMON_HEADER: (&str, &str) = ("common.cuh", include_str!("../../../kernels/common.cuh"));
/// The block-format decoders (planar layout) of the quantized kernels (`#include "quant.cuh"`).
pub const QUANT_HEADER: (&str, &str) = ("quant.cuh", include_str!("../../../kernels/quant.cuh"));
/// Every header, handed to NVRTC with each program and hashed into every cache key.
pub const HEADERS: [(&str, &str); 2] = [COMMON_HEADER, QUANT_HEADER];

/// One kernel file and the `extern "C"` entry points it defines.
#[derive(Clone, Copy, Debug)]
pub struct KernelFile {
    /// File name under `kernels/`, e.g. `gemv.cu`.
    pub name: &'static str,
    pub source: &'static str,
    pub entries: &'static [&'static str],
}

macro_rules! kernel {
    ($name:literal, [$($e:literal),* $(,)?]) => {
        KernelFile {
            name: $name,
            source: include_str!(concat!("../../../kernels/", $name)),
            entries: &[$($e),*],
        }
    };
}

pub const ELEMENTWISE: KernelFile = kernel!(
    "elementwise.cu",
    ["add_f32", "swiglu_f32", "copy_f32", "copy_f16", "copy_bf16"]
);
pub const EMBEDDING: KernelFile = kernel!(
    "embedding.cu",
    [
        "embedding_f32",
        "embedding_f16",
        "embedding_bf16",
        "embedding_q8_0",
        "embedding_q4_0",
        "embedding_q4_1",
        "embedding_q5_0",
        "embedding_q4_k",
        "embedding_q5_k",
        "embedding_q6_k"
    ]
);
pub const RMS_NORM: KernelFile = kernel!(
    "rms_norm.cu",
    [
        "rms_norm_f32",
        "rms_norm_f16",
        "rms_norm_bf16",
        "add_rms_norm_f32",
        "add_rms_norm_f16",
        "add_rms_norm_bf16"
    ]
);
pub const ROPE: KernelFile = kernel!("rope.cu", ["rope_f32"]);
pub const GEMV: KernelFile = kernel!(
    "gemv.cu",
    [
        "gemv_f32",
        "gemv_f16",
        "gemv_bf16",
        "gemv3_f32",
        "gemv3_f16",
        "gemv3_bf16",
        "gemv_swiglu_f32",
        "gemv_swiglu_f16",
        "gemv_swiglu_bf16"
    ]
);
pub const GEMM: KernelFile = kernel!(
    "gemm.cu",
    [
        "gemm_bf16",
        "gemm_f16",
        "gemm_bf16_fast",
        "gemm_f16_fast",
        "gemm_simt_f32",
        "gemm_simt_f16",
        "gemm_simt_bf16"
    ]
);
/// Decode GEMVs on block-quantized (planar) weights, one set per format.
pub const GEMV_QUANT: KernelFile = kernel!(
    "gemv_quant.cu",
    [
        "gemv_q8_0",
        "gemv_q4_0",
        "gemv_q4_1",
        "gemv_q5_0",
        "gemv_q4_k",
        "gemv_q5_k",
        "gemv_q6_k",
        "gemv3_q8_0",
        "gemv3_q4_0",
        "gemv3_q4_1",
        "gemv3_q5_0",
        "gemv3_q4_k",
        "gemv3_q5_k",
        "gemv3_q6_k",
        "gemv_swiglu_q8_0",
        "gemv_swiglu_q4_0",
        "gemv_swiglu_q4_1",
        "gemv_swiglu_q5_0",
        "gemv_swiglu_q4_k",
        "gemv_swiglu_q5_k",
        "gemv_swiglu_q6_k"
    ]
);
/// Prefill GEMMs on block-quantized (planar) weights.
pub const GEMM_QUANT: KernelFile = kernel!(
    "gemm_quant.cu",
    [
        "gemm_q8_0",
        "gemm_q4_0",
        "gemm_q4_1",
        "gemm_q5_0",
        "gemm_q4_k",
        "gemm_q5_k",
        "gemm_q6_k"
    ]
);
pub const ATTENTION: KernelFile = kernel!(
    "attention.cu",
    ["attn_f32", "attn_f16", "attn_bf16", "attn_combine_f32"]
);
pub const ATTENTION_PREFILL: KernelFile = kernel!(
    "attention_prefill.cu",
    [
        "attn_split_kv_f32",
        "attn_split_kv_f16",
        "attn_split_kv_bf16",
        "attn_prefill_f32"
    ]
);
pub const ARGMAX: KernelFile = kernel!("argmax.cu", ["argmax_f32"]);
pub const RANDOM: KernelFile = kernel!("random.cu", ["random_f32", "random_f16", "random_bf16"]);

/// Every kernel file (the compile test walks this list).
pub const ALL: &[KernelFile] = &[
    ELEMENTWISE,
    EMBEDDING,
    RMS_NORM,
    ROPE,
    GEMV,
    GEMM,
    GEMV_QUANT,
    GEMM_QUANT,
    ATTENTION,
    ATTENTION_PREFILL,
    ARGMAX,
    RANDOM,
];

/// FNV-1a 64 of the header, the source and the options: the source part of the disk-cache key.
pub fn source_hash(file: &KernelFile, options: &[String]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = HEADERS.iter().map(|h| h.1).chain([file.source]);
    for part in parts.chain(options.iter().map(String::as_str)) {
        for b in part.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
