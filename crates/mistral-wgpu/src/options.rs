//! Backend settings: adapter choice, forcing the portable kernels, and test-only limits.

/// How to open the wgpu backend. `Default` picks the best adapter and the fastest kernels it supports.
#[derive(Clone, Debug, Default)]
pub struct WgpuOptions {
    /// Index into [`crate::list_adapters`] (what `mistral devices` prints); `None` picks the first
    /// discrete GPU, else integrated, else virtual, else a CPU (software) adapter.
    pub adapter: Option<usize>,
    /// Use only the kernels that need no optional feature: no `enable f16;` (f16 weights are unpacked
    /// from u32 words) and no subgroup operations (workgroup-memory reductions). CI runs the parity
    /// suite both ways.
    pub force_portable: bool,
    /// Largest buffer a weight may occupy, below the adapter's storage-binding limit. Weights larger
    /// than the limit are split by rows over several buffers; tests set a tiny limit so that path runs
    /// on small tensors.
    pub max_binding_bytes: Option<u64>,
    /// Keys per split of decode attention (split-K). `None`: 256, used when a single query sees more
    /// keys than that. Tests set a small value so the split-and-combine path runs on short caches.
    pub attention_split_keys: Option<usize>,
    /// Device memory the backend may assume for [`crate::WgpuBackend::check_memory`]. wgpu exposes no
    /// free-memory query, so without this only the adapter's buffer limits are checked.
    pub memory_budget_bytes: Option<u64>,
}
