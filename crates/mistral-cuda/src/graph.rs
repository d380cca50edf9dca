//! Decode steps replayed as CUDA graphs, to remove the GPU's gap between ~490 small launches.
//!
//! A single-token step (from its embedding launch to the first read-back, allocation, upload or
//! synchronisation) is recorded instead of launched. At that point the recorded kernels run as one
//! graph: the first time a sequence of kernels (entry points, block sizes, shared memory) is seen
//! it is launched kernel by kernel; the second time it is built into a graph; from then on the
//! cached graph is replayed, after updating only the nodes whose arguments or grid changed (token,
//! position, cache slot, key splits) with `cuGraphExecKernelNodeSetParams`. The model, the kernels
//! and the Backend trait are unchanged: a step records the same launches it would have issued.
//!
//! Per-step scalars (the token, the position, the cache slot) would make ~1 + 5 per layer nodes
//! differ between steps. Ops that record such a scalar stage it instead ([`Recorder::stage`]): the
//! value goes into a small host array, the kernel gets a pointer into a device copy of it, and
//! the array is copied to the device (one cuMemcpyHtoDAsync) before the step runs. Replays then
//! need no node updates at all, except when a grid changes (the key-split count of decode
//! attention, every 128 positions).
//!
//! Recording only spans model steps, whose buffers live across the step; anything that allocates,
//! copies or waits ends the recording first. A driver error while building or updating a graph
//! switches graphs off for this backend and launches the recorded kernels one by one instead.

use std::collections::HashMap;
use std::ffi::c_void;
use std::hash::{Hash, Hasher};

use cudarc::driver::{sys, CudaFunction, CudaStream};
use mistral_core::{Error, Result};

use crate::device::Grid;

/// Graphs kept at once (one per distinct step shape; decode has two or three).
const MAX_GRAPHS: usize = 8;
/// Staged scalars per step (Mistral-7B decode stages 1 + 32 · 7 = 225: per layer two RoPE
/// positions, one attention position and two cache writes of two offsets each).
pub(crate) const STAGE_CAPACITY: usize = 4096;

/// What the recorder has done so far (tests and benchmarks read it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GraphStats {
    /// Steps recorded (each launched one way or another).
    pub steps: u64,
    /// Kernel launches recorded in those steps.
    pub launches: u64,
    /// Steps launched kernel by kernel (first sight of their shape, or after a graph error).
    pub eager_steps: u64,
    /// Graphs built (cuGraphInstantiate).
    pub built: u64,
    /// Steps run by replaying a cached graph.
    pub replays: u64,
    /// Kernel nodes updated before replays.
    pub node_updates: u64,
}

/// One recorded launch: the function, its geometry and a copy of its argument bytes.
struct Recorded {
    func: CudaFunction,
    entry: &'static str,
    grid: Grid,
    /// Argument bytes, one Vec per kernel parameter.
    args: Vec<Vec<u8>>,
}

impl Recorded {
    fn param_ptrs(&mut self) -> Vec<*mut c_void> {
        self.args
            .iter_mut()
            .map(|a| a.as_mut_ptr() as *mut c_void)
            .collect()
    }

    fn node_params(&self, ptrs: &mut [*mut c_void]) -> sys::CUDA_KERNEL_NODE_PARAMS {
        sys::CUDA_KERNEL_NODE_PARAMS {
            func: self.func.cu_function(),
            gridDimX: self.grid.grid.0,
            gridDimY: self.grid.grid.1,
            gridDimZ: self.grid.grid.2,
            blockDimX: self.grid.block,
            blockDimY: 1,
            blockDimZ: 1,
            sharedMemBytes: self.grid.shared,
            kernelParams: ptrs.as_mut_ptr(),
            extra: std::ptr::null_mut(),
            kern: std::ptr::null_mut(),
            ctx: std::ptr::null_mut(),
        }
    }

    /// Same arguments and geometry as `other` (then its graph node needs no update).
    fn same_as(&self, other: &Recorded) -> bool {
        self.grid.grid == other.grid.grid && self.args == other.args
    }
}

struct StepGraph {
    graph: sys::CUgraph,
    exec: sys::CUgraphExec,
    nodes: Vec<sys::CUgraphNode>,
    /// The launches whose arguments the executable graph holds now.
    launches: Vec<Recorded>,
}

impl Drop for StepGraph {
    fn drop(&mut self) {
        // SAFETY: both handles were created by this recorder and are destroyed once, here.
        unsafe {
            sys::cuGraphExecDestroy(self.exec);
            sys::cuGraphDestroy(self.graph);
        }
    }
}

/// The recorder of one device (behind the device's lock).
pub(crate) struct Recorder {
    enabled: bool,
    recording: bool,
    pending: Vec<Recorded>,
    seen: HashMap<u64, u32>,
    graphs: HashMap<u64, StepGraph>,
    param_sizes: HashMap<&'static str, Vec<usize>>,
    /// This step's staged scalars, and the device buffer they are copied to before it runs.
    staging: Vec<u32>,
    stage_dev: u64,
    pub stats: GraphStats,
}

// SAFETY: the raw graph handles are only used under the device's mutex, on its context.
unsafe impl Send for Recorder {}

/// A driver result as the workspace's error, named "CUDA graph: {what}".
fn check(r: sys::CUresult, what: &'static str) -> Result<()> {
    r.result()
        .map_err(|e| crate::device::drv(&format!("CUDA graph: {what}"))(e))
}

impl Recorder {
    /// `enabled`: whether single-token steps are recorded at all; `stage_dev`: a device buffer of
    /// [`STAGE_CAPACITY`] u32s for staged scalars (0: none, scalars stay kernel arguments).
    pub fn new(enabled: bool, stage_dev: u64) -> Self {
        Recorder {
            enabled,
            recording: false,
            pending: Vec::new(),
            seen: HashMap::new(),
            graphs: HashMap::new(),
            param_sizes: HashMap::new(),
            staging: Vec::new(),
            stage_dev,
            stats: GraphStats::default(),
        }
    }

    /// While recording, keeps `values` for this step and returns the device address they will
    /// have when the step runs; `None` when not recording (pass them as kernel arguments).
    pub fn stage(&mut self, values: &[u32]) -> Option<u64> {
        if !self.recording
            || self.stage_dev == 0
            || self.staging.len() + values.len() > STAGE_CAPACITY
        {
            return None;
        }
        let at = self.stage_dev + 4 * self.staging.len() as u64;
        self.staging.extend_from_slice(values);
        Some(at)
    }

    /// Copies the staged scalars to the device, ahead of the step's kernels, and clears them.
    fn upload_staging(&mut self) -> Result<()> {
        let values = std::mem::take(&mut self.staging);
        if values.is_empty() {
            return Ok(());
        }
        // A synchronous copy on the legacy stream every launch of this backend uses: ordered after
        // everything queued before it and, from pageable memory, returns once the values are
        // staged, so `values` may go away.
        // In decode it costs nothing extra: the previous step's read-back already waited.
        // SAFETY: stage_dev holds STAGE_CAPACITY u32s and stage() never exceeds it.
        let r = unsafe {
            sys::cuMemcpyHtoD_v2(
                self.stage_dev,
                values.as_ptr() as *const c_void,
                4 * values.len(),
            )
        };
        check(r, "uploading staged scalars")
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn set_enabled(&mut self, on: bool) {
        self.enabled = on;
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Whether anything waits to be issued.
    pub fn has_work(&self) -> bool {
        self.recording || !self.pending.is_empty()
    }

    /// Starts recording a step (the caller has flushed).
    pub fn begin(&mut self) {
        self.recording = self.enabled;
        self.staging.clear();
    }

    /// Records one launch instead of issuing it.
    ///
    /// # Safety
    /// `args` point to live values of the kernel's parameter types, in order.
    pub unsafe fn record(
        &mut self,
        func: CudaFunction,
        entry: &'static str,
        grid: Grid,
        args: &[*mut c_void],
    ) -> Result<()> {
        let sizes = match self.param_sizes.get(entry) {
            Some(s) => s,
            None => {
                let mut sizes = Vec::with_capacity(args.len());
                for i in 0..args.len() {
                    let (mut offset, mut size) = (0usize, 0usize);
                    // SAFETY: a loaded function and two out-pointers.
                    let r = unsafe {
                        sys::cuFuncGetParamInfo(func.cu_function(), i, &mut offset, &mut size)
                    };
                    check(r, "cuFuncGetParamInfo")?;
                    sizes.push(size);
                }
                self.param_sizes.entry(entry).or_insert(sizes)
            }
        };
        let args = args
            .iter()
            .zip(sizes)
            // SAFETY: the caller's contract: each pointer covers its parameter's size.
            .map(|(&p, &n)| unsafe { std::slice::from_raw_parts(p as *const u8, n) }.to_vec())
            .collect();
        self.pending.push(Recorded {
            func,
            entry,
            grid,
            args,
        });
        Ok(())
    }

    /// Switches graphs off and launches what was recorded one by one (after a graph API error).
    pub fn give_up(&mut self, stream: &CudaStream) -> Result<()> {
        self.enabled = false;
        self.recording = false;
        self.graphs.clear();
        // Taken first: if the upload fails the step is dropped, never issued later by mistake.
        let mut step = std::mem::take(&mut self.pending);
        self.upload_staging()?;
        launch_each(&mut step, stream)
    }

    /// Ends the recording and issues the recorded step on `stream`.
    pub fn flush(&mut self, stream: &CudaStream) -> Result<()> {
        self.recording = false;
        // Taken first: if the upload fails the step is dropped, never issued later by mistake.
        let mut step = std::mem::take(&mut self.pending);
        if step.is_empty() {
            self.staging.clear();
            return Ok(());
        }
        self.upload_staging()?;
        self.stats.steps += 1;
        self.stats.launches += step.len() as u64;
        let key = shape_key(&step);
        let seen = self.seen.entry(key).or_insert(0);
        *seen += 1;
        let result = if self.graphs.contains_key(&key) {
            self.replay(key, step, stream)
        } else if *seen >= 2 {
            self.build(key, step, stream)
        } else {
            self.stats.eager_steps += 1;
            return launch_each(&mut step, stream);
        };
        result.or_else(|(e, mut step)| {
            // A graph the driver refused: keep running, without graphs.
            eprintln!("cuda: {e}; CUDA graphs switched off for this device");
            self.enabled = false;
            self.graphs.clear();
            self.stats.eager_steps += 1;
            launch_each(&mut step, stream)
        })
    }

    fn build(
        &mut self,
        key: u64,
        mut step: Vec<Recorded>,
        stream: &CudaStream,
    ) -> std::result::Result<(), (Error, Vec<Recorded>)> {
        let mut graph = std::ptr::null_mut();
        // SAFETY: out-pointer; the graph is destroyed by StepGraph's Drop or below on error.
        if let Err(e) = check(
            unsafe { sys::cuGraphCreate(&mut graph, 0) },
            "cuGraphCreate",
        ) {
            return Err((e, step));
        }
        let mut g = StepGraph {
            graph,
            exec: std::ptr::null_mut(),
            nodes: Vec::with_capacity(step.len()),
            launches: Vec::new(),
        };
        for l in step.iter_mut() {
            let mut ptrs = l.param_ptrs();
            let params = l.node_params(&mut ptrs);
            let mut node = std::ptr::null_mut();
            let deps = g.nodes.last().map_or(&[][..], std::slice::from_ref);
            // SAFETY: params point to `ptrs`, which point into `l.args` (alive for the call; the
            // driver copies the argument values); deps are nodes of this graph.
            let r = unsafe {
                sys::cuGraphAddKernelNode_v2(&mut node, graph, deps.as_ptr(), deps.len(), &params)
            };
            if let Err(e) = check(r, "cuGraphAddKernelNode") {
                return Err((e, step));
            }
            g.nodes.push(node);
        }
        // SAFETY: a complete graph of kernel nodes; out-pointer.
        let r = unsafe { sys::cuGraphInstantiateWithFlags(&mut g.exec, graph, 0) };
        if let Err(e) = check(r, "cuGraphInstantiate") {
            g.exec = std::ptr::null_mut();
            return Err((e, step));
        }
        // SAFETY: an instantiated graph on this device's stream.
        let r = unsafe { sys::cuGraphLaunch(g.exec, stream.cu_stream()) };
        if let Err(e) = check(r, "cuGraphLaunch") {
            return Err((e, step));
        }
        self.stats.built += 1;
        g.launches = step;
        if self.graphs.len() >= MAX_GRAPHS {
            self.graphs.clear();
        }
        self.graphs.insert(key, g);
        Ok(())
    }

    fn replay(
        &mut self,
        key: u64,
        mut step: Vec<Recorded>,
        stream: &CudaStream,
    ) -> std::result::Result<(), (Error, Vec<Recorded>)> {
        let g = self.graphs.get_mut(&key).expect("graph present");
        for (i, l) in step.iter_mut().enumerate() {
            if l.same_as(&g.launches[i]) {
                continue;
            }
            let mut ptrs = l.param_ptrs();
            let params = l.node_params(&mut ptrs);
            // SAFETY: node i of this executable graph runs the same function (same shape key);
            // params point into `l.args`, copied by the driver during the call.
            let r = unsafe { sys::cuGraphExecKernelNodeSetParams_v2(g.exec, g.nodes[i], &params) };
            if let Err(e) = check(r, "cuGraphExecKernelNodeSetParams") {
                return Err((e, step));
            }
            self.stats.node_updates += 1;
        }
        // SAFETY: an instantiated graph whose nodes now hold this step's arguments.
        let r = unsafe { sys::cuGraphLaunch(g.exec, stream.cu_stream()) };
        if let Err(e) = check(r, "cuGraphLaunch") {
            return Err((e, step));
        }
        g.launches = step;
        self.stats.replays += 1;
        Ok(())
    }
}

/// The shape of a step: which kernels, in which order, with which block and shared memory.
/// Grids and arguments may differ between steps of one shape (graph nodes are updated).
fn shape_key(step: &[Recorded]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    step.len().hash(&mut h);
    for l in step {
        l.entry.hash(&mut h);
        l.grid.block.hash(&mut h);
        l.grid.shared.hash(&mut h);
        l.args.len().hash(&mut h);
    }
    h.finish()
}

fn launch_each(step: &mut [Recorded], stream: &CudaStream) -> Result<()> {
    for l in step {
        let mut ptrs = l.param_ptrs();
        // SAFETY: recorded from a launch whose caller guaranteed the argument types and buffer
        // sizes; the buffers are the model's, alive across the step.
        unsafe {
            cudarc::driver::result::launch_kernel(
                l.func.cu_function(),
                l.grid.grid,
                (l.grid.block, 1, 1),
                l.grid.shared,
                stream.cu_stream(),
                &mut ptrs,
            )
        }
        .map_err(|e| Error::Backend {
            backend: "cuda",
            msg: format!("{}: {e}", l.entry),
        })?;
    }
    Ok(())
}
