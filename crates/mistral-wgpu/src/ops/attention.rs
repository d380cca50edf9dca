//! Sliding-window GQA attention, `shaders/attention.wgsl` and `shaders/attention_prefill.wgsl`.
//!
//! Kernel choice (one place, [`plan`]): a prefill block (at least [`PREFILL_MIN_QUERIES`] queries)
//! runs the query-tiled kernel, where one workgroup takes 64 (query, head) rows of one KV head and
//! shares each K/V tile it loads into workgroup memory among them. Smaller blocks (decode, short
//! continuations) and head sizes that kernel does not take run one workgroup per (query, head)
//! streaming its keys with an online softmax. Decode whose query sees more keys than one split
//! (default 256) also splits the keys over workgroups (split-K, up to `MAX_SPLITS`), each writing
//! (max, sum, unnormalised output), and a combine pass merges them: one query x 32 heads alone would
//! leave most of a GPU idle.
//!
//! The KV cache may be stored in f32, f16 or bf16 ([`kv_defines`]): both kernels widen it exactly
//! as they read it, so everything after the load is the f32 cache's arithmetic.

use std::sync::Mutex;

use bytemuck::{Pod, Zeroable};
use mistral_core::ops::AttentionParams;
use mistral_core::{DType, Error, Result, TensorInfo};

use crate::context::u32_of;
use crate::shader::Shader;
use crate::{WgpuBackend, WgpuTensor};

/// Keys per split when [`crate::WgpuOptions::attention_split_keys`] is unset.
const SPLIT_KEYS: usize = 256;
const MAX_SPLITS: usize = 32;
/// The shader keeps a query row in workgroup memory and two output dims per invocation.
const MAX_HEAD_DIM: usize = 256;
/// Queries from which a block takes the query-tiled prefill kernel.
const PREFILL_MIN_QUERIES: usize = 8;
/// The prefill kernel reads rows as `vec4`s and keeps 32 output dims per invocation.
const PREFILL_MAX_HEAD_DIM: usize = 128;
/// (query, head) rows per prefill workgroup (`ROWS` in `attention_prefill.wgsl`).
const PREFILL_ROWS: usize = 64;

/// How one attention call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// `attention_prefill.wgsl`: workgroups of [`PREFILL_ROWS`] (query, head) rows of one KV head.
    Prefill,
    /// `attention.wgsl`: one workgroup per (query, head) over all its keys.
    Rows,
    /// `attention.wgsl` `SPLIT` over `splits` workgroups of `len` keys each, then `COMBINE`.
    SplitK { splits: usize, len: usize },
}

/// The kernel for a call (the one place that decides):
/// - prefill (`n >= PREFILL_MIN_QUERIES`, head_dim a multiple of 4 up to 128): query-tiled, each
///   K/V element read about `min(n, window) / (64 / group) + 1` times instead of
///   `group * min(n, window)`; below that size most of its 64 rows would idle;
/// - decode (`n == 1`) seeing more than `split_keys` keys: split-K plus combine, for parallelism;
/// - anything else (short blocks, decode with a short history, head_dim the prefill kernel does not
///   take): one workgroup per (query, head).
fn plan(p: &AttentionParams, split_keys: usize) -> Plan {
    if p.n >= PREFILL_MIN_QUERIES
        && p.head_dim.is_multiple_of(4)
        && p.head_dim <= PREFILL_MAX_HEAD_DIM
    {
        return Plan::Prefill;
    }
    // Keys the last query sees (the most of any query of the block).
    let keys = p.window.min(p.start_pos + p.n);
    if p.n == 1 && keys > split_keys {
        let len = split_keys.max(keys.div_ceil(MAX_SPLITS));
        return Plan::SplitK {
            splits: keys.div_ceil(len),
            len,
        };
    }
    Plan::Rows
}

/// Mirrors `Params` in `attention.wgsl` and `attention_prefill.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    start_pos: u32,
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    window: u32,
    slots: u32,
    group: u32,
    scale: f32,
    splits: u32,
    split_len: u32,
    _pad: u32,
}

/// The defines selecting how both attention shaders read a cache stored in `dtype`: f16 through
/// `enable f16` where the adapter has it (`f16_ext`), else from packed `u32` words.
fn kv_defines(dtype: DType, f16_ext: bool) -> Vec<&'static str> {
    match dtype {
        DType::F16 if f16_ext => vec!["KV_F16", "F16_EXT"],
        DType::F16 => vec!["KV_F16"],
        DType::BF16 => vec!["KV_BF16"],
        _ => vec![],
    }
}

/// The split-K partials buffer, grown on demand.
#[derive(Default)]
pub struct Scratch(Mutex<Option<WgpuTensor>>);

/// `out` = attention of `q` over the cache and the block's own keys; `t` = [q, k_new, v_new,
/// k_cache, v_cache].
pub fn attention(
    b: &WgpuBackend,
    t: [&WgpuTensor; 5],
    out: &mut WgpuTensor,
    p: &AttentionParams,
) -> Result<()> {
    const OP: &str = "attention";
    let [q, k_new, v_new, k_cache, v_cache] = t;
    p.check(q, k_new, v_new, k_cache, v_cache, &*out)?;
    if p.head_dim > MAX_HEAD_DIM {
        return Err(Error::Unsupported(format!(
            "{OP}: head_dim {} > {MAX_HEAD_DIM}",
            p.head_dim
        )));
    }
    u32_of(OP, "positions", p.start_pos + p.n)?;
    let split_keys = b.opts.attention_split_keys.unwrap_or(SPLIT_KEYS).max(1);
    let plan = plan(p, split_keys);
    let (splits, split_len) = match plan {
        Plan::SplitK { splits, len } => (splits, len),
        Plan::Prefill | Plan::Rows => (1, u32::MAX as usize),
    };
    let params = Params {
        n: p.n as u32,
        start_pos: p.start_pos as u32,
        n_heads: u32_of(OP, "n_heads", p.n_heads)?,
        n_kv_heads: u32_of(OP, "n_kv_heads", p.n_kv_heads)?,
        head_dim: p.head_dim as u32,
        // A window past every position (no sliding window) is the same as u32::MAX.
        window: p.window.min(u32::MAX as usize) as u32,
        slots: p.slots.min(u32::MAX as usize) as u32,
        group: (p.n_heads / p.n_kv_heads) as u32,
        scale: p.scale(),
        splits: splits as u32,
        split_len: split_len as u32,
        _pad: 0,
    };
    let params = bytemuck::bytes_of(&params);
    let inputs = [
        (1, q.f32_buffer(OP, "q")?),
        (2, k_new.f32_buffer(OP, "k_new")?),
        (3, v_new.f32_buffer(OP, "v_new")?),
        // f32, f16 or bf16, the same for both (`p.check`).
        (4, k_cache.buffer(OP)?),
        (5, v_cache.buffer(OP)?),
    ];
    let kv = kv_defines(k_cache.dtype(), b.f16);
    let out_buf = out.f32_buffer(OP, "out")?;
    if plan == Plan::Prefill {
        let tiles = (p.n * p.n_heads / p.n_kv_heads).div_ceil(PREFILL_ROWS);
        let groups = b.ctx.groups_1d(tiles * p.n_kv_heads)?;
        let mut bufs = inputs.to_vec();
        bufs.push((6, out_buf));
        return b
            .ctx
            .dispatch(Shader::AttentionPrefill, &kv, params, &bufs, groups);
    }
    let mut defines = kv;
    if b.subgroups {
        defines.push("SUBGROUPS");
    }
    let rows = b.ctx.groups_1d(p.n * p.n_heads)?;
    if splits == 1 {
        let mut bufs = inputs.to_vec();
        bufs.push((6, out_buf));
        return b
            .ctx
            .dispatch(Shader::Attention, &defines, params, &bufs, rows);
    }
    let need = p.n * p.n_heads * splits * (p.head_dim + 2);
    let mut scratch = b.scratch.0.lock().unwrap_or_else(|e| e.into_inner());
    if scratch.as_ref().is_none_or(|s| s.len() < need) {
        // The old buffer stays alive while recorded work still uses it.
        *scratch = Some(b.f32_zeros("attention partials", need.next_power_of_two())?);
    }
    let part = scratch.as_ref().expect("just allocated").buffer(OP)?;
    let mut bufs = inputs.to_vec();
    bufs.push((6, part));
    defines.push("SPLIT");
    let split_groups = [rows[0], rows[1], splits as u32];
    b.ctx
        .dispatch(Shader::Attention, &defines, params, &bufs, split_groups)?;
    b.ctx.dispatch(
        Shader::Attention,
        &["COMBINE"],
        params,
        &[(1, part), (6, out_buf)],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n: usize, start_pos: usize, head_dim: usize, window: usize) -> AttentionParams {
        AttentionParams {
            n,
            start_pos,
            n_heads: 32,
            n_kv_heads: 8,
            head_dim,
            window,
            slots: window,
        }
    }

    #[test]
    fn plan_picks_prefill_for_blocks_and_keeps_decode_paths() {
        assert_eq!(plan(&params(512, 0, 128, 4096), 256), Plan::Prefill);
        assert_eq!(plan(&params(8, 100, 64, 4096), 256), Plan::Prefill);
        assert_eq!(plan(&params(7, 100, 128, 4096), 256), Plan::Rows);
        assert_eq!(plan(&params(512, 0, 256, 4096), 256), Plan::Rows);
        assert_eq!(plan(&params(512, 0, 130, 4096), 256), Plan::Rows);
        assert_eq!(plan(&params(1, 100, 128, 4096), 256), Plan::Rows);
        assert_eq!(
            plan(&params(1, 999, 128, 4096), 256),
            Plan::SplitK {
                splits: 4,
                len: 256
            }
        );
    }
}
