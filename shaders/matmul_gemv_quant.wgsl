// Decode matmul (m == 1) with a block-quantized weight: y[row0 + r] = sum_k x[x_off + k] * w[r, k]
// for the rows r of one weight part, reading GGML blocks in place (quant.wgsl; one format per
// variant). Each workgroup computes ROWS output rows so every x load is reused ROWS times.
// Workgroups are 64 wide, not 256 as in matmul_gemv.wgsl: a row has only k / 16 groups (36 for
// SmolLM2's k = 576, 256 for k = 4096), and on lavapipe 64 made the 49152 x 576 Q8_0 LM head 8x
// faster (2.0 s -> 0.26 s) and a 4096 x 4096 Q4_K GEMV 2.6x faster.
// An invocation takes whole 16-weight groups (the unit of quant.wgsl: one scale each), and per
// group and row computes d·Σ x·q + m·Σ x in f32: activations are never quantized, and this differs
// from the CPU's Σ x·(d·q) only in rounding order. The partial sums are reduced with subgroupAdd
// (SUBGROUPS) or a workgroup-memory tree. k is a whole number of blocks (checked by the host).
struct Params { k: u32, rows: u32, row0: u32, x_off: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

//#include quant.wgsl

const WG: u32 = 64u;  // invocations per workgroup (the @workgroup_size below)
const ROWS: u32 = 4u;

// Σ x·w over group g of the block at byte blk, with xs the group's 16 activations.
fn group_dot(blk: u32, g: u32, xs: array<vec4<f32>, 4>) -> f32 {
    var xq = 0.0;
    var sx = 0.0;
    for (var i = 0u; i < 4u; i++) {
        xq += dot(xs[i], levels4(blk, g, i));
        sx += dot(xs[i], vec4<f32>(1.0));
    }
    let s = scale(blk, g);
    return s.x * xq + s.y * sx;
}

var<workgroup> red: array<vec4<f32>, WG>;

struct Lane { lid: u32, sg_lane: u32, sg_id: u32, n_sg: u32 }

// Sum of one vec4 per invocation over the workgroup; every invocation gets the total.
fn wg_sum4(v: vec4<f32>, ln: Lane) -> vec4<f32> {
//#if SUBGROUPS
    let s = subgroupAdd(v);
    if (ln.sg_lane == 0u) {
        red[ln.sg_id] = s;
    }
    workgroupBarrier();
    var total = vec4<f32>(0.0);
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

@compute @workgroup_size(64)
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
    let r0 = (wg.x + wg.y * nwg.x) * ROWS;
    if (r0 >= p.rows) {
        return;
    }
    // Byte offsets of the four rows; rows past the end re-read the last row, their sums dropped.
    let row_bytes = p.k / QK * QB;
    let last = p.rows - 1u;
    let ra = r0 * row_bytes;
    let rb = min(r0 + 1u, last) * row_bytes;
    let rc = min(r0 + 2u, last) * row_bytes;
    let rd = min(r0 + 3u, last) * row_bytes;
    var acc = vec4<f32>(0.0);
    let xb = p.x_off / 4u;
    for (var g = lid; g < p.k / 16u; g += WG) {
        let xs = array<vec4<f32>, 4>(x[xb + 4u * g], x[xb + 4u * g + 1u], x[xb + 4u * g + 2u],
                                     x[xb + 4u * g + 3u]);
        let blk = g / GB * QB;
        let gb = g % GB;
        acc += vec4<f32>(group_dot(ra + blk, gb, xs), group_dot(rb + blk, gb, xs),
                         group_dot(rc + blk, gb, xs), group_dot(rd + blk, gb, xs));
    }
    let total = wg_sum4(acc, ln);
    if (lid < ROWS && r0 + lid < p.rows) {
        y[p.row0 + r0 + lid] = total[lid];
    }
}
