//! The wgpu backend: every op of [`mistral_core::Backend`] as a hand-written WGSL compute shader
//! (`shaders/*.wgsl`), for Vulkan, Metal and DX12 adapters.
//!
//! - Weights keep their stored dtype on the device (f32, f16, bf16); 16-bit weights are read as packed
//!   `u32` words (WGSL has no bf16), or as `f16` storage where the adapter has `SHADER_F16`.
//! - GGML block-quantized weights (Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K) keep the file's blocks
//!   (device memory = file bytes) and are decoded in place by `shaders/quant.wgsl`, included by the
//!   `*_quant` GEMV, tiled-matmul and embedding shaders; activations are never quantized.
//! - A weight larger than the adapter's storage-binding limit is split by rows over several buffers
//!   and each op dispatches once per part.
//! - Ops are recorded into one command encoder (one compute pass) with their parameters in one arena;
//!   nothing is submitted until the host reads data back or calls `synchronize`.
//! - [`WgpuOptions::force_portable`] selects the kernels that need no optional feature.
//!
//! ```no_run
//! use mistral_wgpu::{list_adapters, WgpuBackend, WgpuOptions};
//! for a in list_adapters() {
//!     println!("{a}");
//! }
//! let backend = WgpuBackend::new(WgpuOptions { adapter: Some(0), ..Default::default() })?;
//! # Ok::<(), mistral_core::Error>(())
//! ```

mod adapters;
mod backend;
mod context;
mod ops;
mod options;
pub mod shader;
mod tensor;

pub use adapters::{list_adapters, AdapterSummary};
pub use backend::WgpuBackend;
pub use options::WgpuOptions;
pub use tensor::WgpuTensor;
