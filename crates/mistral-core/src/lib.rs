//! Core types shared by every backend of the Mistral kernel workspace.
//!
//! - [`DType`]: the element types weights may be stored in (activations are always f32).
//! - [`Backend`]: the small, buffer-oriented trait that the CPU reference, CUDA and wgpu implement.
//!   Each op's exact semantics are written in its doc comment; every backend implements those words.
//! - [`ops`]: the `#[repr(C)]` parameter structs of the ops, with the shape checks all backends share.
//! - [`cases`]: the parity case table that drives both the parity tests and the kernel benchmarks.
//! - [`testutil`]: seeded inputs and tolerance comparison that prints error statistics.

pub mod backend;
pub mod cases;
pub mod dtype;
pub mod error;
pub mod host;
pub mod ops;
pub mod quant;
pub mod rng;
pub mod testutil;

pub use backend::{Backend, TensorInfo};
pub use dtype::DType;
pub use error::{Error, Result};
pub use host::{HostBytes, HostTensor};
