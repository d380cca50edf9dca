// Argmax of each row of x: [rows, cols] f32, one workgroup per row. The first index wins on ties and
// NaNs are never chosen (an all-NaN row gives 0), like the CPU reference. Only ids leave the device.
// SUBGROUPS: the (value, index) pairs are reduced with subgroup shuffles first.
struct Params { rows: u32, cols: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;

const WG: u32 = 256u;
const NONE: u32 = 0xffffffffu;
var<workgroup> red_v: array<f32, WG>;
var<workgroup> red_i: array<u32, WG>;

fn is_nan(v: f32) -> bool {
    // Bit test: `v != v` may be folded away by fast-math drivers.
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Whether candidate (av, ai) beats (bv, bi): larger value, then smaller index; NONE never wins.
fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
    if (ai == NONE) {
        return false;
    }
    return bi == NONE || av > bv || (av == bv && ai < bi);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32,
//#if SUBGROUPS
        @builtin(subgroup_invocation_id) sg_lane: u32,
        @builtin(subgroup_id) sg_id: u32, @builtin(num_subgroups) n_sg: u32,
//#endif
) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let base = row * p.cols;
    var bv = 0.0;
    var bi = NONE;
    for (var i = lid; i < p.cols; i += WG) {
        let v = x[base + i];
        if (!is_nan(v) && better(v, i, bv, bi)) {
            bv = v;
            bi = i;
        }
    }
//#if SUBGROUPS
    // Subgroup reductions rather than shuffles: they are defined over the active invocations, so
    // a partially filled subgroup is fine. Lanes with no candidate count as -inf and never win.
    let key = select(bitcast<f32>(0xff800000u), bv, bi != NONE);
    let best = subgroupMax(key);
    bi = subgroupMin(select(NONE, bi, bi != NONE && key == best));
    bv = best;
    if (sg_lane == 0u) {
        red_v[sg_id] = bv;
        red_i[sg_id] = bi;
    }
    workgroupBarrier();
    if (lid == 0u) {
        for (var j = 0u; j < n_sg; j++) {
            if (better(red_v[j], red_i[j], bv, bi)) {
                bv = red_v[j];
                bi = red_i[j];
            }
        }
        ids[row] = select(bi, 0u, bi == NONE);
    }
//#else
    red_v[lid] = bv;
    red_i[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lid < s && better(red_v[lid + s], red_i[lid + s], red_v[lid], red_i[lid])) {
            red_v[lid] = red_v[lid + s];
            red_i[lid] = red_i[lid + s];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        ids[row] = select(red_i[0], 0u, red_i[0] == NONE);
    }
//#endif
}
