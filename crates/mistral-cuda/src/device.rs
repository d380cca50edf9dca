//! The live device: context, the one stream every op is queued on, and the kernels loaded so far
//! (compiled lazily at first use for this device's architecture, one module per kernel file).

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cudarc::driver::{sys, CudaContext, CudaFunction, CudaModule, CudaStream, DriverError};
use cudarc::nvrtc::Ptx;
use mistral_core::{Error, Result};

use crate::graph::{GraphStats, Recorder};
use crate::kernels::KernelFile;
use crate::{cache, nvrtc};

/// A driver error as the workspace's error type.
pub(crate) fn drv(what: &str) -> impl FnOnce(DriverError) -> Error + '_ {
    move |e| Error::Backend {
        backend: "cuda",
        msg: format!("{what}: {e}"),
    }
}

/// Launch geometry of one kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    pub grid: (u32, u32, u32),
    pub block: u32,
    pub shared: u32,
}

impl Grid {
    pub fn x(blocks: usize, block: u32) -> Self {
        Grid {
            grid: (blocks.max(1) as u32, 1, 1),
            block,
            shared: 0,
        }
    }
}

pub(crate) struct Device {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    /// Compute capability as `major * 10 + minor` (e.g. 90).
    pub arch: u32,
    pub name: String,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    funcs: Mutex<HashMap<&'static str, CudaFunction>>,
    /// Records single-token steps to replay them as CUDA graphs (see graph.rs).
    rec: Mutex<Recorder>,
    /// One-term tensor-core GEMM (activations rounded to the weights' type); see ops/matmul.rs.
    fast_gemm: AtomicBool,
    /// The device side of staged per-step scalars (graph.rs), kept alive here.
    #[allow(dead_code)]
    stage_buf: cudarc::driver::CudaSlice<u32>,
}

impl Device {
    /// Opens device `ordinal`. The caller has checked that libcuda is present.
    pub fn open(ordinal: usize) -> Result<Self> {
        let count = CudaContext::device_count().map_err(drv("cuDeviceGetCount"))?;
        if ordinal >= count.max(0) as usize {
            return Err(Error::Unsupported(format!(
                "CUDA backend unavailable: device {ordinal} requested, {count} CUDA device(s) found"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(drv("creating the CUDA context"))?;
        let name = ctx.name().map_err(drv("device name"))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(drv("compute capability"))?;
        if major < 8 {
            return Err(Error::Unsupported(format!(
                "CUDA backend: {name} has compute capability {major}.{minor}; the kernels need 8.0 or \
                 newer (Ampere: bf16 mma.sync, cp.async, ldmatrix)"
            )));
        }
        // SAFETY: every op of this backend runs on the one stream below, so cudarc's cross-stream
        // event tracking is not needed (and would add an event per launch).
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.default_stream();
        // Graph node updates need cuFuncGetParamInfo (driver 12.4+); MISTRAL_CUDA_GRAPHS=0 opts out.
        let mut driver = 0;
        // SAFETY: an out-pointer; the driver is loaded (checked by the caller).
        unsafe { sys::cuDriverGetVersion(&mut driver) };
        let graphs = driver >= 12040 && std::env::var("MISTRAL_CUDA_GRAPHS").as_deref() != Ok("0");
        // Where recorded steps read their staged scalars from (graph.rs).
        let stage_buf = stream
            .alloc_zeros::<u32>(crate::graph::STAGE_CAPACITY)
            .map_err(drv("graph staging buffer"))?;
        let stage_dev = {
            use cudarc::driver::DevicePtr;
            stage_buf.device_ptr(&stream).0
        };
        Ok(Device {
            arch: (major * 10 + minor) as u32,
            name,
            ctx,
            stream,
            modules: Mutex::new(HashMap::new()),
            funcs: Mutex::new(HashMap::new()),
            rec: Mutex::new(Recorder::new(graphs, stage_dev)),
            stage_buf,
            fast_gemm: AtomicBool::new(
                std::env::var("MISTRAL_CUDA_FAST_GEMM").as_deref() == Ok("1"),
            ),
        })
    }

    /// Starts recording a single-token step for graph replay (when graphs are on).
    pub fn begin_step(&self) -> Result<()> {
        self.flush()?;
        self.rec.lock().expect("recorder lock").begin();
        Ok(())
    }

    /// While a step is being recorded, stages per-step scalars and returns their device address
    /// (see graph.rs); `None` otherwise, when the op passes them as kernel arguments.
    pub fn stage(&self, values: &[u32]) -> Option<u64> {
        self.rec.lock().expect("recorder lock").stage(values)
    }

    /// Issues whatever a step recorded. Every operation other than a kernel launch (allocation,
    /// copy, synchronisation) calls this first, so recorded kernels keep their stream order.
    pub fn flush(&self) -> Result<()> {
        let mut rec = self.rec.lock().expect("recorder lock");
        if !rec.has_work() {
            return Ok(());
        }
        self.ctx.bind_to_thread().map_err(drv("cuCtxSetCurrent"))?;
        rec.flush(&self.stream)
    }

    pub fn fast_gemm(&self) -> bool {
        self.fast_gemm.load(Ordering::Relaxed)
    }

    pub fn set_fast_gemm(&self, on: bool) {
        self.fast_gemm.store(on, Ordering::Relaxed);
    }

    pub fn graph_stats(&self) -> GraphStats {
        self.rec.lock().expect("recorder lock").stats
    }

    pub fn graphs_enabled(&self) -> bool {
        self.rec.lock().expect("recorder lock").enabled()
    }

    pub fn set_graphs(&self, on: bool) -> Result<()> {
        self.flush()?;
        self.rec.lock().expect("recorder lock").set_enabled(on);
        Ok(())
    }

    /// The entry point `entry` of `file`, compiling and loading the file on first use.
    pub fn func(&self, file: &KernelFile, entry: &'static str) -> Result<CudaFunction> {
        if let Some(f) = self.funcs.lock().expect("funcs lock").get(entry) {
            return Ok(f.clone());
        }
        let module = {
            let mut modules = self.modules.lock().expect("modules lock");
            match modules.get(file.name) {
                Some(m) => m.clone(),
                None => {
                    let cubin = cache::load_or_compile(file, self.arch)?;
                    let m = self
                        .ctx
                        .load_module(Ptx::from_binary(cubin))
                        .map_err(drv(file.name))?;
                    modules.insert(file.name, m.clone());
                    m
                }
            }
        };
        let f = module.load_function(entry).map_err(drv(entry))?;
        self.funcs
            .lock()
            .expect("funcs lock")
            .insert(entry, f.clone());
        Ok(f)
    }

    /// Queues `entry` of `file` on the stream. Does not wait.
    ///
    /// # Safety
    /// `args` must point to live values whose types and order match the kernel's parameters, and
    /// every device pointer among them must cover what the kernel reads and writes for `grid`.
    pub unsafe fn launch(
        &self,
        file: &KernelFile,
        entry: &'static str,
        grid: Grid,
        args: &mut [*mut c_void],
    ) -> Result<()> {
        let f = self.func(file, entry)?;
        {
            let mut rec = self.rec.lock().expect("recorder lock");
            if rec.is_recording() {
                // SAFETY: forwarded from the caller's contract.
                match unsafe { rec.record(f.clone(), entry, grid, args) } {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        // Graphs are an optimisation: without them, launch as usual.
                        eprintln!("cuda: {e}; CUDA graphs switched off for this device");
                        self.ctx.bind_to_thread().map_err(drv("cuCtxSetCurrent"))?;
                        rec.give_up(&self.stream)?;
                    }
                }
            }
        }
        // The driver's current context is per thread; the backend may be used from several.
        self.ctx.bind_to_thread().map_err(drv("cuCtxSetCurrent"))?;
        // SAFETY: forwarded from the caller's contract; the function belongs to this context.
        unsafe {
            cudarc::driver::result::launch_kernel(
                f.cu_function(),
                grid.grid,
                (grid.block, 1, 1),
                grid.shared,
                self.stream.cu_stream(),
                args,
            )
        }
        .map_err(drv(entry))
    }

    /// Fails with a clear out-of-memory error if `bytes` more do not fit in free device memory.
    pub fn check_free(&self, bytes: u64, what: impl FnOnce() -> String) -> Result<()> {
        self.flush()?;
        let (free, _total) = self.ctx.mem_get_info().map_err(drv("cuMemGetInfo"))?;
        if bytes > free as u64 {
            return Err(Error::OutOfMemory {
                what: what(),
                requested: bytes,
                available: free as u64,
            });
        }
        Ok(())
    }
}

/// Whether the CUDA driver library can be opened (never panics, unlike touching the driver).
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen libcuda by its usual names.
    unsafe { sys::is_culib_present() }
}

/// A kernel argument: a pointer to a live value.
#[inline]
pub(crate) fn arg<T>(v: &T) -> *mut c_void {
    v as *const T as *mut c_void
}

/// NVRTC must be loadable before any kernel is needed; checked once at construction.
pub(crate) fn nvrtc_ready() -> Result<()> {
    nvrtc::ensure_loaded().map(|_| ())
}
