// Elementwise f32 ops: residual add, SwiGLU, flat copy. Grid-stride loops over `n` elements.
#include "common.cuh"

// x[i] += y[i]
extern "C" __global__ void add_f32(float* __restrict__ x, const float* __restrict__ y, u64 n) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        x[i] += y[i];
}

// out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)) with the accurate expf.
extern "C" __global__ void swiglu_f32(const float* __restrict__ gate, const float* __restrict__ up,
                                      float* __restrict__ out, u64 n) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// dst[i] = src[i], pointers offset by the host, plus offsets[0] / offsets[1] elements when given
// (a decode step replayed as a CUDA graph reads its cache slot from device memory).
extern "C" __global__ void copy_f32(const float* __restrict__ src, float* __restrict__ dst, u64 n,
                                    const u32* __restrict__ offsets) {
    if (offsets) {
        src += offsets[0];
        dst += offsets[1];
    }
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        dst[i] = src[i];
}
