//! Row argmax on the device, `shaders/argmax.wgsl`: only the ids are read back.

use bytemuck::{Pod, Zeroable};
use mistral_core::{Error, Result, TensorInfo};

use crate::context::u32_of;
use crate::shader::Shader;
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors `Params` in `argmax.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    rows: u32,
    cols: u32,
    _pad: [u32; 2],
}

/// Index of the largest value of each row of `x` (`[rows, cols]`), the first on ties.
pub fn argmax(b: &WgpuBackend, x: &WgpuTensor, rows: usize, cols: usize) -> Result<Vec<u32>> {
    const OP: &str = "argmax";
    if cols == 0 {
        return Err(Error::shape(OP, "zero columns"));
    }
    if x.len() < rows * cols {
        return Err(Error::shape(
            OP,
            format!("x has {} elements, needs {}", x.len(), rows * cols),
        ));
    }
    let ids = b.f32_zeros("argmax ids", rows)?;
    let params = Params {
        rows: u32_of(OP, "rows", rows)?,
        cols: u32_of(OP, "cols", cols)?,
        _pad: [0; 2],
    };
    let mut defines = vec![];
    if b.subgroups {
        defines.push("SUBGROUPS");
    }
    let ids_buf = ids.buffer(OP)?;
    let bufs = [(1, x.f32_buffer(OP, "x")?), (2, ids_buf)];
    b.ctx.dispatch(
        Shader::Argmax,
        &defines,
        bytemuck::bytes_of(&params),
        &bufs,
        b.ctx.groups_1d(rows)?,
    )?;
    let bytes = b.ctx.read_back(&[(ids_buf, rows as u64 * 4)])?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}
