// Flat f32 copy (KV-cache writes): dst[dst_offset + i] = src[src_offset + i] for i < len.
struct Params { len: u32, src_offset: u32, dst_offset: u32, _p0: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * nwg.x) * 256u + lid;
    if (i < p.len) {
        dst[p.dst_offset + i] = src[p.src_offset + i];
    }
}
