// Decode matmul (m == 1): y[row0 + r] = sum_k x[x_off + k] * w[r, k] for the rows r of one weight part.
// Each workgroup computes ROWS output rows so every x chunk it loads is reused ROWS times.
// VEC (k % 8 == 0): 8 weights per step from one 16-byte load of packed f16/bf16 (or two of f32);
//   with F16_EXT, f16 weights are read as f16 storage (`enable f16;`), widened to f32 for the math.
// Otherwise one element at a time. Accumulation is f32; the partial sums are reduced with
// subgroupAdd (SUBGROUPS) or a workgroup-memory tree.
struct Params { k: u32, rows: u32, row0: u32, x_off: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
//#if VEC
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
//#if F16_EXT
@group(0) @binding(2) var<storage, read> w: array<vec4<f16>>;
//#else
@group(0) @binding(2) var<storage, read> w: array<vec4<u32>>;
//#endif
//#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
//#endif
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const WG: u32 = 256u;
const ROWS: u32 = 4u;

//#if VEC
// Eight consecutive weights, chunk c of the part (element 8c ..).
struct Chunk { a: vec4<f32>, b: vec4<f32> }
//#if W_F32
fn chunk(c: u32) -> Chunk { return Chunk(bitcast<vec4<f32>>(w[2u * c]), bitcast<vec4<f32>>(w[2u * c + 1u])); }
//#endif
//#if W_F16
//#if F16_EXT
fn chunk(c: u32) -> Chunk { return Chunk(vec4<f32>(w[2u * c]), vec4<f32>(w[2u * c + 1u])); }
//#else
fn chunk(c: u32) -> Chunk {
    let u = w[c];
    return Chunk(vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)),
                 vec4<f32>(unpack2x16float(u.z), unpack2x16float(u.w)));
}
//#endif
//#endif
//#if W_BF16
fn bf2(u: u32) -> vec2<u32> { return vec2<u32>(u << 16u, u & 0xffff0000u); }
fn chunk(c: u32) -> Chunk {
    let u = w[c];
    return Chunk(bitcast<vec4<f32>>(vec4<u32>(bf2(u.x), bf2(u.y))),
                 bitcast<vec4<f32>>(vec4<u32>(bf2(u.z), bf2(u.w))));
}
//#endif
//#else
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
//#endif

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
    let r0 = (wg.x + wg.y * nwg.x) * ROWS;
    if (r0 >= p.rows) {
        return;
    }
    // Rows past the end re-read the last row; their sums are dropped.
    let last = p.rows - 1u;
    let ra = r0;
    let rb = min(r0 + 1u, last);
    let rc = min(r0 + 2u, last);
    let rd = min(r0 + 3u, last);
    var acc = vec4<f32>(0.0);
//#if VEC
    let kc = p.k / 8u;
    let xb = p.x_off / 4u;
    for (var c = lid; c < kc; c += WG) {
        let x0 = x[xb + 2u * c];
        let x1 = x[xb + 2u * c + 1u];
        let wa = chunk(ra * kc + c);
        let wb = chunk(rb * kc + c);
        let wc = chunk(rc * kc + c);
        let wd = chunk(rd * kc + c);
        acc += vec4<f32>(dot(x0, wa.a) + dot(x1, wa.b), dot(x0, wb.a) + dot(x1, wb.b),
                         dot(x0, wc.a) + dot(x1, wc.b), dot(x0, wd.a) + dot(x1, wd.b));
    }
//#else
    for (var i = lid; i < p.k; i += WG) {
        let xv = x[p.x_off + i];
        acc += xv * vec4<f32>(w_at(ra * p.k + i), w_at(rb * p.k + i), w_at(rc * p.k + i),
                              w_at(rd * p.k + i));
    }
//#endif
    let total = wg_sum4(acc, ln);
    if (lid < ROWS && r0 + lid < p.rows) {
        y[p.row0 + r0 + lid] = total[lid];
    }
}
