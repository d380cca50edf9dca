use mistral_core::ops::AttentionParams;
use mistral_core::Result;
use rayon::prelude::*;

use crate::CpuTensor;

/// Elements `range` of a cache buffer as f32: borrowed from an f32 cache, or widened (exactly)
/// from an f16/bf16 one into `buf` (`range.len()` elements).
fn cache_row<'a>(
    cache: &'a CpuTensor,
    range: std::ops::Range<usize>,
    buf: &'a mut [f32],
) -> &'a [f32] {
    match cache {
        CpuTensor::F32(v) => &v[range],
        other => {
            other.read_row(range.start, buf);
            buf
        }
    }
}

/// Causal sliding-window GQA attention of a block of queries against the rolling cache plus the
/// block's own keys. Exact two-pass softmax in f32; see `Backend::attention` for the semantics.
/// The cache may be stored in f32, f16 or bf16: a 16-bit row is widened exactly before use, so the
/// arithmetic is the f32 cache's over the stored values.
pub fn attention(
    q: &CpuTensor,
    k_new: &CpuTensor,
    v_new: &CpuTensor,
    k_cache: &CpuTensor,
    v_cache: &CpuTensor,
    out: &mut CpuTensor,
    p: &AttentionParams,
) -> Result<()> {
    p.check(q, k_new, v_new, k_cache, v_cache, &*out)?;
    let d = p.head_dim;
    let (q_row, kv_row) = (p.n_heads * d, p.n_kv_heads * d);
    let group = p.n_heads / p.n_kv_heads;
    let q = q.f32s("attention", p.n * q_row)?;
    let (kn, vn) = (
        k_new.f32s("attention", p.n * kv_row)?,
        v_new.f32s("attention", p.n * kv_row)?,
    );
    // Row of position j for KV head g: from the block if j >= start_pos, else from slot j % slots.
    let key = |j: usize, g: usize| -> std::ops::Range<usize> {
        let base = if j >= p.start_pos {
            (j - p.start_pos) * kv_row
        } else {
            (j % p.slots) * kv_row
        };
        base + g * d..base + (g + 1) * d
    };
    let scale = p.scale();
    let out = &mut out.f32_mut("attention", p.n * q_row)?[..p.n * q_row];
    out.par_chunks_mut(d).enumerate().for_each_init(
        || (Vec::new(), vec![0.0f32; d]),
        |(scores, buf), (idx, o)| {
            let (t, h) = (idx / p.n_heads, idx % p.n_heads);
            let g = h / group;
            let qv = &q[t * q_row + h * d..t * q_row + (h + 1) * d];
            let keys = p.key_range(t);
            scores.clear();
            for j in keys.clone() {
                let k = if j >= p.start_pos {
                    &kn[key(j, g)]
                } else {
                    cache_row(k_cache, key(j, g), buf)
                };
                scores.push(super::dot(qv, k) * scale);
            }
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            o.fill(0.0);
            for (j, s) in keys.zip(scores.iter()) {
                let v = if j >= p.start_pos {
                    &vn[key(j, g)]
                } else {
                    cache_row(v_cache, key(j, g), buf)
                };
                let w = s / sum;
                for (o, v) in o.iter_mut().zip(v) {
                    *o += w * v;
                }
            }
        },
    );
    Ok(())
}
