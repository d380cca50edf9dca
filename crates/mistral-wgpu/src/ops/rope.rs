//! RoPE, `shaders/rope.wgsl`, with cos/sin tables built on the host.
//!
//! The tables hold `cos(f32(pos) * inv_freq[i])` and `sin(..)` computed exactly as the CPU reference
//! does, for positions `0..capacity` (grown by doubling). GPU trig is only specified inside
//! [-pi, pi] (Vulkan: 2^-11 absolute), while angles reach ~8k radians, so a table makes the result
//! independent of the driver; it costs `capacity * head_dim * 4` bytes (32 MiB at 32k positions, d=128).

use std::collections::HashMap;
use std::sync::Mutex;

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::RopeParams;
use mistral_core::Result;

use super::ELEMENTWISE_WG;
use crate::context::u32_of;
use crate::shader::Shader;
use crate::{WgpuBackend, WgpuTensor};

/// Mirrors `Params` in `rope.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    rows: u32,
    heads: u32,
    head_dim: u32,
    start_pos: u32,
}

struct Table {
    positions: usize,
    cos: WgpuTensor,
    sin: WgpuTensor,
}

/// cos/sin tables per (theta bits, head_dim).
#[derive(Default)]
pub struct Tables(Mutex<HashMap<(u32, usize), Table>>);

/// Rotates `x` (`[rows, heads, head_dim]`) in place, row `r` at position `start_pos + r`.
pub fn rope(b: &WgpuBackend, x: &mut WgpuTensor, p: &RopeParams) -> Result<()> {
    const OP: &str = "rope";
    p.check(&*x)?;
    let need = p.start_pos + p.rows;
    let half = p.head_dim / 2;
    let mut tables = b.rope.0.lock().unwrap_or_else(|e| e.into_inner());
    let key = (p.theta.to_bits(), p.head_dim);
    if tables.get(&key).is_none_or(|t| t.positions < need) {
        let positions = need.next_power_of_two().max(1024);
        let inv_freq = p.inv_freq();
        let (mut cos, mut sin) = (
            Vec::with_capacity(positions * half),
            Vec::with_capacity(positions * half),
        );
        for pos in 0..positions {
            for f in &inv_freq {
                let a = pos as f32 * f;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        let upload = |v: &[f32]| {
            let t = b.f32_zeros("rope table", v.len())?;
            b.ctx
                .queue
                .write_buffer(t.buffer(OP)?, 0, bytemuck::cast_slice(v));
            Ok::<_, mistral_core::Error>(t)
        };
        let table = Table {
            positions,
            cos: upload(&cos)?,
            sin: upload(&sin)?,
        };
        tables.insert(key, table);
    }
    let t = &tables[&key];
    let params = Params {
        rows: u32_of(OP, "rows", p.rows)?,
        heads: u32_of(OP, "heads", p.heads)?,
        head_dim: u32_of(OP, "head_dim", p.head_dim)?,
        start_pos: u32_of(OP, "start_pos", p.start_pos)?,
    };
    let bufs = [
        (1, x.f32_buffer(OP, "x")?),
        (2, t.cos.buffer(OP)?),
        (3, t.sin.buffer(OP)?),
    ];
    let groups = b
        .ctx
        .groups_1d((p.rows * p.heads * half).div_ceil(ELEMENTWISE_WG))?;
    b.ctx.dispatch(
        Shader::Rope,
        &[],
        bytemuck::bytes_of(&params),
        &bufs,
        groups,
    )
}
