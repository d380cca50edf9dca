// Elementwise ops: residual add, SwiGLU (f32), flat copy (f32 into an f32, f16 or bf16 KV cache).
// Grid-stride loops over `n` elements.
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

// An f32 stored as a KV-cache element: unchanged, or rounded to nearest even (cvt.rn, as `half`'s
// from_f32 on the CPU).
__device__ __forceinline__ void store_kv(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_kv(f16* p, float v) { p->bits = (u16)(pack2_f16(v, 0.0f) & 0xffffu); }
__device__ __forceinline__ void store_kv(bf16* p, float v) { p->bits = (u16)(pack2_bf16(v, 0.0f) & 0xffffu); }

// dst[i] = src[i] (f32 into a cache of type T: copy_f32, copy_f16, copy_bf16), pointers offset by
// the host, plus offsets[0] / offsets[1] elements when given (a decode step replayed as a CUDA graph
// reads its cache slot from device memory).
template <typename T>
__device__ __forceinline__ void copy_to(const float* __restrict__ src, T* __restrict__ dst, u64 n,
                                        const u32* __restrict__ offsets) {
    if (offsets) {
        src += offsets[0];
        dst += offsets[1];
    }
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        store_kv(dst + i, src[i]);
}

#define COPY(SUFFIX, T) \
    extern "C" __global__ void copy_##SUFFIX(const float* __restrict__ src, T* __restrict__ dst, u64 n, \
                                             const u32* __restrict__ offsets) { copy_to(src, dst, n, offsets); }
COPY(f32, float)
COPY(f16, f16)
COPY(bf16, bf16)
