// Deterministic uniform values generated on the device (benchmark weights: no 14 GB host copy).
// Element i of a tensor seeded `seed` equals the i-th draw of mistral_core::rng::Rng::new(seed)
// followed by `range(lo, hi)` and rounding to the dtype, bit for bit: SplitMix64 of
// seed + (i + 1)·golden, its top 24 bits / 2^24, then lo + (hi − lo)·u with no FMA contraction
// (Rust never contracts; the _rn intrinsics keep NVRTC from doing it).
#include "common.cuh"

__device__ __forceinline__ float draw(u64 seed, u64 i, float lo, float hi) {
    u64 z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = (float)(u32)(z >> 40) * (1.0f / 16777216.0f);
    return __fadd_rn(lo, __fmul_rn(hi - lo, u));
}

// Grid-stride over n elements.
extern "C" __global__ void random_f32(float* __restrict__ out, u64 n, u64 seed, float lo, float hi) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        out[i] = draw(seed, i, lo, hi);
}
extern "C" __global__ void random_f16(u16* __restrict__ out, u64 n, u64 seed, float lo, float hi) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        out[i] = (u16)(pack2_f16(draw(seed, i, lo, hi), 0.0f) & 0xffffu);
}
extern "C" __global__ void random_bf16(u16* __restrict__ out, u64 n, u64 seed, float lo, float hi) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        out[i] = (u16)(pack2_bf16(draw(seed, i, lo, hi), 0.0f) & 0xffffu);
}
