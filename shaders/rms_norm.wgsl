// RMSNorm, one workgroup per row: out[r, i] = w[i] * (x[r, i] * (1 / sqrt(mean_j x[r, j]^2 + eps))),
// the order the CPU reference (and Hugging Face) computes it in.
// ADD: the fused residual add first does x += delta (x is the residual stream) and normalises the sum.
// SUBGROUPS: the sum of squares is reduced with subgroupAdd, else with a workgroup-memory tree.
struct Params { rows: u32, dim: u32, eps: f32, _p0: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
//#if ADD
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
//#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
//#endif
@group(0) @binding(3) var<storage, read> w: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

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

const WG: u32 = 256u;
var<workgroup> red: array<f32, WG>;

struct Lane { lid: u32, sg_lane: u32, sg_id: u32, n_sg: u32 }

// Sum of one value per invocation over the workgroup; every invocation gets the total.
fn wg_sum(v: f32, ln: Lane) -> f32 {
//#if SUBGROUPS
    let s = subgroupAdd(v);
    if (ln.sg_lane == 0u) {
        red[ln.sg_id] = s;
    }
    workgroupBarrier();
    var total = 0.0;
    for (var j = 0u; j < ln.n_sg; j++) {
        total += red[j];
    }
//#else
    red[ln.lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (ln.lid < s) {
            red[ln.lid] += red[ln.lid + s];
        }
        workgroupBarrier();
    }
    let total = red[0];
//#endif
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
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
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.dim;
    var ss = 0.0;
    for (var i = lid; i < p.dim; i += WG) {
//#if ADD
        let v = x[base + i] + delta[base + i];
        x[base + i] = v;
//#else
        let v = x[base + i];
//#endif
        ss += v * v;
    }
    let inv = 1.0 / sqrt(wg_sum(ss, ln) / f32(p.dim) + p.eps);
    for (var i = lid; i < p.dim; i += WG) {
        out[base + i] = w_at(i) * (x[base + i] * inv);
    }
}
