//! The CPU reference backend.
//!
//! Every op is straightforward f32 code in its own file under [`ops`], parallelised with rayon over
//! independent rows. It exists to be *right* (it is proven equal to Hugging Face transformers) and
//! usable (the 7B shape runs on a 24 GB machine because bf16 weights stay bf16 in their memory map).

pub mod ops;
mod tensor;

pub use tensor::CpuTensor;

use mistral_core::ops::{AttentionParams, CopyParams, MatmulParams, RmsNormParams, RopeParams};
use mistral_core::{Backend, DType, HostTensor, Result};

/// The CPU backend. Uses rayon's global thread pool.
#[derive(Clone, Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend
    }
}

impl Backend for CpuBackend {
    type Tensor = CpuTensor;

    fn name(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn supports(&self, _dtype: DType) -> bool {
        true
    }

    fn zeros(&self, len: usize) -> Result<CpuTensor> {
        Ok(CpuTensor::F32(vec![0.0; len]))
    }

    /// f32 as [`Backend::zeros`]; f16/bf16 as two bytes an element (memory halves on the CPU too).
    fn zeros_dtype(&self, len: usize, dtype: DType) -> Result<CpuTensor> {
        match dtype {
            DType::F32 => self.zeros(len),
            DType::F16 | DType::BF16 => Ok(CpuTensor::Half {
                dtype,
                bytes: vec![0; 2 * len],
            }),
            other => Err(mistral_core::backend::unsupported_kv_dtype("cpu", other)),
        }
    }

    fn upload(&self, t: &HostTensor) -> Result<CpuTensor> {
        Ok(CpuTensor::from_host(t))
    }

    fn download_f32(&self, t: &CpuTensor) -> Result<Vec<f32>> {
        Ok(t.to_f32_vec())
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn embedding(
        &self,
        table: &CpuTensor,
        tokens: &[u32],
        hidden: usize,
        out: &mut CpuTensor,
    ) -> Result<()> {
        ops::embedding::embedding(table, tokens, hidden, out)
    }

    fn rms_norm(
        &self,
        x: &CpuTensor,
        w: &CpuTensor,
        out: &mut CpuTensor,
        p: &RmsNormParams,
    ) -> Result<()> {
        ops::rms_norm::rms_norm(x, w, out, p)
    }

    fn matmul(
        &self,
        x: &CpuTensor,
        w: &CpuTensor,
        y: &mut CpuTensor,
        p: &MatmulParams,
    ) -> Result<()> {
        ops::matmul::matmul(x, w, y, p)
    }

    fn rope(&self, x: &mut CpuTensor, p: &RopeParams) -> Result<()> {
        ops::rope::rope(x, p)
    }

    fn attention(
        &self,
        q: &CpuTensor,
        k_new: &CpuTensor,
        v_new: &CpuTensor,
        k_cache: &CpuTensor,
        v_cache: &CpuTensor,
        out: &mut CpuTensor,
        p: &AttentionParams,
    ) -> Result<()> {
        ops::attention::attention(q, k_new, v_new, k_cache, v_cache, out, p)
    }

    fn swiglu(
        &self,
        gate: &CpuTensor,
        up: &CpuTensor,
        out: &mut CpuTensor,
        len: usize,
    ) -> Result<()> {
        ops::swiglu::swiglu(gate, up, out, len)
    }

    fn add(&self, x: &mut CpuTensor, y: &CpuTensor, len: usize) -> Result<()> {
        ops::add::add(x, y, len)
    }

    fn copy(&self, src: &CpuTensor, dst: &mut CpuTensor, p: &CopyParams) -> Result<()> {
        ops::copy::copy(src, dst, p)
    }

    fn argmax(&self, x: &CpuTensor, rows: usize, cols: usize) -> Result<Vec<u32>> {
        ops::argmax::argmax(x, rows, cols)
    }
}
