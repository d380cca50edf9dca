// Row-wise argmax on the device: the first index of the largest value; NaN is never chosen over a
// number (an all-NaN row gives 0), matching the CPU reference. Only the ids travel to the host.
#include "common.cuh"

// Is (vb, ib) better than (va, ia)?
__device__ __forceinline__ bool better(float va, u32 ia, float vb, u32 ib) {
    const bool na = va != va, nb = vb != vb;
    if (na != nb) return na;
    if (na || va == vb) return ib < ia;
    return vb > va;
}

// grid (rows), block 1024 threads (any multiple of 32 works).
extern "C" __global__ void argmax_f32(const float* __restrict__ x, u32* __restrict__ out, u32 cols) {
    __shared__ float sv[32];
    __shared__ u32 si[32];
    const float* row = x + (u64)blockIdx.x * cols;
    float bv = __int_as_float(0x7fffffff);  // NaN: loses to any number
    u32 bi = 0xffffffffu;
    for (u32 i = threadIdx.x; i < cols; i += blockDim.x)
        if (better(bv, bi, row[i], i)) { bv = row[i]; bi = i; }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float v = __shfl_xor_sync(0xffffffffu, bv, o);
        const u32 i = __shfl_xor_sync(0xffffffffu, bi, o);
        if (better(bv, bi, v, i)) { bv = v; bi = i; }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { sv[warp] = bv; si[warp] = bi; }
    __syncthreads();
    if (warp == 0) {
        bv = lane < (int)(blockDim.x >> 5) ? sv[lane] : __int_as_float(0x7fffffff);
        bi = lane < (int)(blockDim.x >> 5) ? si[lane] : 0xffffffffu;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float v = __shfl_xor_sync(0xffffffffu, bv, o);
            const u32 i = __shfl_xor_sync(0xffffffffu, bi, o);
            if (better(bv, bi, v, i)) { bv = v; bi = i; }
        }
        if (lane == 0) out[blockIdx.x] = bi == 0xffffffffu ? 0 : bi;
    }
}
