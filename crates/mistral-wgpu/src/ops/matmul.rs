//! `y = x · Wᵀ`: `shaders/matmul_gemv.wgsl` for one row (decode), `shaders/matmul_tiled.wgsl` for
//! many (prefill); with a block-quantized weight their `*_quant` twins, which read the GGML blocks
//! in place through `shaders/quant.wgsl` (same parameters, workgroups and tiles). One dispatch per
//! part of a row-split weight, each writing its slice of columns.

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::MatmulParams;
use mistral_core::{DType, Error, Result};

use crate::context::u32_of;
use crate::shader::{weight_define, Shader};
use crate::{WgpuBackend, WgpuTensor};

/// Output rows per GEMV workgroup (`ROWS` in both GEMV shaders).
const GEMV_ROWS: usize = 4;
/// Output tile edge of the tiled kernels (`T` in both tiled shaders).
const TILE: usize = 64;

/// Mirrors `Params` in `matmul_gemv.wgsl` and `matmul_gemv_quant.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct GemvParams {
    k: u32,
    rows: u32,
    row0: u32,
    x_off: u32,
}

/// Mirrors `Params` in `matmul_tiled.wgsl` and `matmul_tiled_quant.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct TiledParams {
    m: u32,
    k: u32,
    rows: u32,
    row0: u32,
    n_total: u32,
    x_off: u32,
    _pad: [u32; 2],
}

/// `y[m, n] = x[x_row.., k] · w[n, k]ᵀ`, f32 accumulation. A block-quantized weight needs `k` to
/// be a whole number of its blocks (GGUF rows always are).
pub fn matmul(
    b: &WgpuBackend,
    x: &WgpuTensor,
    w: &WgpuTensor,
    y: &mut WgpuTensor,
    p: &MatmulParams,
) -> Result<()> {
    const OP: &str = "matmul";
    p.check(x, w, &*y)?;
    if w.parts.len() > 1 && w.row_len != p.k {
        return Err(Error::shape(
            OP,
            format!(
                "split weight rows have {} elements, not k = {}",
                w.row_len, p.k
            ),
        ));
    }
    let quant = w.dtype.is_quantized();
    if quant {
        check_whole_blocks(OP, "k", p.k, w.dtype)?;
    }
    let (xb, yb) = (x.f32_buffer(OP, "x")?, y.f32_buffer(OP, "y")?);
    let (k, x_off) = (
        u32_of(OP, "k", p.k)?,
        u32_of(OP, "x offset", p.x_row * p.k)?,
    );
    for part in &w.parts {
        let (row0, rows) = if w.parts.len() == 1 {
            (0, p.n)
        } else {
            (part.row0, part.rows)
        };
        if quant {
            // The quantized shaders address a part's bytes with u32 offsets.
            u32_of(OP, "weight part bytes", part.bytes as usize)?;
        }
        let bufs = [(1, xb), (2, &part.buffer), (3, yb)];
        let mut defines = vec![weight_define(w.dtype)];
        if p.m == 1 {
            // Wide loads need whole 8-element chunks per row (and 16-byte aligned x rows); the
            // quantized kernel always reads x as vec4s (k is whole blocks of 32 or 256).
            if p.k.is_multiple_of(8) && !quant {
                defines.push("VEC");
                if w.dtype == DType::F16 && b.f16 {
                    defines.push("F16_EXT");
                }
            }
            if b.subgroups {
                defines.push("SUBGROUPS");
            }
            let params = GemvParams {
                k,
                rows: u32_of(OP, "rows", rows)?,
                row0: u32_of(OP, "row", row0)?,
                x_off,
            };
            let groups = b.ctx.groups_1d(rows.div_ceil(GEMV_ROWS))?;
            b.ctx.dispatch(
                if quant {
                    Shader::MatmulGemvQuant
                } else {
                    Shader::MatmulGemv
                },
                &defines,
                bytemuck::bytes_of(&params),
                &bufs,
                groups,
            )?;
        } else {
            let params = TiledParams {
                m: u32_of(OP, "m", p.m)?,
                k,
                rows: u32_of(OP, "rows", rows)?,
                row0: u32_of(OP, "row", row0)?,
                n_total: u32_of(OP, "n", p.n)?,
                x_off,
                _pad: [0; 2],
            };
            let groups = [
                u32_of(OP, "column tiles", rows.div_ceil(TILE))?,
                u32_of(OP, "row tiles", p.m.div_ceil(TILE))?,
                1,
            ];
            b.ctx.dispatch(
                if quant {
                    Shader::MatmulTiledQuant
                } else {
                    Shader::MatmulTiled
                },
                &defines,
                bytemuck::bytes_of(&params),
                &bufs,
                groups,
            )?;
        }
    }
    Ok(())
}

/// Refuses a row length (`what` = `len`) that is not a whole number of `dtype`'s blocks: the
/// quantized kernels index whole blocks per row.
pub(crate) fn check_whole_blocks(
    op: &'static str,
    what: &str,
    len: usize,
    dtype: DType,
) -> Result<()> {
    if len.is_multiple_of(dtype.block_elems()) {
        return Ok(());
    }
    Err(Error::Unsupported(format!(
        "wgpu {op}: {what} = {len} is not a whole number of {dtype} blocks ({} elements)",
        dtype.block_elems()
    )))
}
