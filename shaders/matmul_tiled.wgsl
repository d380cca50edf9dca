// Prefill matmul (m > 1): y[i, row0 + j] = sum_k x[x_off + i*k + k'] * w[j, k'] for the rows j of one
// weight part. 16x16 invocations compute a 64x64 output tile (4x4 each, strided by 16 so neighbouring
// invocations touch neighbouring words), staging 64x16 tiles of x and w in workgroup memory.
// Out-of-range rows, columns and k are padded with zeros, so no size needs to be a tile multiple.
struct Params { m: u32, k: u32, rows: u32, row0: u32, n_total: u32, x_off: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

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

const T: u32 = 64u;   // output tile edge (rows of x and of w)
const TK: u32 = 16u;  // k per stage
var<workgroup> xs: array<f32, 1024>; // [T][TK]
var<workgroup> ws: array<f32, 1024>; // [T][TK]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let tn = wg.x * T;  // first weight row (output column) of the tile
    let tm = wg.y * T;  // first x row of the tile
    var acc: array<vec4<f32>, 4>;  // acc[r][c]: row tm + l.y + 16r, column tn + l.x + 16c
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        for (var q = 0u; q < 4u; q++) {
            let e = li + 256u * q;
            let r = e / TK;
            let gk = k0 + e % TK;
            var xv = 0.0;
            if (tm + r < p.m && gk < p.k) {
                xv = x[p.x_off + (tm + r) * p.k + gk];
            }
            xs[e] = xv;
            var wv = 0.0;
            if (tn + r < p.rows && gk < p.k) {
                wv = w_at((tn + r) * p.k + gk);
            }
            ws[e] = wv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let b = vec4<f32>(ws[l.x * TK + kk], ws[(l.x + 16u) * TK + kk],
                              ws[(l.x + 32u) * TK + kk], ws[(l.x + 48u) * TK + kk]);
            for (var r = 0u; r < 4u; r++) {
                acc[r] += xs[(l.y + 16u * r) * TK + kk] * b;
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < 4u; r++) {
        let i = tm + l.y + 16u * r;
        for (var c = 0u; c < 4u; c++) {
            let j = tn + l.x + 16u * c;
            if (i < p.m && j < p.rows) {
                y[i * p.n_total + p.row0 + j] = acc[r][c];
            }
        }
    }
}
