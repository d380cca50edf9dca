//! The recording machinery shared by all ops: cached pipelines, one pending command encoder with one
//! open compute pass, and a parameter arena uploaded once per submission.
//!
//! Ops only record; the encoder is submitted when the host needs data (`download_f32`, `argmax`,
//! `synchronize`), before a host write into a buffer, or when the arena is full.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};

use mistral_core::{Error, Result};

use crate::shader::{preprocess, Shader};

/// Bytes of op parameters one submission can hold (a 7B decode step records ~450 dispatches of at
/// most 256 bytes each, so a step is one submission).
const ARENA_BYTES: u64 = 4 << 20;

pub(crate) fn backend_err(msg: impl Into<String>) -> Error {
    Error::Backend {
        backend: "wgpu",
        msg: msg.into(),
    }
}

#[derive(Default)]
struct Pending {
    encoder: Option<wgpu::CommandEncoder>,
    /// The open pass; it borrows `encoder` (lifetime erased), so it is dropped before the encoder is used.
    pass: Option<wgpu::ComputePass<'static>>,
    /// Contents of the parameter arena for the dispatches recorded so far.
    params: Vec<u8>,
}

/// The device, its queue and everything ops record into.
pub(crate) struct Context {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pipelines: Mutex<HashMap<(Shader, Vec<&'static str>), wgpu::ComputePipeline>>,
    pending: Mutex<Pending>,
    arena: wgpu::Buffer,
    align: u64,
    /// The first validation error wgpu reported outside an error scope, surfaced at the next submit.
    uncaptured: Arc<Mutex<Option<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Context {
    pub fn new(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let uncaptured = Arc::new(Mutex::new(None));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            lock(&sink).get_or_insert_with(|| e.to_string());
        }));
        let align = device.limits().min_storage_buffer_offset_alignment.max(16) as u64;
        let arena = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("op params"),
            size: ARENA_BYTES,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Context {
            device,
            queue,
            pipelines: Mutex::default(),
            pending: Mutex::default(),
            arena,
            align,
            uncaptured,
        }
    }

    /// The pipeline of `shader` with `defines`, compiled on first use. A compile error names the file.
    fn pipeline(&self, shader: Shader, defines: &[&'static str]) -> Result<wgpu::ComputePipeline> {
        let key = (shader, defines.to_vec());
        if let Some(p) = lock(&self.pipelines).get(&key) {
            return Ok(p.clone());
        }
        let src = preprocess(shader, defines)?;
        let label = format!("shaders/{} {defines:?}", shader.file());
        let pipeline = self.compile(&label, src)?;
        lock(&self.pipelines).insert(key, pipeline.clone());
        Ok(pipeline)
    }

    /// Compiles WGSL source with entry point `main` into a compute pipeline. A compile or validation
    /// error (caught by an error scope, never a panic) names `label` and carries wgpu's message.
    pub fn compile(&self, label: &str, src: String) -> Result<wgpu::ComputePipeline> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        match pollster::block_on(scope.pop()) {
            Some(e) => Err(backend_err(format!(
                "shader {label} failed to compile: {e}"
            ))),
            None => Ok(pipeline),
        }
    }

    /// Records one dispatch of `shader`: `params` (a Pod struct, maybe followed by an array) is bound
    /// at binding 0, `buffers` at their binding numbers.
    pub fn dispatch(
        &self,
        shader: Shader,
        defines: &[&'static str],
        params: &[u8],
        buffers: &[(u32, &wgpu::Buffer)],
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.contains(&0) {
            return Ok(());
        }
        let pipeline = self.pipeline(shader, defines)?;
        let mut st = lock(&self.pending);
        let size = (params.len() as u64).next_multiple_of(4).max(16);
        if size > ARENA_BYTES {
            return Err(backend_err(format!(
                "{}: {} bytes of parameters exceed the {ARENA_BYTES}-byte arena",
                shader.file(),
                params.len()
            )));
        }
        let mut offset = (st.params.len() as u64).next_multiple_of(self.align);
        if offset + size > ARENA_BYTES {
            self.submit(&mut st)?;
            offset = 0;
        }
        st.params.resize(offset as usize, 0);
        st.params.extend_from_slice(params);
        st.params.resize((offset + size) as usize, 0);
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.arena,
                offset,
                size: wgpu::BufferSize::new(size),
            }),
        }];
        entries.extend(buffers.iter().map(|&(binding, b)| wgpu::BindGroupEntry {
            binding,
            resource: b.as_entire_binding(),
        }));
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(shader.file()),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let st = &mut *st;
        if st.pass.is_none() {
            let encoder = st.encoder.get_or_insert_with(|| {
                self.device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("step"),
                    })
            });
            let pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("ops"),
                timestamp_writes: None,
            });
            st.pass = Some(pass.forget_lifetime());
        }
        let pass = st.pass.as_mut().expect("pass was just opened");
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        Ok(())
    }

    /// Uploads the arena and submits everything recorded so far.
    fn submit(&self, st: &mut Pending) -> Result<()> {
        st.pass = None;
        if let Some(encoder) = st.encoder.take() {
            if !st.params.is_empty() {
                self.queue.write_buffer(&self.arena, 0, &st.params);
            }
            self.queue.submit([encoder.finish()]);
        }
        st.params.clear();
        self.check_errors()
    }

    /// Submits pending work without waiting (e.g. before a host write into a buffer it uses).
    pub fn flush(&self) -> Result<()> {
        self.submit(&mut lock(&self.pending))
    }

    fn check_errors(&self) -> Result<()> {
        match lock(&self.uncaptured).take() {
            Some(e) => Err(backend_err(e)),
            None => Ok(()),
        }
    }

    /// Submits pending work and waits for the device to finish it.
    pub fn wait(&self) -> Result<()> {
        self.flush()?;
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| backend_err(format!("waiting for the device: {e}")))?;
        self.check_errors()
    }

    /// Copies `bytes` bytes of each `(buffer, bytes)` back to the host, in order, after pending work.
    pub fn read_back(&self, srcs: &[(&wgpu::Buffer, u64)]) -> Result<Vec<u8>> {
        let total: u64 = srcs.iter().map(|s| s.1.next_multiple_of(4)).sum();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read back"),
            size: total.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        {
            let mut st = lock(&self.pending);
            st.pass = None;
            let encoder = st.encoder.get_or_insert_with(|| {
                self.device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                        label: Some("step"),
                    })
            });
            let mut at = 0;
            for &(buf, bytes) in srcs {
                let n = bytes.next_multiple_of(4);
                encoder.copy_buffer_to_buffer(buf, 0, &staging, at, n);
                at += n;
            }
            self.submit(&mut st)?;
        }
        let (tx, rx) = mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| backend_err(format!("waiting for the device: {e}")))?;
        rx.recv()
            .map_err(|_| backend_err("read back: the map callback never ran"))?
            .map_err(|e| backend_err(format!("read back: {e}")))?;
        self.check_errors()?;
        let data = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| backend_err(format!("read back: {e}")))?;
            let mut out = Vec::with_capacity(total as usize);
            let mut at = 0usize;
            for &(_, bytes) in srcs {
                out.extend_from_slice(&view[at..at + bytes as usize]);
                at += bytes.next_multiple_of(4) as usize;
            }
            out
        };
        staging.unmap();
        Ok(data)
    }

    /// Workgroup counts for `n` groups over x (and y when x would pass the per-dimension limit).
    /// Shaders linearise them as `wg.x + wg.y * num_workgroups.x` and skip the overshoot.
    pub fn groups_1d(&self, n: usize) -> Result<[u32; 3]> {
        let max = self.device.limits().max_compute_workgroups_per_dimension as usize;
        if n <= max {
            return Ok([n as u32, 1, 1]);
        }
        let y = n.div_ceil(max);
        if y > max {
            return Err(backend_err(format!(
                "{n} workgroups exceed the device limit"
            )));
        }
        // Spread evenly over y rows so at most y - 1 groups overshoot.
        Ok([n.div_ceil(y) as u32, y as u32, 1])
    }
}

/// A `usize` that shaders index with `u32`.
pub(crate) fn u32_of(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::shape(op, format!("{what} = {v} does not fit in 32 bits")))
}
