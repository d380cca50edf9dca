//! Block-quantized weights on the device: GGML blocks are regrouped on upload into the planar
//! layout (`mistral_core::quant::planar`: a 16-byte aligned payload plane, then a meta plane; same
//! bytes, same total size) that `kernels/quant.cuh` reads, and back on download.

use mistral_core::quant::planar::{from_planar, to_planar};
use mistral_core::{DType, Error, HostTensor, Result};

/// Device bytes of `len` elements of `dtype`; a block format needs whole blocks.
pub(crate) fn device_bytes(dtype: DType, len: usize) -> Result<usize> {
    dtype.bytes_for(len).ok_or_else(|| {
        Error::InvalidInput(format!(
            "{len} {dtype} elements are not whole {}-weight blocks",
            dtype.block_elems()
        ))
    })
}

/// Checks `t`'s byte count and, for a block format, that its rows (the last dimension) are whole
/// blocks; returns the planar bytes to upload, or `None` to upload `t.bytes` as they are (floats).
pub(crate) fn to_device_layout(t: &HostTensor) -> Result<Option<Vec<u8>>> {
    let row = t.shape.last().copied().unwrap_or(1);
    if !row.is_multiple_of(t.dtype.block_elems()) {
        return Err(Error::InvalidInput(format!(
            "upload: {} tensor {:?}: rows of {row} are not a multiple of the {}-weight block",
            t.dtype,
            t.shape,
            t.dtype.block_elems()
        )));
    }
    let want = device_bytes(t.dtype, t.numel())?;
    let bytes = t.bytes.as_slice();
    if bytes.len() != want {
        return Err(Error::InvalidInput(format!(
            "upload: {} tensor {:?} has {} bytes, expected {want}",
            t.dtype,
            t.shape,
            bytes.len(),
        )));
    }
    Ok(t.dtype.is_quantized().then(|| to_planar(t.dtype, bytes)))
}

/// Downloaded device bytes back to the host layout (GGML blocks for a block format).
pub(crate) fn from_device_layout(dtype: DType, bytes: Vec<u8>) -> Vec<u8> {
    if dtype.is_quantized() {
        from_planar(dtype, &bytes)
    } else {
        bytes
    }
}

/// A block-format weight's rows of `row` elements (matmul's k, embedding's hidden) must be whole
/// blocks: the kernels index the planar planes by block. Floats pass.
pub(crate) fn check_row(op: &'static str, what: &str, dtype: DType, row: usize) -> Result<()> {
    if row.is_multiple_of(dtype.block_elems()) {
        return Ok(());
    }
    Err(Error::shape(
        op,
        format!(
            "{what} = {row} is not a multiple of the {dtype} block ({} weights)",
            dtype.block_elems()
        ),
    ))
}

/// The kernel entry `{prefix}{suffix}` of a dtype, as a `&'static str` (the launcher's cache
/// key): `entry!("gemv_", DType::Q4K)` is `"gemv_q4_k"`.
macro_rules! entry {
    ($prefix:literal, $dtype:expr) => {
        match $dtype {
            DType::F32 => concat!($prefix, "f32"),
            DType::F16 => concat!($prefix, "f16"),
            DType::BF16 => concat!($prefix, "bf16"),
            DType::Q8_0 => concat!($prefix, "q8_0"),
            DType::Q4_0 => concat!($prefix, "q4_0"),
            DType::Q4_1 => concat!($prefix, "q4_1"),
            DType::Q5_0 => concat!($prefix, "q5_0"),
            DType::Q4K => concat!($prefix, "q4_k"),
            DType::Q5K => concat!($prefix, "q5_k"),
            DType::Q6K => concat!($prefix, "q6_k"),
        }
    };
}
pub(crate) use entry;
