//! Device buffers: raw bytes plus their dtype.

use std::sync::Weak;

use cudarc::driver::{CudaSlice, CudaStream, DevicePtr};
use mistral_core::{DType, TensorInfo};

use crate::device::Device;

/// A device buffer of `len` elements of `dtype` (f32 activations, or weights in any dtype).
pub struct CudaTensor {
    pub(crate) buf: CudaSlice<u8>,
    pub(crate) dtype: DType,
    pub(crate) len: usize,
    /// The device, to issue a recorded step before this buffer is freed (see `Drop`).
    pub(crate) dev: Weak<Device>,
}

impl Drop for CudaTensor {
    /// A decode step being recorded for graph replay (graph.rs) may still reference this buffer:
    /// issue it first, so the free (queued on the same stream) comes after its last use.
    fn drop(&mut self) {
        if let Some(dev) = self.dev.upgrade() {
            if let Err(e) = dev.flush() {
                eprintln!("cuda: issuing a recorded step before a free: {e}");
            }
        }
    }
}

impl CudaTensor {
    /// The raw device address of element 0 (for kernel arguments).
    pub(crate) fn ptr(&self, stream: &CudaStream) -> u64 {
        self.buf.device_ptr(stream).0
    }

    /// The raw device address of element `i`.
    pub(crate) fn ptr_at(&self, stream: &CudaStream, i: usize) -> u64 {
        self.ptr(stream) + (i * self.dtype.block_bytes()) as u64
    }
}

impl TensorInfo for CudaTensor {
    fn dtype(&self) -> DType {
        self.dtype
    }

    fn len(&self) -> usize {
        self.len
    }
}

impl std::fmt::Debug for CudaTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaTensor({} x {})", self.len, self.dtype)
    }
}
