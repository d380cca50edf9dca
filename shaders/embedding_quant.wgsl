// Embedding gather from a block-quantized table, for one part of a (possibly row-split) table:
// out[t, i] = dequant(table[tokens[t] - row0])[i] for the tokens whose id lies in this part's rows.
// Each invocation writes four weights of one quant.wgsl group with deq4, which equals the CPU's
// dequantization bit for bit (see the exactness note in quant.wgsl). hidden is a whole number of
// blocks (checked by the host), so rows and groups are whole vec4s.
struct Params {
    hidden: u32,
    n_tokens: u32,
    row0: u32,   // first vocabulary row held by this part
    rows: u32,   // rows held by this part
    tokens: array<u32>,
}

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

//#include quant.wgsl

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let idx = (wg.x + wg.y * nwg.x) * 256u + lid;  // vec4 of the output
    let per_row = p.hidden / 4u;
    if (idx >= p.n_tokens * per_row) {
        return;
    }
    let tok = p.tokens[idx / per_row];
    let i = 4u * (idx % per_row);  // first element of the four
    if (tok >= p.row0 && tok < p.row0 + p.rows) {
        let g = i / 16u;
        let blk = (tok - p.row0) * (p.hidden / QK * QB) + g / GB * QB;
        out[idx] = deq4(scale(blk, g % GB), levels4(blk, g % GB, (i % 16u) / 4u));
    }
}
