// Causal sliding-window GQA attention, flash style: one workgroup per (query t, head h) streams the
// keys it may see (i - window < j <= i, i = start_pos + t) in tiles of KT with an online softmax, so
// no score matrix is stored. Key j >= start_pos comes from k_new[j - start_pos], older ones from cache
// slot j % slots. Query head h reads KV head h / group.
// SPLIT (decode with a long cache): workgroup z handles keys [lo + z*split_len, ..) and writes its
//   (max, sum, unnormalised output) to `part`; the COMBINE entry merges the splits.
// SUBGROUPS: max/sum reductions with subgroup ops, else a workgroup-memory tree.
// KV_F16 / KV_BF16: the cache is stored in f16 / bf16 (else f32), read through kc()/vc() widened
//   exactly to f32: f16 as `f16` storage under F16_EXT (`enable f16;`), else from u32 words with
//   unpack2x16float; bf16 from u32 words by shifts. The block's own keys are always f32.
// Scores start from a finite -1e30 instead of -inf: fast-math drivers need not honour infinities.
struct Params {
    n: u32, start_pos: u32, n_heads: u32, n_kv_heads: u32,
    head_dim: u32, window: u32, slots: u32, group: u32,
    scale: f32, splits: u32, split_len: u32, _p0: u32,
}

const WG: u32 = 128u;  // invocations; also keys per tile and head dims per pass (head_dim <= 2*WG)
const NEG: f32 = -1e30;

@group(0) @binding(0) var<storage, read> p: Params;
//#if COMBINE
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

// out[t, h, :] from the splits' partials [n, n_heads, splits, head_dim + 2] = (m, l, o[head_dim]).
@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let th = wg.x + wg.y * nwg.x;
    if (th >= p.n * p.n_heads) {
        return;
    }
    let d = p.head_dim;
    let stride = d + 2u;
    let base = th * p.splits * stride;
    var m = NEG;
    for (var s = 0u; s < p.splits; s++) {
        m = max(m, part[base + s * stride]);
    }
    var l = 0.0;
    var o0 = 0.0;
    var o1 = 0.0;
    for (var s = 0u; s < p.splits; s++) {
        let b = base + s * stride;
        let f = exp(part[b] - m);
        l += part[b + 1u] * f;
        if (lid < d) {
            o0 += part[b + 2u + lid] * f;
        }
        if (lid + WG < d) {
            o1 += part[b + 2u + lid + WG] * f;
        }
    }
    if (lid < d) {
        out[th * d + lid] = o0 / l;
    }
    if (lid + WG < d) {
        out[th * d + lid + WG] = o1 / l;
    }
}
//#else
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_new: array<f32>;
@group(0) @binding(3) var<storage, read> v_new: array<f32>;
//#if KV_F16
//#if F16_EXT
@group(0) @binding(4) var<storage, read> k_cache: array<f16>;
@group(0) @binding(5) var<storage, read> v_cache: array<f16>;
fn kc(i: u32) -> f32 { return f32(k_cache[i]); }
fn vc(i: u32) -> f32 { return f32(v_cache[i]); }
//#else
@group(0) @binding(4) var<storage, read> k_cache: array<u32>;
@group(0) @binding(5) var<storage, read> v_cache: array<u32>;
fn kc(i: u32) -> f32 { return unpack2x16float(k_cache[i >> 1u])[i & 1u]; }
fn vc(i: u32) -> f32 { return unpack2x16float(v_cache[i >> 1u])[i & 1u]; }
//#endif
//#else
//#if KV_BF16
@group(0) @binding(4) var<storage, read> k_cache: array<u32>;
@group(0) @binding(5) var<storage, read> v_cache: array<u32>;
// Element i of a bf16 buffer: the low or high half of its word, as the top bits of an f32.
fn bf(u: u32, i: u32) -> f32 { return bitcast<f32>(select(u << 16u, u & 0xffff0000u, (i & 1u) == 1u)); }
fn kc(i: u32) -> f32 { return bf(k_cache[i >> 1u], i); }
fn vc(i: u32) -> f32 { return bf(v_cache[i >> 1u], i); }
//#else
@group(0) @binding(4) var<storage, read> k_cache: array<f32>;
@group(0) @binding(5) var<storage, read> v_cache: array<f32>;
fn kc(i: u32) -> f32 { return k_cache[i]; }
fn vc(i: u32) -> f32 { return v_cache[i]; }
//#endif
//#endif
//#if SPLIT
@group(0) @binding(6) var<storage, read_write> part: array<f32>;
//#else
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
//#endif

var<workgroup> qs: array<f32, 256>;   // the query row
var<workgroup> ps: array<f32, WG>;    // probabilities of the current key tile
var<workgroup> red: array<f32, WG>;

struct Lane { lid: u32, sg_lane: u32, sg_id: u32, n_sg: u32 }

// Max (is_max) or sum of one value per invocation; every invocation gets the result.
fn wg_reduce(v: f32, is_max: bool, ln: Lane) -> f32 {
//#if SUBGROUPS
    var s: f32;
    if (is_max) {
        s = subgroupMax(v);
    } else {
        s = subgroupAdd(v);
    }
    if (ln.sg_lane == 0u) {
        red[ln.sg_id] = s;
    }
    workgroupBarrier();
    var total = red[0];
    for (var j = 1u; j < ln.n_sg; j++) {
        total = select(total + red[j], max(total, red[j]), is_max);
    }
//#else
    red[ln.lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (ln.lid < s) {
            let a = red[ln.lid];
            let b = red[ln.lid + s];
            red[ln.lid] = select(a + b, max(a, b), is_max);
        }
        workgroupBarrier();
    }
    let total = red[0];
//#endif
    workgroupBarrier();
    return total;
}

// Offset of key/value row (position j, KV head g) in k_new/v_new (j >= start_pos) or the cache.
fn kv_off(j: u32, g: u32) -> u32 {
    if (j >= p.start_pos) {
        return ((j - p.start_pos) * p.n_kv_heads + g) * p.head_dim;
    }
    return ((j % p.slots) * p.n_kv_heads + g) * p.head_dim;
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_id) sg_id: u32,
        @builtin(num_subgroups) n_sg: u32,
//#endif
) {
//#if SUBGROUPS
    let ln = Lane(lid, sg_lane, sg_id, n_sg);
//#else
    let ln = Lane(lid, 0u, 0u, 0u);
//#endif
    let th = wg.x + wg.y * nwg.x;  // t * n_heads + h
    if (th >= p.n * p.n_heads) {
        return;
    }
    let d = p.head_dim;
    let t = th / p.n_heads;
    let g = (th % p.n_heads) / p.group;
    let i = p.start_pos + t;
    // Keys lo ..= i, cut to this split's share.
    let lo = select(0u, i + 1u - p.window, i + 1u > p.window);
    let first = lo + min(wg.z * p.split_len, i + 1u - lo);
    let end = first + min(p.split_len, i + 1u - first);

    for (var e = lid; e < d; e += WG) {
        qs[e] = q[th * d + e];
    }
    workgroupBarrier();

    var m = NEG;   // running max of scores
    var l = 0.0;   // running sum of exp(score - m)
    var o0 = 0.0;  // running output, dims lid and lid + WG
    var o1 = 0.0;
    for (var j0 = first; j0 < end; j0 += WG) {
        let j = j0 + lid;
        var s = NEG;
        if (j < end) {
            let off = kv_off(j, g);
            var acc = 0.0;
            if (j >= p.start_pos) {
                for (var e = 0u; e < d; e++) {
                    acc += qs[e] * k_new[off + e];
                }
            } else {
                for (var e = 0u; e < d; e++) {
                    acc += qs[e] * kc(off + e);
                }
            }
            s = acc * p.scale;
        }
        let m_new = max(m, wg_reduce(s, true, ln));
        var pj = 0.0;
        if (j < end) {
            pj = exp(s - m_new);
        }
        ps[lid] = pj;
        let alpha = exp(m - m_new);
        l = l * alpha + wg_reduce(pj, false, ln);  // the reduction's barrier also publishes ps
        m = m_new;
        o0 *= alpha;
        o1 *= alpha;
        let cnt = min(WG, end - j0);
        for (var jj = 0u; jj < cnt; jj++) {
            let pv = ps[jj];
            let jk = j0 + jj;
            let off = kv_off(jk, g);
            if (jk >= p.start_pos) {
                if (lid < d) {
                    o0 += pv * v_new[off + lid];
                }
                if (lid + WG < d) {
                    o1 += pv * v_new[off + lid + WG];
                }
            } else {
                if (lid < d) {
                    o0 += pv * vc(off + lid);
                }
                if (lid + WG < d) {
                    o1 += pv * vc(off + lid + WG);
                }
            }
        }
        workgroupBarrier();  // ps is rewritten by the next tile
    }
//#if SPLIT
    let b = (th * p.splits + wg.z) * (d + 2u);
    if (lid == 0u) {
        part[b] = m;
        part[b + 1u] = l;
    }
    if (lid < d) {
        part[b + 2u + lid] = o0;
    }
    if (lid + WG < d) {
        part[b + 2u + lid + WG] = o1;
    }
//#else
    if (lid < d) {
        out[th * d + lid] = o0 / l;
    }
    if (lid + WG < d) {
        out[th * d + lid + WG] = o1 / l;
    }
//#endif
}
//#endif
