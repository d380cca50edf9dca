//! The CUDA backend: hand-written kernels (`kernels/*.cu`, one file per op family, `extern "C"`
//! entry points named `{op}_{dtype}`) embedded in the binary, compiled by NVRTC at first use for
//! the live GPU's architecture, cached per device and on disk ([`cache`]).
//!
//! - [`CudaBackend::new`] never panics: with no NVIDIA driver it returns
//!   [`Error::Unsupported`]`("CUDA backend unavailable: no NVIDIA driver (libcuda) found")`; a GPU
//!   below compute capability 8.0 or a missing NVRTC is refused the same way.
//! - Every op is queued on one stream; nothing waits until [`Backend::download_f32`],
//!   [`Backend::argmax`] or [`Backend::synchronize`]. Token ids reach the embedding kernel as a
//!   kernel parameter, so a decode step issues no host synchronisation until its id is read.
//! - Uploads check free device memory first ([`Error::OutOfMemory`] names what was requested and
//!   what is free); [`CudaBackend::check_memory`] checks a whole model before its first tensor.

pub mod cache;
mod device;
mod graph;
pub mod kernels;
pub mod nvrtc;
mod ops;
mod planar;
mod tensor;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::driver::{CudaSlice, DevicePtr};
use mistral_core::ops::{
    AttentionParams, CopyParams, MatmulParams, Projection, RmsNormParams, RopeParams,
};
use mistral_core::{Backend, DType, Error, HostTensor, Result};

pub use device::driver_present;
use device::{drv, Device};
pub use graph::GraphStats;
pub use tensor::CudaTensor;

/// The message of the no-driver error.
pub const NO_DRIVER: &str = "CUDA backend unavailable: no NVIDIA driver (libcuda) found";

/// A CUDA device running the Mistral ops.
pub struct CudaBackend {
    dev: Arc<Device>,
    ordinal: usize,
    /// `inv_freq` per (theta bits, head_dim), uploaded once.
    inv_freq: Mutex<HashMap<(u32, usize), CudaSlice<f32>>>,
    /// Flash-decoding partial results, grown on demand and reused.
    attn_scratch: Mutex<Option<CudaSlice<f32>>>,
    /// Argmax ids on the device, grown on demand and reused (nothing allocated per token).
    argmax_ids: Mutex<Option<CudaSlice<u32>>>,
}

impl CudaBackend {
    /// Opens CUDA device `ordinal`. Errors (never panics) when there is no driver, no such
    /// device, a GPU older than compute capability 8.0, or no NVRTC to compile the kernels with.
    pub fn new(ordinal: usize) -> Result<Self> {
        if !driver_present() {
            return Err(Error::Unsupported(NO_DRIVER.to_string()));
        }
        device::nvrtc_ready()?;
        Ok(CudaBackend {
            dev: Arc::new(Device::open(ordinal)?),
            ordinal,
            inv_freq: Mutex::new(HashMap::new()),
            attn_scratch: Mutex::new(None),
            argmax_ids: Mutex::new(None),
        })
    }

    /// The GPU's name as the driver reports it (e.g. "NVIDIA H200").
    pub fn device_name(&self) -> &str {
        &self.dev.name
    }

    /// The driver's CUDA version, e.g. "CUDA driver 13.0".
    pub fn driver_version(&self) -> String {
        let mut v = 0;
        // SAFETY: an out-pointer; the driver is loaded (the backend exists).
        unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut v) };
        format!("CUDA driver {}.{}", v / 1000, v % 1000 / 10)
    }

    /// Compute capability as `major * 10 + minor` (e.g. 90 for an H100).
    pub fn arch(&self) -> u32 {
        self.dev.arch
    }

    /// Fails with [`Error::OutOfMemory`] unless `bytes` more fit in free device memory; call it
    /// with a model's total size before uploading its first tensor.
    pub fn check_memory(&self, what: &str, bytes: u64) -> Result<()> {
        self.dev.check_free(bytes, || what.to_string())
    }

    /// What the CUDA-graph recorder of decode steps has done so far (see `graph.rs`).
    pub fn graph_stats(&self) -> GraphStats {
        self.dev.graph_stats()
    }

    /// Whether single-token steps are replayed as CUDA graphs (on by default with a 12.4+
    /// driver; `MISTRAL_CUDA_GRAPHS=0` turns it off).
    pub fn graphs_enabled(&self) -> bool {
        self.dev.graphs_enabled()
    }

    /// Turns graph replay of single-token steps on or off (e.g. to measure what it saves).
    pub fn set_graphs(&self, on: bool) -> Result<()> {
        self.dev.set_graphs(on)
    }

    /// Prefill GEMMs with one tensor-core term: activations rounded to the weights' type (as
    /// bf16 inference stacks do), 3x (bf16) / 2x (f16) fewer MMAs than the default, which keeps
    /// f32-class results. Off by default (it breaks 1e-3 parity with the f32 reference on logits);
    /// `MISTRAL_CUDA_FAST_GEMM=1` turns it on, e.g. to compare with cuBLAS in the benchmark.
    pub fn set_fast_gemm(&self, on: bool) {
        self.dev.set_fast_gemm(on)
    }

    /// A tensor of `shape` in `dtype` filled on the device with deterministic values uniform in
    /// `[lo, hi)`: element i is the i-th draw of `mistral_core::rng::Rng::new(seed).range(lo, hi)`
    /// rounded to `dtype`, bit for bit. Benchmark weights of the 7B shape, without a host copy.
    pub fn random(
        &self,
        shape: &[usize],
        dtype: DType,
        seed: u64,
        lo: f32,
        hi: f32,
    ) -> Result<CudaTensor> {
        if dtype.is_quantized() {
            // The generator draws one value per element; block formats would need a quantizer.
            return Err(Error::Unsupported(format!(
                "cuda random: {dtype} weights cannot be drawn on the device (f32, f16, bf16 only)"
            )));
        }
        let len: usize = shape.iter().product();
        let buf = self.alloc(len * dtype.block_bytes(), || {
            format!("a random {dtype} tensor of shape {shape:?}")
        })?;
        let mut t = CudaTensor {
            buf,
            dtype,
            len,
            dev: Arc::downgrade(&self.dev),
        };
        ops::random::random(&self.dev, &mut t, seed, lo, hi)?;
        Ok(t)
    }

    /// Compiles and loads every kernel now instead of at first use (e.g. before timing).
    pub fn warm_up(&self) -> Result<()> {
        for f in kernels::ALL {
            for e in f.entries {
                self.dev.func(f, e)?;
            }
        }
        Ok(())
    }

    fn alloc(&self, bytes: usize, what: impl FnOnce() -> String) -> Result<CudaSlice<u8>> {
        self.dev.check_free(bytes as u64, what)?;
        self.dev
            .stream
            .alloc_zeros::<u8>(bytes.max(1))
            .map_err(drv("cuMemAlloc"))
    }

    fn inv_freq_ptr(&self, p: &RopeParams) -> Result<u64> {
        let mut map = self.inv_freq.lock().expect("inv_freq lock");
        let key = (p.theta.to_bits(), p.head_dim);
        let table = match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                self.dev.flush()?; // a copy: recorded kernels go first
                e.insert(
                    self.dev
                        .stream
                        .clone_htod(&p.inv_freq())
                        .map_err(drv("rope inv_freq upload"))?,
                )
            }
        };
        let ptr = table.device_ptr(&self.dev.stream).0;
        Ok(ptr)
    }

    fn scratch_ptr(&self, floats: usize) -> Result<u64> {
        if floats == 0 {
            return Ok(0);
        }
        let mut slot = self.attn_scratch.lock().expect("scratch lock");
        if slot.as_ref().is_none_or(|s| s.len() < floats) {
            self.dev.flush()?;
            let s = self
                .dev
                .stream
                .alloc_zeros::<f32>(floats)
                .map_err(drv("attention scratch"))?;
            *slot = Some(s);
        }
        let ptr = slot
            .as_ref()
            .map_or(0, |s| s.device_ptr(&self.dev.stream).0);
        Ok(ptr)
    }
}

impl Backend for CudaBackend {
    type Tensor = CudaTensor;

    fn name(&self) -> String {
        format!("cuda:{} {}", self.ordinal, self.dev.name)
    }

    /// Every dtype: f32, f16, bf16 and the block-quantized formats (stored in the planar layout
    /// of `mistral_core::quant::planar`, converted in `planar.rs`).
    fn supports(&self, _dtype: DType) -> bool {
        true
    }

    fn zeros(&self, len: usize) -> Result<CudaTensor> {
        let buf = self.alloc(len * 4, || format!("a buffer of {len} f32s"))?;
        Ok(CudaTensor {
            buf,
            dtype: DType::F32,
            len,
            dev: Arc::downgrade(&self.dev),
        })
    }

    /// f32, f16 or bf16 (the KV cache), `len` elements of the dtype's size.
    fn zeros_dtype(&self, len: usize, dtype: DType) -> Result<CudaTensor> {
        if !mistral_core::ops::KV_DTYPES.contains(&dtype) {
            return Err(mistral_core::backend::unsupported_kv_dtype("cuda", dtype));
        }
        let buf = self.alloc(len * dtype.block_bytes(), || {
            format!("a buffer of {len} {dtype} values")
        })?;
        Ok(CudaTensor {
            buf,
            dtype,
            len,
            dev: Arc::downgrade(&self.dev),
        })
    }

    fn upload(&self, t: &HostTensor) -> Result<CudaTensor> {
        if !self.supports(t.dtype) {
            return Err(mistral_core::backend::unsupported_dtype("cuda", t.dtype));
        }
        let planar = planar::to_device_layout(t)?;
        let bytes = planar.as_deref().unwrap_or(t.bytes.as_slice());
        let mut buf = self.alloc(bytes.len(), || {
            format!("uploading a {} tensor of shape {:?}", t.dtype, t.shape)
        })?;
        if !bytes.is_empty() {
            self.dev
                .stream
                .memcpy_htod(bytes, &mut buf.slice_mut(0..bytes.len()))
                .map_err(drv("upload"))?;
        }
        Ok(CudaTensor {
            buf,
            dtype: t.dtype,
            len: t.numel(),
            dev: Arc::downgrade(&self.dev),
        })
    }

    /// Block formats come back dequantized: the planar bytes are regrouped into GGML blocks on
    /// the host (`planar::from_device_layout`) and decoded as the CPU does.
    fn download_f32(&self, t: &CudaTensor) -> Result<Vec<f32>> {
        self.dev.flush()?;
        let n = planar::device_bytes(t.dtype, t.len)?;
        let mut host = vec![0u8; n];
        if n > 0 {
            self.dev
                .stream
                .memcpy_dtoh(&t.buf.slice(0..n), &mut host)
                .map_err(drv("download"))?;
        }
        self.synchronize()?;
        let mut out = vec![0.0f32; t.len];
        t.dtype
            .decode_into(&planar::from_device_layout(t.dtype, host), &mut out);
        Ok(out)
    }

    fn synchronize(&self) -> Result<()> {
        self.dev.flush()?;
        self.dev.stream.synchronize().map_err(drv("synchronize"))
    }

    fn embedding(
        &self,
        table: &CudaTensor,
        tokens: &[u32],
        hidden: usize,
        out: &mut CudaTensor,
    ) -> Result<()> {
        ops::embedding::embedding(&self.dev, table, tokens, hidden, out)
    }

    fn rms_norm(
        &self,
        x: &CudaTensor,
        weight: &CudaTensor,
        out: &mut CudaTensor,
        p: &RmsNormParams,
    ) -> Result<()> {
        ops::rms_norm::rms_norm(&self.dev, x, weight, out, p)
    }

    fn add_rms_norm(
        &self,
        residual: &mut CudaTensor,
        delta: &CudaTensor,
        weight: &CudaTensor,
        out: &mut CudaTensor,
        p: &RmsNormParams,
    ) -> Result<()> {
        ops::rms_norm::add_rms_norm(&self.dev, residual, delta, weight, out, p)
    }

    fn matmul(
        &self,
        x: &CudaTensor,
        w: &CudaTensor,
        y: &mut CudaTensor,
        p: &MatmulParams,
    ) -> Result<()> {
        ops::matmul::matmul(&self.dev, x, w, y, p)
    }

    fn matmul_multi(
        &self,
        x: &CudaTensor,
        outs: &mut [Projection<'_, CudaTensor>],
        m: usize,
        k: usize,
    ) -> Result<()> {
        if ops::matmul::matmul_multi(&self.dev, x, outs, m, k)? {
            return Ok(());
        }
        mistral_core::ops::matmul_multi_unfused(self, x, outs, m, k)
    }

    fn gate_up_swiglu(
        &self,
        x: &CudaTensor,
        w_gate: &CudaTensor,
        w_up: &CudaTensor,
        gate: &mut CudaTensor,
        up: &mut CudaTensor,
        out: &mut CudaTensor,
        p: &MatmulParams,
    ) -> Result<()> {
        if ops::matmul::gate_up_swiglu(&self.dev, x, w_gate, w_up, gate, up, out, p)? {
            return Ok(());
        }
        mistral_core::ops::gate_up_swiglu_unfused(self, x, w_gate, w_up, gate, up, out, p)
    }

    fn rope(&self, x: &mut CudaTensor, p: &RopeParams) -> Result<()> {
        p.check(&*x)?;
        let inv_freq = self.inv_freq_ptr(p)?;
        ops::rope::rope(&self.dev, x, inv_freq, p)
    }

    fn attention(
        &self,
        q: &CudaTensor,
        k_new: &CudaTensor,
        v_new: &CudaTensor,
        k_cache: &CudaTensor,
        v_cache: &CudaTensor,
        out: &mut CudaTensor,
        p: &AttentionParams,
    ) -> Result<()> {
        p.check(q, k_new, v_new, k_cache, v_cache, &*out)?;
        let part = self.scratch_ptr(ops::attention::scratch_len(p))?;
        ops::attention::attention(&self.dev, q, k_new, v_new, k_cache, v_cache, out, part, p)
    }

    fn swiglu(
        &self,
        gate: &CudaTensor,
        up: &CudaTensor,
        out: &mut CudaTensor,
        len: usize,
    ) -> Result<()> {
        ops::swiglu::swiglu(&self.dev, gate, up, out, len)
    }

    fn add(&self, x: &mut CudaTensor, y: &CudaTensor, len: usize) -> Result<()> {
        ops::add::add(&self.dev, x, y, len)
    }

    fn copy(&self, src: &CudaTensor, dst: &mut CudaTensor, p: &CopyParams) -> Result<()> {
        ops::copy::copy(&self.dev, src, dst, p)
    }

    fn argmax(&self, x: &CudaTensor, rows: usize, cols: usize) -> Result<Vec<u32>> {
        let mut ids = self.argmax_ids.lock().expect("argmax ids lock");
        if ids.as_ref().is_none_or(|b| b.len() < rows.max(1)) {
            self.dev.flush()?; // an allocation: recorded kernels go first
            let buf = self
                .dev
                .stream
                .alloc_zeros::<u32>(rows.max(1))
                .map_err(drv("argmax ids"))?;
            *ids = Some(buf);
        }
        let ids = ids.as_ref().expect("allocated above");
        ops::argmax::argmax(&self.dev, x, rows, cols, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine (and CI) has no libcuda: construction must fail with the one-line error,
    /// not panic. On a GPU machine it must succeed.
    #[test]
    fn no_driver_is_a_clear_error_not_a_panic() {
        match CudaBackend::new(0) {
            Err(e) if !driver_present() => assert_eq!(e.to_string(), NO_DRIVER),
            Err(e) => eprintln!("driver present but backend unavailable: {e}"),
            Ok(b) => eprintln!("CUDA device: {}", b.name()),
        }
    }
}
