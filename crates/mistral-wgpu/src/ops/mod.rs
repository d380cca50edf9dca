//! One op, one file: each checks shapes with the shared `mistral_core::ops` checks, mirrors its
//! parameters into a `#[repr(C)]` Pod struct (the WGSL `Params` of its shader) and records dispatches.

pub mod add;
pub mod argmax;
pub mod attention;
pub mod copy;
pub mod embedding;
pub mod matmul;
pub mod rms_norm;
pub mod rope;
pub mod swiglu;

/// Workgroup size of the one-thread-per-element shaders.
pub const ELEMENTWISE_WG: usize = 256;
