//! [`WgpuBackend`]: device setup, buffers, and the `Backend` trait wired to the op files.

use mistral_core::ops::{AttentionParams, CopyParams, MatmulParams, RmsNormParams, RopeParams};
use mistral_core::{Backend, DType, Error, HostTensor, Result};

use crate::adapters::{self, AdapterSummary};
use crate::context::{backend_err, Context};
use crate::ops;
use crate::tensor::{Part, WgpuTensor};
use crate::WgpuOptions;

/// The wgpu backend on one adapter.
pub struct WgpuBackend {
    pub(crate) ctx: Context,
    pub(crate) info: AdapterSummary,
    pub(crate) opts: WgpuOptions,
    /// Whether the f16-storage kernels are used (adapter has SHADER_F16, not forced portable).
    pub(crate) f16: bool,
    /// Whether the subgroup kernels are used (adapter has SUBGROUP, not forced portable).
    pub(crate) subgroups: bool,
    /// Largest buffer a weight part may have (the binding limit, or the forced smaller one).
    pub(crate) max_part_bytes: u64,
    pub(crate) rope: ops::rope::Tables,
    pub(crate) scratch: ops::attention::Scratch,
}

/// Bytes of a buffer holding `bytes` bytes of data: rounded up to 16 so any binding may view it as vec4s.
fn padded(bytes: u64) -> u64 {
    bytes.next_multiple_of(16).max(16)
}

impl WgpuBackend {
    /// Compiles a WGSL compute shader (entry point `main`) the way every op's shader is compiled;
    /// a broken shader is an error naming `label` with the compiler's message. Public so that the
    /// error path can be tested and new kernels tried without a pipeline of their own.
    pub fn compile_wgsl(&self, label: &str, src: &str) -> Result<()> {
        self.ctx.compile(label, src.to_string()).map(|_| ())
    }

    /// Opens the adapter `opts.adapter` (or the preferred one). Fails with a clear error when wgpu
    /// finds no adapter or the index does not exist.
    pub fn new(opts: WgpuOptions) -> Result<Self> {
        let instance = adapters::instance();
        let list = adapters::adapters(&instance);
        if list.is_empty() {
            return Err(Error::Unsupported(
                "no wgpu adapter found: install a Vulkan, Metal or DX12 driver (on Debian/Ubuntu the software Vulkan driver is `apt-get install mesa-vulkan-drivers libvulkan1`)".into(),
            ));
        }
        let index = match opts.adapter {
            Some(i) if i < list.len() => i,
            Some(i) => {
                return Err(Error::InvalidInput(format!(
                    "wgpu adapter {i} does not exist: {} found (see `mistral devices`)",
                    list.len()
                )))
            }
            None => adapters::preferred(&list).unwrap_or(0),
        };
        let adapter = &list[index];
        let info = adapters::summary(index, adapter);
        let f16 = info.f16 && !opts.force_portable;
        let subgroups = info.subgroups && !opts.force_portable;
        let mut features = wgpu::Features::empty();
        if f16 {
            features |= wgpu::Features::SHADER_F16;
        }
        if subgroups {
            features |= wgpu::Features::SUBGROUP;
        }
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("mistral"),
            required_features: features,
            // Everything the adapter offers: the binding and buffer limits matter most.
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(|e| backend_err(format!("opening {}: {e}", info.name)))?;
        let binding = device.limits().max_storage_buffer_binding_size;
        let max_part_bytes = opts
            .max_binding_bytes
            .map_or(binding, |b| b.min(binding))
            .min(device.limits().max_buffer_size)
            & !15;
        Ok(WgpuBackend {
            ctx: Context::new(device, queue),
            info,
            opts,
            f16,
            subgroups,
            max_part_bytes: max_part_bytes.max(16),
            rope: Default::default(),
            scratch: Default::default(),
        })
    }

    /// The adapter in use.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.info
    }

    /// Whether the f16-storage and subgroup kernels are in use (false when forced portable).
    pub fn uses_f16(&self) -> bool {
        self.f16
    }

    pub fn uses_subgroups(&self) -> bool {
        self.subgroups
    }

    /// The largest buffer this adapter binds (its storage-binding and buffer-size limits):
    /// weights are split by rows past it, activations and each layer's KV cache must fit in it.
    pub fn max_buffer_bytes(&self) -> u64 {
        let limit = self.ctx.device.limits();
        limit
            .max_storage_buffer_binding_size
            .min(limit.max_buffer_size)
    }

    /// Best-effort check, before uploading, that `bytes` of weights plus activations can live on this
    /// adapter. wgpu does not expose free device memory, so this checks
    /// [`WgpuOptions::memory_budget_bytes`] when set; allocation failures past the driver's reported
    /// budget (Vulkan, DX12) still come back as [`Error::OutOfMemory`] from `upload`.
    pub fn check_memory(&self, what: &str, bytes: u64) -> Result<()> {
        if let Some(budget) = self.opts.memory_budget_bytes {
            if bytes > budget {
                return Err(Error::OutOfMemory {
                    what: format!("{what} on {}", self.info.name),
                    requested: bytes,
                    available: budget,
                });
            }
        }
        Ok(())
    }

    /// A zero-filled buffer of `bytes` bytes that ops can bind.
    fn buffer(&self, what: &str, bytes: u64) -> Result<wgpu::Buffer> {
        let limit = self.ctx.device.limits();
        let max = limit
            .max_storage_buffer_binding_size
            .min(limit.max_buffer_size);
        // The buffer is created padded; check what is actually allocated and bound.
        if padded(bytes) > max {
            return Err(Error::Unsupported(format!(
                "{what}: a buffer of {bytes} bytes exceeds {}'s limit of {max} bytes per buffer",
                self.info.name
            )));
        }
        let scope = self
            .ctx
            .device
            .push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size: padded(bytes),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::OutOfMemory {
                what: format!("{what} on {} ({e})", self.info.name),
                requested: bytes,
                available: 0,
            });
        }
        Ok(buffer)
    }

    /// A zero-filled f32 buffer (also used for per-op scratch).
    pub(crate) fn f32_zeros(&self, what: &str, len: usize) -> Result<WgpuTensor> {
        let bytes = len as u64 * 4;
        Ok(WgpuTensor {
            parts: vec![Part {
                buffer: self.buffer(what, bytes)?,
                row0: 0,
                rows: 1,
                bytes,
            }],
            dtype: DType::F32,
            len,
            row_len: len,
        })
    }
}

impl Backend for WgpuBackend {
    type Tensor = WgpuTensor;

    fn name(&self) -> String {
        format!(
            "wgpu:{} {} ({}{})",
            self.info.index,
            self.info.name,
            self.info.backend,
            if self.f16 || self.subgroups {
                ""
            } else {
                ", portable kernels"
            }
        )
    }

    /// Every dtype: f32, f16, bf16 and the seven GGML block formats (kept as the file's blocks and
    /// decoded in place by `shaders/quant.wgsl`).
    fn supports(&self, _dtype: DType) -> bool {
        true
    }

    fn zeros(&self, len: usize) -> Result<WgpuTensor> {
        self.f32_zeros("activation", len)
    }

    /// f32, f16 or bf16 (the KV cache); 16-bit values packed two to a `u32` word, low half first.
    fn zeros_dtype(&self, len: usize, dtype: DType) -> Result<WgpuTensor> {
        if !mistral_core::ops::KV_DTYPES.contains(&dtype) {
            return Err(mistral_core::backend::unsupported_kv_dtype("wgpu", dtype));
        }
        let bytes = (len * dtype.block_bytes()) as u64;
        Ok(WgpuTensor {
            parts: vec![Part {
                buffer: self.buffer("KV cache", bytes)?,
                row0: 0,
                rows: 1,
                bytes,
            }],
            dtype,
            len,
            row_len: len,
        })
    }

    fn upload(&self, t: &HostTensor) -> Result<WgpuTensor> {
        if !self.supports(t.dtype) {
            return Err(mistral_core::backend::unsupported_dtype("wgpu", t.dtype));
        }
        let data = t.bytes.as_slice();
        let len = t.numel();
        if t.dtype.bytes_for(len) != Some(data.len()) {
            return Err(Error::shape(
                "upload",
                format!("{} bytes for {len} {} elements", data.len(), t.dtype),
            ));
        }
        let rows = t
            .shape
            .first()
            .copied()
            .filter(|_| t.shape.len() > 1)
            .unwrap_or(1);
        let row_len = len.checked_div(rows).unwrap_or(0);
        // A block-quantized weight splits by whole rows, so rows must be whole blocks.
        let row_bytes = t.dtype.bytes_for(row_len).ok_or_else(|| {
            Error::shape(
                "upload",
                format!(
                    "rows of {row_len} elements are not whole {} blocks of {}",
                    t.dtype,
                    t.dtype.block_elems()
                ),
            )
        })? as u64;
        // Only a matrix is split (by rows), and only past the part limit; anything else gets one
        // buffer, which `buffer` checks against the device's own limits.
        let rows_per_part = if rows <= 1 || data.len() as u64 <= self.max_part_bytes {
            rows.max(1)
        } else if row_bytes > self.max_part_bytes {
            return Err(Error::Unsupported(format!(
                "a weight of shape {:?} ({} bytes) cannot be split into buffers of at most {} bytes (the adapter's binding limit): one row is {row_bytes} bytes",
                t.shape,
                data.len(),
                self.max_part_bytes
            )));
        } else {
            (self.max_part_bytes / row_bytes) as usize
        };
        let mut parts = Vec::new();
        let mut row0 = 0;
        loop {
            let n = rows_per_part.min(rows - row0);
            let (a, b) = (row0 * row_bytes as usize, (row0 + n) * row_bytes as usize);
            let bytes = if rows <= 1 { data } else { &data[a..b] };
            let buffer = self.buffer("weight", bytes.len() as u64)?;
            self.ctx.queue.write_buffer(&buffer, 0, &pad4(bytes));
            // Hand the staged bytes to the device now, so a multi-GB checkpoint is not held twice.
            self.ctx.queue.submit([]);
            parts.push(Part {
                buffer,
                row0,
                rows: n,
                bytes: bytes.len() as u64,
            });
            row0 += n;
            if row0 >= rows {
                break;
            }
        }
        Ok(WgpuTensor {
            parts,
            dtype: t.dtype,
            len,
            row_len,
        })
    }

    fn download_f32(&self, t: &WgpuTensor) -> Result<Vec<f32>> {
        let srcs: Vec<_> = t.parts.iter().map(|p| (&p.buffer, p.bytes)).collect();
        let bytes = self.ctx.read_back(&srcs)?;
        let mut out = vec![0.0; t.len];
        // `upload` checked that the elements are whole blocks.
        let n = t.dtype.bytes_for(t.len).unwrap_or(0);
        t.dtype.decode_into(&bytes[..n], &mut out);
        Ok(out)
    }

    fn synchronize(&self) -> Result<()> {
        self.ctx.wait()
    }

    fn embedding(
        &self,
        table: &WgpuTensor,
        tokens: &[u32],
        hidden: usize,
        out: &mut WgpuTensor,
    ) -> Result<()> {
        ops::embedding::embedding(self, table, tokens, hidden, out)
    }

    fn rms_norm(
        &self,
        x: &WgpuTensor,
        w: &WgpuTensor,
        out: &mut WgpuTensor,
        p: &RmsNormParams,
    ) -> Result<()> {
        p.check(x, w, &*out)?;
        ops::rms_norm::rms_norm(self, x, None, w, out, p)
    }

    fn add_rms_norm(
        &self,
        residual: &mut WgpuTensor,
        delta: &WgpuTensor,
        w: &WgpuTensor,
        out: &mut WgpuTensor,
        p: &RmsNormParams,
    ) -> Result<()> {
        p.check(&*residual, w, &*out)?;
        p.check(delta, w, &*out)?;
        ops::rms_norm::rms_norm(self, residual, Some(delta), w, out, p)
    }

    fn matmul(
        &self,
        x: &WgpuTensor,
        w: &WgpuTensor,
        y: &mut WgpuTensor,
        p: &MatmulParams,
    ) -> Result<()> {
        ops::matmul::matmul(self, x, w, y, p)
    }

    fn rope(&self, x: &mut WgpuTensor, p: &RopeParams) -> Result<()> {
        ops::rope::rope(self, x, p)
    }

    fn attention(
        &self,
        q: &WgpuTensor,
        k_new: &WgpuTensor,
        v_new: &WgpuTensor,
        k_cache: &WgpuTensor,
        v_cache: &WgpuTensor,
        out: &mut WgpuTensor,
        p: &AttentionParams,
    ) -> Result<()> {
        ops::attention::attention(self, [q, k_new, v_new, k_cache, v_cache], out, p)
    }

    fn swiglu(
        &self,
        gate: &WgpuTensor,
        up: &WgpuTensor,
        out: &mut WgpuTensor,
        len: usize,
    ) -> Result<()> {
        ops::swiglu::swiglu(self, gate, up, out, len)
    }

    fn add(&self, x: &mut WgpuTensor, y: &WgpuTensor, len: usize) -> Result<()> {
        ops::add::add(self, x, y, len)
    }

    fn copy(&self, src: &WgpuTensor, dst: &mut WgpuTensor, p: &CopyParams) -> Result<()> {
        ops::copy::copy(self, src, dst, p)
    }

    fn argmax(&self, x: &WgpuTensor, rows: usize, cols: usize) -> Result<Vec<u32>> {
        ops::argmax::argmax(self, x, rows, cols)
    }
}

/// `bytes` padded with zeros to a multiple of 4 (queue writes must be 4-byte multiples).
fn pad4(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if bytes.len().is_multiple_of(4) {
        bytes.into()
    } else {
        let mut v = bytes.to_vec();
        v.resize(bytes.len().next_multiple_of(4), 0);
        v.into()
    }
}
