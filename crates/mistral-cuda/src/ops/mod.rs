//! One op per file: shape checks (shared with every backend), kernel choice and launch.

pub mod add;
pub mod argmax;
pub mod attention;
pub mod attention_prefill;
pub mod copy;
pub mod embedding;
pub mod matmul;
pub mod random;
pub mod rms_norm;
pub mod rope;
pub mod swiglu;

use mistral_core::{DType, Error, Result, TensorInfo};

use crate::device::Grid;

/// Activations, the KV cache and logits are f32; a weight passed where one is expected is a bug
/// in the caller, reported instead of read with the wrong element size.
pub(crate) fn want_f32(op: &'static str, what: &str, t: &impl TensorInfo) -> Result<()> {
    if t.dtype() != DType::F32 {
        return Err(Error::shape(
            op,
            format!("{what} must be f32, got {}", t.dtype()),
        ));
    }
    Ok(())
}

/// A value that must fit a 32-bit kernel parameter.
pub(crate) fn u32_of(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Unsupported(format!("{op}: {what} = {v} exceeds 2^32")))
}

/// Grid-stride elementwise launch: 256 threads, at most 4096 blocks.
pub(crate) fn elementwise_grid(n: usize) -> Grid {
    Grid::x(n.div_ceil(256).min(4096), 256)
}
