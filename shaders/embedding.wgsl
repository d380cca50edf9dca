// Embedding gather for one part of a (possibly row-split) table:
// out[t, i] = table[tokens[t] - row0, i] for the tokens whose id lies in this part's rows.
// Weights are bound as packed u32 words whatever their dtype (WGSL has no bf16).
struct Params {
    hidden: u32,
    n_tokens: u32,
    row0: u32,   // first vocabulary row held by this part
    rows: u32,   // rows held by this part
    tokens: array<u32>,
}

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

//#if W_F32
fn w_at(i: u32) -> f32 { return bitcast<f32>(w[i]); }
//#endif
//#if W_F16
fn w_at(i: u32) -> f32 { return unpack2x16float(w[i >> 1u])[i & 1u]; }
//#endif
//#if W_BF16
fn w_at(i: u32) -> f32 {
    let u = w[i >> 1u];
    return bitcast<f32>(select(u << 16u, u & 0xffff0000u, (i & 1u) == 1u));
}
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = (wg.x + wg.y * nwg.x) * 256u + lid;
    if (idx >= p.n_tokens * p.hidden) {
        return;
    }
    let t = idx / p.hidden;
    let i = idx % p.hidden;
    let tok = p.tokens[t];
    if (tok >= p.row0 && tok < p.row0 + p.rows) {
        out[idx] = w_at((tok - p.row0) * p.hidden + i);
    }
}
