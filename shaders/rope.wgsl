// RoPE, Hugging Face rotate_half layout, in place on x: [rows, heads, head_dim].
// cos/sin come from a host-built table [positions, head_dim / 2] computed exactly as the CPU reference
// does (cos(f32(pos) * inv_freq[i]) in f32), so results do not depend on the driver's trig accuracy
// for large angles (Vulkan only bounds sin/cos error inside [-pi, pi]).
struct Params { rows: u32, heads: u32, head_dim: u32, start_pos: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_t: array<f32>;
@group(0) @binding(3) var<storage, read> sin_t: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let half = p.head_dim / 2u;
    let idx = (wg.x + wg.y * nwg.x) * 256u + lid;   // over rows * heads * half
    if (idx >= p.rows * p.heads * half) {
        return;
    }
    let i = idx % half;
    let rh = idx / half;                               // row * heads + head
    let r = rh / p.heads;
    let base = rh * p.head_dim;
    let t = (p.start_pos + r) * half + i;
    let c = cos_t[t];
    let s = sin_t[t];
    let x1 = x[base + i];
    let x2 = x[base + i + half];
    x[base + i] = x1 * c - x2 * s;
    x[base + i + half] = x2 * c + x1 * s;
}
