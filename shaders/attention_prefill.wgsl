// Causal sliding-window GQA attention for a prefill block (many queries), query-tiled flash style.
// Same semantics as attention.wgsl: query t sits at position i = start_pos + t and sees keys j with
// i - window < j <= i; key j >= start_pos comes from k_new[j - start_pos], older ones from cache slot
// j % slots; query head h reads KV head h / group; softmax in f32, online, scores never stored whole.
//
// Tiling. One workgroup (256 invocations) owns ROWS = 64 consecutive "rows" of ONE KV head g, a row
// being a (query t, query head h of g's group) pair, ordered t-major: row f -> t = f / group,
// h = g * group + f % group. At Mistral-7B (group 4) that is Bq = 16 consecutive queries x all 4
// heads sharing g; with MHA (group 1) 64 queries of one head. Taking the whole GQA group is what
// makes a K/V tile useful to every row of the workgroup (all of them read the same KV head), so the
// reuse factor is 64 rows whatever the group size. Four invocations serve one row.
// The workgroup walks the keys its queries may see, lo = first query's i - window + 1 ..= last
// query's i (the union of the rows' windows is one interval, so key tiles wholly outside every
// window, or causally masked for all, are never visited), KT = 16 keys at a time:
//   1. K tile (16 keys x head_dim) -> workgroup memory; each invocation scores 4 keys of its row
//      (q read from global/L1 as vec4, shared by the row's 4 invocations) into `sc`.
//   2. The same workgroup memory is refilled with the V tile; each invocation reads its row's 16
//      scores, masks per row (i - window < j <= i), updates the row's running max / sum (online
//      softmax, redundantly and identically in the row's 4 invocations) and accumulates
//      p * V into 32 of the row's output dims (vec4s c, c+4, ... of the row, c = lane in row).
// Workgroup memory (limit 16 KiB, the WebGPU default; nothing more is requested):
//   kv: KT x (head_dim/4 + 1 padding) vec4 = 16 x 33 x 16 B = 8448 B (K then V of the tile; the pad
//       vec4 puts the 4 keys scored side by side in different banks)
//   sc: ROWS x (KT + 1 padding) f32 = 64 x 17 x 4 B = 4352 B
//   total 12800 B. K and V tiles of 16 keys in f32 each need 8 KiB at head_dim 128, so they take
//   turns in one buffer (2 extra barriers per tile) instead of f16 storage or a split head_dim: the
//   scores and the output stay exact f32 and there is one portable variant.
// Global reads per K/V element (position j, KV head g), with Wn = min(n, window) queries seeing it:
//   before (attention.wgsl, one workgroup per (query, head)): group x Wn, e.g. 4 x 512 = 2048 for a
//   512-query block at 7B; now: once per 64-row tile whose key range covers j, about
//   Wn / Bq + 1 = 33. So K/V traffic drops ~64x; q is reread once per 16-key tile from L1/L2
//   (head_dim per row per tile, versus the 16 x head_dim of K it is scored against).
// Requires head_dim % 4 == 0 and head_dim <= 128 (the host falls back to attention.wgsl otherwise).
// Scores start from a finite -1e30 instead of -inf: fast-math drivers need not honour infinities;
// masking is decided from positions, never by comparing against it.
// KV_F16 / KV_BF16: the cache is stored in f16 / bf16 (else f32), four elements read at a time by
// kc4()/vc4() and widened exactly to f32 as the tile is loaded: f16 as `vec4<f16>` storage under
// F16_EXT, else from two u32 words (unpack2x16float); bf16 from two u32 words by shifts.
struct Params {
    n: u32, start_pos: u32, n_heads: u32, n_kv_heads: u32,
    head_dim: u32, window: u32, slots: u32, group: u32,
    scale: f32, splits: u32, split_len: u32, _p0: u32,
}

const WG: u32 = 256u;       // invocations
const ROWS: u32 = 64u;      // (query, head) rows per workgroup, 4 invocations each
const KT: u32 = 16u;        // keys per tile
const MAX_D4: u32 = 32u;    // head_dim / 4 at most
const KV_STRIDE: u32 = 33u; // vec4s per key in `kv` (MAX_D4 + 1 pad)
const S_STRIDE: u32 = 17u;  // f32s per row in `sc` (KT + 1 pad)
const NEG: f32 = -1e30;

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k_new: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v_new: array<vec4<f32>>;
//#if KV_F16
//#if F16_EXT
@group(0) @binding(4) var<storage, read> k_cache: array<vec4<f16>>;
@group(0) @binding(5) var<storage, read> v_cache: array<vec4<f16>>;
fn kc4(i: u32) -> vec4<f32> { return vec4<f32>(k_cache[i]); }
fn vc4(i: u32) -> vec4<f32> { return vec4<f32>(v_cache[i]); }
//#else
@group(0) @binding(4) var<storage, read> k_cache: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> v_cache: array<vec2<u32>>;
fn h4(w: vec2<u32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }
fn kc4(i: u32) -> vec4<f32> { return h4(k_cache[i]); }
fn vc4(i: u32) -> vec4<f32> { return h4(v_cache[i]); }
//#endif
//#else
//#if KV_BF16
@group(0) @binding(4) var<storage, read> k_cache: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> v_cache: array<vec2<u32>>;
fn b4(w: vec2<u32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(vec4<u32>(w.x << 16u, w.x & 0xffff0000u, w.y << 16u, w.y & 0xffff0000u));
}
fn kc4(i: u32) -> vec4<f32> { return b4(k_cache[i]); }
fn vc4(i: u32) -> vec4<f32> { return b4(v_cache[i]); }
//#else
@group(0) @binding(4) var<storage, read> k_cache: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> v_cache: array<vec4<f32>>;
fn kc4(i: u32) -> vec4<f32> { return k_cache[i]; }
fn vc4(i: u32) -> vec4<f32> { return v_cache[i]; }
//#endif
//#endif
@group(0) @binding(6) var<storage, read_write> out: array<vec4<f32>>;

var<workgroup> kv: array<vec4<f32>, 528>;  // KT * KV_STRIDE
var<workgroup> sc: array<f32, 1088>;       // ROWS * S_STRIDE

// Keys j0 .. j0 + KT of KV head g (K, or V when is_v) into `kv`; keys past `last` read as zero.
fn load_tile(j0: u32, last: u32, g: u32, is_v: bool, lid: u32) {
    let d4 = p.head_dim / 4u;
    for (var e = lid; e < KT * d4; e += WG) {
        let kk = e / d4;
        let c = e % d4;
        let j = j0 + kk;
        var val = vec4<f32>(0.0);
        if (j <= last) {
            if (j >= p.start_pos) {
                let off = ((j - p.start_pos) * p.n_kv_heads + g) * d4 + c;
                if (is_v) {
                    val = v_new[off];
                } else {
                    val = k_new[off];
                }
            } else {
                let off = ((j % p.slots) * p.n_kv_heads + g) * d4 + c;
                if (is_v) {
                    val = vc4(off);
                } else {
                    val = kc4(off);
                }
            }
        }
        kv[kk * KV_STRIDE + c] = val;
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows_total = p.n * p.group;  // rows per KV head
    let tiles = (rows_total + ROWS - 1u) / ROWS;
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= tiles * p.n_kv_heads) {
        return;  // overshoot of the 2-D fold: workgroup-uniform
    }
    let g = wid % p.n_kv_heads;
    let f0 = (wid / p.n_kv_heads) * ROWS;
    let f_end = min(f0 + ROWS, rows_total);
    // Positions of the tile's first and last query, and the first key any of them sees.
    let i_first = p.start_pos + f0 / p.group;
    let i_last = p.start_pos + (f_end - 1u) / p.group;
    let lo = select(0u, i_first + 1u - p.window, i_first + 1u > p.window);

    let d4 = p.head_dim / 4u;
    let r = lid / 4u;  // this invocation's row
    let c = lid % 4u;  // and its lane in the row
    let f = f0 + r;
    let row_ok = f < f_end;
    let fc = min(f, f_end - 1u);  // rows past the end compute on a valid row and write nothing
    let t = fc / p.group;
    let h = g * p.group + fc % p.group;
    let i = p.start_pos + t;
    let row_lo = select(0u, i + 1u - p.window, i + 1u > p.window);
    let qb = (t * p.n_heads + h) * d4;

    var m = NEG;   // running max of the row's scores
    var l = 0.0;   // running sum of exp(score - m)
    var o: array<vec4<f32>, 8>;  // running output, vec4s c + 4 * jj of the row
    let n_tiles = (i_last - lo) / KT + 1u;  // a count, so no position arithmetic can wrap
    for (var tile = 0u; tile < n_tiles; tile++) {
        let j0 = lo + tile * KT;
        load_tile(j0, i_last, g, false, lid);
        workgroupBarrier();
        var s: array<f32, 4>;  // keys j0 + c + 4 * kk
        for (var e = 0u; e < d4; e++) {
            let qv = q[qb + e];
            for (var kk = 0u; kk < 4u; kk++) {
                s[kk] += dot(qv, kv[(c + 4u * kk) * KV_STRIDE + e]);
            }
        }
        for (var kk = 0u; kk < 4u; kk++) {
            sc[r * S_STRIDE + c + 4u * kk] = s[kk] * p.scale;
        }
        workgroupBarrier();  // scores published, K no longer read
        load_tile(j0, i_last, g, true, lid);
        var pr: array<f32, 16>;
        var mt = NEG;
        for (var kk = 0u; kk < KT; kk++) {
            let j = j0 + kk;
            let ok = row_ok && j >= row_lo && j <= i;
            pr[kk] = select(NEG, sc[r * S_STRIDE + kk], ok);
            mt = max(mt, pr[kk]);
        }
        let m_new = max(m, mt);
        let alpha = exp(m - m_new);
        var ls = 0.0;
        for (var kk = 0u; kk < KT; kk++) {
            let j = j0 + kk;
            let ok = row_ok && j >= row_lo && j <= i;
            pr[kk] = select(0.0, exp(pr[kk] - m_new), ok);
            ls += pr[kk];
        }
        l = l * alpha + ls;
        m = m_new;
        workgroupBarrier();  // V tile in place
        for (var jj = 0u; jj < 8u; jj++) {
            o[jj] *= alpha;
        }
        for (var kk = 0u; kk < KT; kk++) {
            let pv = pr[kk];
            for (var jj = 0u; jj < 8u; jj++) {
                let e = c + 4u * jj;
                if (e < d4) {
                    o[jj] += pv * kv[kk * KV_STRIDE + e];
                }
            }
        }
        workgroupBarrier();  // kv and sc are rewritten by the next tile
    }
    if (row_ok) {
        for (var jj = 0u; jj < 8u; jj++) {
            let e = c + 4u * jj;
            if (e < d4) {
                out[qb + e] = o[jj] / l;
            }
        }
    }
}
