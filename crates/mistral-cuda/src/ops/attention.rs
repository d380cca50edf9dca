use cudarc::driver::DeviceRepr;
use mistral_core::ops::AttentionParams;
use mistral_core::{Error, Result};

use super::{attention_prefill, kv_entry, u32_of};
use crate::device::{arg, Device, Grid};
use crate::kernels::ATTENTION;
use crate::CudaTensor;

/// Mirrors `struct AttnArgs` in kernels/attention.cu (8 pointers, 9 u32, 1 f32: 104 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct AttnArgs {
    q: u64,
    k_new: u64,
    v_new: u64,
    k_cache: u64,
    v_cache: u64,
    out: u64,
    part: u64,
    pos: u64,
    n: u32,
    start_pos: u32,
    n_heads: u32,
    n_kv: u32,
    d: u32,
    window: u32,
    slots: u32,
    splits: u32,
    qb: u32,
    scale: f32,
}

// SAFETY: plain-old-data laid out exactly as the C struct (checked by the size test below).
unsafe impl DeviceRepr for AttnArgs {}

/// Largest head_dim the kernel holds in registers (4 dims per lane).
const MAX_HEAD_DIM: usize = 128;
/// Largest split count of flash-decoding.
const MAX_SPLITS: usize = 32;

/// Which kernel runs a call, and how its work is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Tensor-core FlashAttention-2 (`attn_split_kv_f32` + `attn_prefill_f32`).
    Prefill,
    /// `attn_<cache dtype>` with `qb` queries per block and the keys cut into `splits` (merged
    /// by `attn_combine_f32` when more than one).
    Simt { qb: usize, splits: usize },
}

/// The kernel choice, in one place:
/// - Prefill blocks (n > 4) whose shapes the tensor-core kernel takes (head_dim % 16 == 0,
///   head_dim <= 128, group <= 64): `Plan::Prefill`.
/// - Other prefill blocks: `attn_f32` with up to 16 warps per block, one per (query, query head
///   of the KV head), one split.
/// - Decode-sized blocks (n <= 4): few queries cannot fill the GPU, so the keys are split into
///   chunks of about 128 (flash-decoding), up to 32, merged by `attn_combine_f32`.
pub(crate) fn plan(p: &AttentionParams) -> Plan {
    if p.n > 4 && attention_prefill::supports(p) {
        return Plan::Prefill;
    }
    let group = p.n_heads / p.n_kv_heads;
    let qb = (16 / group).clamp(1, p.n.max(1));
    let keys = p.window.min(p.start_pos + p.n);
    let splits = if p.n <= 4 {
        keys.div_ceil(128).clamp(1, MAX_SPLITS)
    } else {
        1
    };
    Plan::Simt { qb, splits }
}

/// Floats of scratch a call needs: the f16 pieces of the visible keys for `Plan::Prefill`,
/// `[n, n_heads, splits, head_dim + 2]` partial results for split `attn_f32`, else none.
pub(crate) fn scratch_len(p: &AttentionParams) -> usize {
    match plan(p) {
        Plan::Prefill => attention_prefill::scratch_len(p),
        Plan::Simt { splits: 1, .. } => 0,
        Plan::Simt { splits, .. } => p.n * p.n_heads * splits * (p.head_dim + 2),
    }
}

/// Sliding-window GQA attention: the kernels [`plan`] picks, instantiated for the cache's dtype
/// (f32, f16 or bf16; `p.check` verified both caches share it and every other tensor is f32).
/// `part` is a scratch buffer of at least [`scratch_len`] floats (0 when that is 0).
#[allow(clippy::too_many_arguments)]
pub fn attention(
    dev: &Device,
    q: &CudaTensor,
    k_new: &CudaTensor,
    v_new: &CudaTensor,
    k_cache: &CudaTensor,
    v_cache: &CudaTensor,
    out: &mut CudaTensor,
    part: u64,
    p: &AttentionParams,
) -> Result<()> {
    p.check(q, k_new, v_new, k_cache, v_cache, &*out)?;
    let entry = kv_entry("attn", k_cache.dtype)?;
    if p.head_dim > MAX_HEAD_DIM || p.head_dim == 0 {
        return Err(Error::Unsupported(format!(
            "attention: head_dim {} is not in 1..={MAX_HEAD_DIM}",
            p.head_dim
        )));
    }
    if p.n == 0 || p.n_heads == 0 {
        return Ok(());
    }
    // Positions below 2^31 keep the kernels' position arithmetic (j + window) in u32.
    let last = u32_of("attention", "last position", p.start_pos + p.n)?;
    if last >= 1 << 31 {
        return Err(Error::Unsupported(format!(
            "attention: position {last} exceeds 2^31"
        )));
    }
    let (qb, splits) = match plan(p) {
        Plan::Prefill => {
            return attention_prefill::attention_prefill(
                dev, q, k_new, v_new, k_cache, v_cache, out, part, p,
            )
        }
        Plan::Simt { qb, splits } => (qb, splits),
    };
    let group = p.n_heads / p.n_kv_heads;
    let warps = qb * group;
    let shared = (warps * p.head_dim + 32 * (2 * p.head_dim + 1)) * 4;
    if warps > 32 || shared > 48 * 1024 {
        return Err(Error::Unsupported(format!(
            "attention: {group} query heads per KV head with head_dim {} need {shared} bytes of \
             shared memory per block (limit 48 KiB)",
            p.head_dim
        )));
    }
    let s = &dev.stream;
    let (n_heads, slots) = (
        u32_of("attention", "n_heads", p.n_heads)?,
        u32_of("attention", "slots", p.slots)?,
    );
    // In a recorded decode step the position is staged (read from device memory: graph.rs) and
    // the kernel caps the window at start_pos + n itself, so both arguments stay constant.
    let (start_pos, window, pos) = match dev.stage(&[p.start_pos as u32]) {
        Some(at) => (0, p.window.min(1 << 31) as u32, at),
        // A window longer than every position is the same as that length (fits u32).
        None => (
            p.start_pos as u32,
            p.window.min(p.start_pos + p.n) as u32,
            0,
        ),
    };
    let a = AttnArgs {
        q: q.ptr(s),
        k_new: k_new.ptr(s),
        v_new: v_new.ptr(s),
        k_cache: k_cache.ptr(s),
        v_cache: v_cache.ptr(s),
        out: out.ptr(s),
        part,
        pos,
        n: p.n as u32,
        start_pos,
        n_heads,
        n_kv: p.n_kv_heads as u32,
        d: p.head_dim as u32,
        window,
        slots,
        splits: splits as u32,
        qb: qb as u32,
        scale: p.scale(),
    };
    let grid = Grid {
        grid: (p.n.div_ceil(qb) as u32, p.n_kv_heads as u32, splits as u32),
        block: (32 * warps) as u32,
        shared: shared as u32,
    };
    // SAFETY: attn_<cache dtype>(AttnArgs) by value, `entry` chosen by the caches' dtype so the
    // kernel reads their elements at their size; every buffer holds what `p.check` verified,
    // `pos` is 0 or a staged u32 written before the recorded step runs, `part` holds
    // scratch_len(p) floats when splits > 1 (the backend's scratch), and the dynamic shared memory
    // is the size the kernel indexes (warps·d + KT·(d+1) + KT·d floats).
    unsafe { dev.launch(&ATTENTION, entry, grid, &mut [arg(&a)])? };
    if splits > 1 {
        let (po, d, sp) = (a.out, a.d, a.splits);
        // SAFETY: attn_combine_f32(const float*, float*, u32, u32); part holds n·n_heads·splits·
        // (d+2) floats written by attn_<cache dtype> just before on the same stream; out holds
        // n·n_heads·d.
        unsafe {
            dev.launch(
                &ATTENTION,
                "attn_combine_f32",
                Grid::x(p.n * p.n_heads, 128),
                &mut [arg(&part), arg(&po), arg(&d), arg(&sp)],
            )?
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_match_the_c_struct_size() {
        assert_eq!(std::mem::size_of::<AttnArgs>(), 104);
    }

    #[test]
    fn decode_splits_the_keys_prefill_does_not() {
        let p = AttentionParams {
            n: 1,
            start_pos: 5000,
            n_heads: 32,
            n_kv_heads: 8,
            head_dim: 128,
            window: 4096,
            slots: 4096,
        };
        assert_eq!(plan(&p), Plan::Simt { qb: 1, splits: 32 });
        assert_eq!(plan(&AttentionParams { n: 512, ..p }), Plan::Prefill);
        assert_eq!(
            plan(&AttentionParams { start_pos: 3, ..p }),
            Plan::Simt { qb: 1, splits: 1 }
        );
        // Prefill shapes the tensor-core kernel does not take stay on attn_f32, unsplit.
        assert_eq!(
            plan(&AttentionParams {
                n: 512,
                head_dim: 8,
                ..p
            }),
            Plan::Simt { qb: 4, splits: 1 }
        );
    }
}
