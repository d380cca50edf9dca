// Flat copy of f32s into an f32, f16 or bf16 buffer (KV-cache writes):
// dst[dst_offset + i] = src[src_offset + i] for i < len.
// KV_16 (with KV_F16 or KV_BF16): dst holds 16-bit values packed two to a u32 word, low half first.
//   One invocation owns one word (`words` of them, from word dst_offset / 2), so no two write the
//   same word; a word half outside the range keeps its old value. Rounding is to nearest, ties to
//   even, in integer arithmetic: WGSL leaves the rounding of an f32 -> f16 conversion to the
//   implementation, and the CPU reference (`half`'s from_f32) and CUDA (cvt.rn) round to even.
struct Params { len: u32, src_offset: u32, dst_offset: u32, words: u32 }

@group(0) @binding(0) var<storage, read> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
//#if KV_16
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

//#if KV_BF16
// f32 -> bf16 bits, round to nearest even (NaN stays a quiet NaN; overflow gives inf).
fn round16(x: f32) -> u32 {
    let u = bitcast<u32>(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (u >> 16u) | 0x40u;
    }
    return (u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u;
}
//#else
// f32 -> f16 bits, round to nearest even: normals rebias the exponent and round off 13 bits;
// below 2^-14 the value is a multiple of 2^-24 (subnormal), rounded off the same way.
fn round16(x: f32) -> u32 {
    let u = bitcast<u32>(x);
    let sign = (u >> 16u) & 0x8000u;
    let a = u & 0x7fffffffu;
    if (a > 0x7f800000u) {
        return sign | 0x7e00u;  // NaN
    }
    if (a >= 0x477ff000u) {
        return sign | 0x7c00u;  // 65520 and up round to inf
    }
    if (a >= 0x38800000u) {
        let r = a - 0x38000000u;  // exponent rebiased from 127 to 15
        return sign | ((r + 0xfffu + ((r >> 13u) & 1u)) >> 13u);
    }
    let e = a >> 23u;
    if (e < 102u) {
        return sign;  // below 2^-25: rounds to zero
    }
    let m = (a & 0x7fffffu) | 0x800000u;
    let shift = 126u - e;  // 14 ..= 24: the value in units of 2^-24 is m >> shift
    let q = m >> shift;
    let rem = m & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    return sign | (q + select(0u, 1u, rem > half || (rem == half && (q & 1u) == 1u)));
}
//#endif

// The new 16 bits of element e, or `old` when e is outside the copied range.
fn element(e: u32, old: u32) -> u32 {
    if (e < p.dst_offset || e >= p.dst_offset + p.len) {
        return old;
    }
    return round16(src[p.src_offset + (e - p.dst_offset)]);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * nwg.x) * 256u + lid;
    if (i < p.words) {
        let w = p.dst_offset / 2u + i;
        let old = dst[w];
        dst[w] = element(2u * w, old & 0xffffu) | (element(2u * w + 1u, old >> 16u) << 16u);
    }
}
//#else
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wg.x + wg.y * nwg.x) * 256u + lid;
    if (i < p.len) {
        dst[p.dst_offset + i] = src[p.src_offset + i];
    }
}
//#endif
