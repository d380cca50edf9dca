// Prefill matmul (m > 1) with a block-quantized weight: y[i, row0 + j] = sum_k x[x_off + i*k + k'] *
// w[j, k'] for the rows j of one weight part. The tiling is matmul_tiled.wgsl's: 16x16 invocations
// compute a 64x64 output tile (4x4 each, strided by 16), staging 64x16 tiles of x and w in
// workgroup memory. The 16-wide k step is one group of quant.wgsl (one scale), so each stage
// dequantizes one group per weight row, four weights per invocation, into f32 (exactly the CPU's
// d·q) and the FMA tile math is unchanged. Out-of-range rows and columns are padded with zeros;
// k is a whole number of blocks (checked by the host), hence of groups.
struct Params { m: u32, k: u32, rows: u32, row0: u32, n_total: u32, x_off: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

//#include quant.wgsl

const T: u32 = 64u;   // output tile edge (rows of x and of w)
const TK: u32 = 16u;  // k per stage: one quant.wgsl group
var<workgroup> xs: array<f32, 1024>; // [T][TK]
var<workgroup> ws: array<f32, 1024>; // [T][TK]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let tn = wg.x * T;  // first weight row (output column) of the tile
    let tm = wg.y * T;  // first x row of the tile
    let row_bytes = p.k / QK * QB;
    // This invocation dequantizes weights 4q .. 4q + 3 of the stage's group in weight row wr.
    let wr = li / 4u;
    let q = li % 4u;
    var acc: array<vec4<f32>, 4>;  // acc[r][c]: row tm + l.y + 16r, column tn + l.x + 16c
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        for (var s = 0u; s < 4u; s++) {
            let e = li + 256u * s;
            let r = e / TK;
            var xv = 0.0;
            if (tm + r < p.m) {
                xv = x[p.x_off + (tm + r) * p.k + k0 + e % TK];
            }
            xs[e] = xv;
        }
        var wv = vec4<f32>(0.0);
        if (tn + wr < p.rows) {
            let g = k0 / 16u;
            let blk = (tn + wr) * row_bytes + g / GB * QB;
            wv = deq4(scale(blk, g % GB), levels4(blk, g % GB, q));
        }
        let at = wr * TK + 4u * q;
        ws[at] = wv.x;
        ws[at + 1u] = wv.y;
        ws[at + 2u] = wv.z;
        ws[at + 3u] = wv.w;
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
