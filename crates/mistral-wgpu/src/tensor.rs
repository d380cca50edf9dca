//! Device tensors: one or more storage buffers (a weight larger than the binding limit is split by
//! rows), a dtype and an element count.

use mistral_core::{DType, Error, Result, TensorInfo};

/// One buffer of a tensor: rows `row0 .. row0 + rows` (of `row_len` elements each).
#[derive(Debug)]
pub(crate) struct Part {
    pub buffer: wgpu::Buffer,
    pub row0: usize,
    pub rows: usize,
    /// Bytes of data (the buffer is padded to 16 bytes).
    pub bytes: u64,
}

/// A wgpu buffer of `len` elements of one dtype. f16/bf16 weights keep their stored bytes; shaders
/// read them as packed `u32` words.
#[derive(Debug)]
pub struct WgpuTensor {
    pub(crate) parts: Vec<Part>,
    pub(crate) dtype: DType,
    pub(crate) len: usize,
    /// Elements per row, the unit of splitting (`len` for an unsplit tensor).
    pub(crate) row_len: usize,
}

impl WgpuTensor {
    /// The single buffer of an unsplit tensor (activations, norms, the KV cache).
    pub(crate) fn buffer(&self, op: &'static str) -> Result<&wgpu::Buffer> {
        match self.parts.as_slice() {
            [p] => Ok(&p.buffer),
            parts => Err(Error::Unsupported(format!(
                "{op}: a tensor split over {} buffers (larger than the binding limit) is only supported as a matmul or embedding weight",
                parts.len()
            ))),
        }
    }

    /// The buffer of an f32 tensor with at least `len` elements.
    pub(crate) fn f32_buffer(&self, op: &'static str, what: &str) -> Result<&wgpu::Buffer> {
        if self.dtype != DType::F32 {
            return Err(Error::shape(
                op,
                format!("{what} must be an f32 buffer, got {}", self.dtype),
            ));
        }
        self.buffer(op)
    }

    /// Number of buffers the tensor is split into.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }
}

impl TensorInfo for WgpuTensor {
    fn dtype(&self) -> DType {
        self.dtype
    }

    fn len(&self) -> usize {
        self.len
    }
}
