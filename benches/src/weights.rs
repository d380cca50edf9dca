//! Benchmark weights: deterministic uniform values, generated where a backend does it best.

use mistral_core::{Backend, DType, Result};
use mistral_cpu::CpuBackend;
use mistral_cuda::CudaBackend;
use mistral_wgpu::WgpuBackend;

use crate::suite::random_host;

/// A backend the benchmark can fill with random weights (speed does not depend on trained
/// values). The default draws on the host, in parallel, one tensor at a time, and uploads it; CUDA
/// draws on the device (kernels/random.cu), so the 7B model never exists on the host and a GPU
/// machine's minutes are not spent generating 14.5 GB there.
pub trait RandomWeights: Backend {
    fn random_weights(
        &self,
        shape: &[usize],
        dtype: DType,
        seed: u64,
        lo: f32,
        hi: f32,
    ) -> Result<Self::Tensor> {
        self.upload(&random_host(shape, dtype, seed, lo, hi))
    }
}

impl RandomWeights for CpuBackend {}

impl RandomWeights for WgpuBackend {}

impl RandomWeights for CudaBackend {
    fn random_weights(
        &self,
        shape: &[usize],
        dtype: DType,
        seed: u64,
        lo: f32,
        hi: f32,
    ) -> Result<Self::Tensor> {
        self.random(shape, dtype, seed, lo, hi)
    }
}
