//! One op per file: shape checks (shared with every backend), kernel choice and launch.

pub mod add;
pub mod argmax;
pub mod attention;
pub mod attention_prefill;
pub mod copy;
pub mod embedding;
pub mod matmul;
pub mod random;
pub mod rms_norm;
pub mod rope;
pub mod swiglu;

use mistral_core::{DType, Error, Result, TensorInfo};

use crate::device::Grid;

/// Activations, the KV cache and logits are f32; a weight passed where one is expected is a bug
/// in the caller, reported instead of read with the wrong element size.
pub(crate) fn want_f32(op: &'static str, what: &str, t: &impl TensorInfo) -> Result<()> {
    if t.dtype() != DType::F32 {
        return Err(Error::shape(
            op,
            format!("{what} must be f32, got {}", t.dtype()),
        ));
    }
    Ok(())
}

/// The kernel entry of a KV-cache op for a cache stored in `dtype`: `{op}_f32`, `{op}_f16` or
/// `{op}_bf16` (the entries each op file instantiates for the three cache types).
pub(crate) fn kv_entry(op: &'static str, dtype: DType) -> Result<&'static str> {
    let entry = match (op, dtype) {
        ("copy", DType::F32) => "copy_f32",
        ("copy", DType::F16) => "copy_f16",
        ("copy", DType::BF16) => "copy_bf16",
        ("attn", DType::F32) => "attn_f32",
        ("attn", DType::F16) => "attn_f16",
        ("attn", DType::BF16) => "attn_bf16",
        ("attn_split_kv", DType::F32) => "attn_split_kv_f32",
        ("attn_split_kv", DType::F16) => "attn_split_kv_f16",
        ("attn_split_kv", DType::BF16) => "attn_split_kv_bf16",
        _ => return Err(mistral_core::backend::unsupported_kv_dtype("cuda", dtype)),
    };
    Ok(entry)
}

/// A value that must fit a 32-bit kernel parameter.
pub(crate) fn u32_of(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Unsupported(format!("{op}: {what} = {v} exceeds 2^32")))
}

/// Grid-stride elementwise launch: 256 threads, at most 4096 blocks.
pub(crate) fn elementwise_grid(n: usize) -> Grid {
    Grid::x(n.div_ceil(256).min(4096), 256)
}
