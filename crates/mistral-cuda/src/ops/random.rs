//! Deterministic uniform tensors generated on the device (kernels/random.cu): benchmark weights
//! of the true 7B shape without a 14 GB host copy. Bit-identical to
//! `HostTensor::from_f32(shape, &Rng::new(seed).vec(n, lo, hi), dtype)`.

use mistral_core::{DType, Result};

use super::u32_of;
use crate::device::{arg, Device, Grid};
use crate::kernels::RANDOM;
use crate::CudaTensor;

/// Fills `t` (all of it, in its dtype) with the draws of seed `seed` in `[lo, hi)`.
pub fn random(dev: &Device, t: &mut CudaTensor, seed: u64, lo: f32, hi: f32) -> Result<()> {
    let n = t.len as u64;
    if n == 0 {
        return Ok(());
    }
    let entry = match t.dtype {
        DType::F32 => "random_f32",
        DType::F16 => "random_f16",
        DType::BF16 => "random_bf16",
        q => unreachable!("cuda tensors are never {q}: upload refuses block formats"),
    };
    u32_of("random", "blocks", t.len.div_ceil(256))?;
    let p = t.ptr(&dev.stream);
    // SAFETY: random_*(T* out, u64 n, u64 seed, float lo, float hi); `out` holds n elements of
    // the entry's type (t.len of t.dtype); grid-stride over n.
    unsafe {
        dev.launch(
            &RANDOM,
            entry,
            Grid::x(t.len.div_ceil(256).min(65536), 256),
            &mut [arg(&p), arg(&n), arg(&seed), arg(&lo), arg(&hi)],
        )
    }
}
