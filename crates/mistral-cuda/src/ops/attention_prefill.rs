//! Tensor-core sliding-window attention for prefill blocks (kernels/attention_prefill.cu):
//! `attn_split_kv_<cache dtype>` (f32, f16 or bf16 cache) splits the keys and values the block can
//! see into f16 hi/lo pieces in the backend's scratch buffer, then `attn_prefill_f32` runs FlashAttention-2 over them with mma.sync.
//! `attention::plan` chooses this path; the shapes it does not take go to `attn_f32`.

use cudarc::driver::DeviceRepr;
use mistral_core::ops::AttentionParams;
use mistral_core::Result;

use super::{kv_entry, u32_of};
use crate::device::{arg, Device, Grid};
use crate::kernels::ATTENTION_PREFILL;
use crate::CudaTensor;

/// (query, query head) rows per block: 4 warps of one m16 tile each (`PF_ROWS`).
const ROWS: usize = 64;
/// Largest head_dim (`PF_DMAX`): Q and O fragments of 128 dims live in registers.
const MAX_HEAD_DIM: usize = 128;

/// Mirrors `struct SplitKvArgs` in kernels/attention_prefill.cu (5 pointers, 6 u32: 64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct SplitKvArgs {
    k_new: u64,
    v_new: u64,
    k_cache: u64,
    v_cache: u64,
    kv: u64,
    n_kv: u32,
    d: u32,
    start_pos: u32,
    slots: u32,
    kfirst: u32,
    keys: u32,
}

/// Mirrors `struct PrefillArgs` in kernels/attention_prefill.cu (3 pointers, 9 u32, 1 f32: 64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct PrefillArgs {
    q: u64,
    kv: u64,
    out: u64,
    n: u32,
    start_pos: u32,
    n_heads: u32,
    n_kv: u32,
    d: u32,
    window: u32,
    kfirst: u32,
    keys: u32,
    qb: u32,
    qscale: f32,
}

// SAFETY: plain-old-data laid out exactly as the C structs (checked by the size tests below).
unsafe impl DeviceRepr for SplitKvArgs {}
// SAFETY: as above.
unsafe impl DeviceRepr for PrefillArgs {}

/// Whether the tensor-core kernel takes these shapes: head_dim a multiple of the MMA's k (16, and
/// 16-byte rows for cp.async) up to 128, and a GQA group that fits one block's 64 rows.
pub(crate) fn supports(p: &AttentionParams) -> bool {
    let group = p.n_heads / p.n_kv_heads.max(1);
    p.head_dim.is_multiple_of(16) && p.head_dim <= MAX_HEAD_DIM && (1..=ROWS).contains(&group)
}

/// The positions any query of the block can see: `kfirst .. kfirst + keys`.
fn key_span(p: &AttentionParams) -> (usize, usize) {
    let kfirst = (p.start_pos + 1).saturating_sub(p.window);
    (kfirst, p.start_pos + p.n - kfirst)
}

/// Floats of scratch: the four f16 pieces (K hi, K lo, V hi, V lo) of every visible key element,
/// two floats' worth per element.
pub(crate) fn scratch_len(p: &AttentionParams) -> usize {
    2 * p.n_kv_heads * key_span(p).1 * p.head_dim
}

/// Runs the two kernels. The caller (`attention::attention`) has checked the tensors (`p.check`:
/// f32 activations, caches of one dtype f32/f16/bf16), `supports(p)`, `p.n > 0` and that every position is below 2^31; `scratch` holds
/// [`scratch_len`] floats.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention_prefill(
    dev: &Device,
    q: &CudaTensor,
    k_new: &CudaTensor,
    v_new: &CudaTensor,
    k_cache: &CudaTensor,
    v_cache: &CudaTensor,
    out: &mut CudaTensor,
    scratch: u64,
    p: &AttentionParams,
) -> Result<()> {
    debug_assert!(supports(p) && p.n > 0 && scratch_len(p) > 0);
    let entry = kv_entry("attn_split_kv", k_cache.dtype)?;
    let s = &dev.stream;
    let (kfirst, keys) = key_span(p);
    let (kfirst, keys) = (
        u32_of("attention", "first key", kfirst)?,
        u32_of("attention", "keys", keys)?,
    );
    let split = SplitKvArgs {
        k_new: k_new.ptr(s),
        v_new: v_new.ptr(s),
        k_cache: k_cache.ptr(s),
        v_cache: v_cache.ptr(s),
        kv: scratch,
        n_kv: u32_of("attention", "n_kv_heads", p.n_kv_heads)?,
        d: p.head_dim as u32,
        start_pos: p.start_pos as u32,
        slots: u32_of("attention", "slots", p.slots)?,
        kfirst,
        keys,
    };
    let grid = Grid {
        grid: (keys, 2, 1),
        block: 256,
        shared: 0,
    };
    // SAFETY: attn_split_kv_<cache dtype>(SplitKvArgs) by value, `entry` chosen by the caches'
    // dtype. It reads row j − start_pos of k_new/v_new ([n, n_kv, d] f32, j < start_pos + n) or
    // row j % slots of k_cache/v_cache ([slots, n_kv, d] of their dtype) for the positions
    // kfirst .. kfirst + keys, as `p.check` verified, 4 elements at a time (aligned: rows are
    // d % 16 == 0 elements from a buffer's start); it writes 4·n_kv·keys·d u16 = scratch_len(p)
    // floats of `scratch`.
    unsafe { dev.launch(&ATTENTION_PREFILL, entry, grid, &mut [arg(&split)])? };

    let group = p.n_heads / p.n_kv_heads;
    let qb = ROWS / group;
    let a = PrefillArgs {
        q: q.ptr(s),
        kv: scratch,
        out: out.ptr(s),
        n: p.n as u32,
        start_pos: p.start_pos as u32,
        n_heads: u32_of("attention", "n_heads", p.n_heads)?,
        n_kv: split.n_kv,
        d: split.d,
        // A window longer than every position is the same as that length (fits u32).
        window: p.window.min(p.start_pos + p.n) as u32,
        kfirst,
        keys,
        qb: qb as u32,
        qscale: p.scale() * std::f32::consts::LOG2_E,
    };
    let grid = Grid {
        grid: (p.n.div_ceil(qb) as u32, split.n_kv, 1),
        block: (ROWS * 2) as u32,
        shared: 0,
    };
    // SAFETY: attn_prefill_f32(PrefillArgs) by value. q and out hold n·n_heads·d floats
    // (`p.check`); kv is the scratch attn_split_kv_* filled just before on the same stream with
    // the pieces of positions kfirst .. kfirst + keys, which covers every key of every query's
    // window; the kernel's 34 KiB of shared memory is static.
    unsafe { dev.launch(&ATTENTION_PREFILL, "attn_prefill_f32", grid, &mut [arg(&a)]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_match_the_c_struct_sizes() {
        assert_eq!(std::mem::size_of::<SplitKvArgs>(), 64);
        assert_eq!(std::mem::size_of::<PrefillArgs>(), 64);
    }

    #[test]
    fn key_span_covers_every_window_of_the_block() {
        let p = AttentionParams {
            n: 9,
            start_pos: 20,
            n_heads: 8,
            n_kv_heads: 2,
            head_dim: 128,
            window: 8,
            slots: 8,
        };
        // Query 0 (position 20) sees 13..=20, the last (28) sees 21..=28.
        assert_eq!(key_span(&p), (13, 16));
        assert_eq!(key_span(&AttentionParams { start_pos: 0, ..p }), (0, 9));
        assert_eq!(scratch_len(&p), 2 * 2 * 16 * 128);
    }

    #[test]
    fn shapes_outside_the_kernel_are_not_taken() {
        let p = AttentionParams {
            n: 64,
            start_pos: 0,
            n_heads: 32,
            n_kv_heads: 8,
            head_dim: 128,
            window: 4096,
            slots: 4096,
        };
        assert!(supports(&p));
        assert!(supports(&AttentionParams { head_dim: 16, ..p }));
        assert!(!supports(&AttentionParams { head_dim: 8, ..p }));
        assert!(!supports(&AttentionParams { head_dim: 136, ..p }));
        assert!(!supports(&AttentionParams { head_dim: 72, ..p }));
        assert!(!supports(&AttentionParams {
            n_heads: 128,
            n_kv_heads: 1,
            ..p
        }));
    }
}
