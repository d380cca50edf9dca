//! CPU tensors: f32 activations in a `Vec`, f16/bf16/block-quantized weights left in their
//! (memory-mapped) bytes, and f16/bf16 KV caches in owned bytes written in place.

use mistral_core::{DType, Error, HostBytes, HostTensor, Result, TensorInfo};

/// A CPU buffer.
#[derive(Clone, Debug)]
pub enum CpuTensor {
    /// f32 values (activations, KV cache, f32 weights).
    F32(Vec<f32>),
    /// f16, bf16 or block-quantized weights, still in their little-endian bytes (zero-copy from the
    /// memory map).
    Packed { dtype: DType, bytes: HostBytes },
    /// An f16 or bf16 KV cache: little-endian 16-bit values in owned bytes, rounded in by
    /// `copy` and widened exactly by `attention` (`Backend::zeros_dtype`).
    Half { dtype: DType, bytes: Vec<u8> },
}

impl CpuTensor {
    pub(crate) fn from_host(t: &HostTensor) -> Self {
        match t.dtype {
            DType::F32 => CpuTensor::F32(t.to_f32()),
            dtype => CpuTensor::Packed {
                dtype,
                bytes: t.bytes.clone(),
            },
        }
    }

    /// The f32 values of an activation buffer with at least `len` elements.
    pub(crate) fn f32s(&self, op: &'static str, len: usize) -> Result<&[f32]> {
        match self {
            CpuTensor::F32(v) if v.len() >= len => Ok(v),
            CpuTensor::F32(v) => Err(Error::shape(
                op,
                format!("buffer has {} elements, needs {len}", v.len()),
            )),
            CpuTensor::Packed { dtype, .. } | CpuTensor::Half { dtype, .. } => Err(Error::shape(
                op,
                format!("expected an f32 buffer, got {dtype}"),
            )),
        }
    }

    pub(crate) fn f32_mut(&mut self, op: &'static str, len: usize) -> Result<&mut [f32]> {
        match self {
            CpuTensor::F32(v) if v.len() < len => Err(Error::shape(
                op,
                format!("buffer has {} elements, needs {len}", v.len()),
            )),
            CpuTensor::F32(v) => Ok(v),
            CpuTensor::Packed { dtype, .. } | CpuTensor::Half { dtype, .. } => Err(Error::shape(
                op,
                format!("expected an f32 buffer, got {dtype}"),
            )),
        }
    }

    /// Widens (or dequantizes) `out.len()` elements starting at element `start` into `out`.
    /// For a block format `start` and `out.len()` are whole blocks (rows of a weight are: the
    /// loader checks that every row length is a multiple of its format's block).
    pub(crate) fn read_row(&self, start: usize, out: &mut [f32]) {
        match self {
            CpuTensor::F32(v) => out.copy_from_slice(&v[start..start + out.len()]),
            CpuTensor::Packed { dtype, bytes } => {
                let at = |e: usize| dtype.bytes_for(e).expect("whole blocks");
                dtype.decode_into(&bytes.as_slice()[at(start)..at(start + out.len())], out)
            }
            CpuTensor::Half { dtype, bytes } => {
                dtype.decode_into(&bytes[2 * start..2 * (start + out.len())], out)
            }
        }
    }

    pub(crate) fn to_f32_vec(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.len()];
        self.read_row(0, &mut out);
        out
    }
}

impl TensorInfo for CpuTensor {
    fn dtype(&self) -> DType {
        match self {
            CpuTensor::F32(_) => DType::F32,
            CpuTensor::Packed { dtype, .. } | CpuTensor::Half { dtype, .. } => *dtype,
        }
    }

    fn len(&self) -> usize {
        match self {
            CpuTensor::F32(v) => v.len(),
            CpuTensor::Packed { dtype, bytes } => dtype.elems_in(bytes.len()),
            CpuTensor::Half { bytes, .. } => bytes.len() / 2,
        }
    }
}
