// Decode GEMV: y[n] = x[k] · w[n, k]ᵀ with f32 x and accumulation, for f32/f16/bf16 weights.
//
// One warp per weight row; 8 rows per 256-thread block. Weights stream through 16-byte
// non-caching loads, UNROLL of them in flight per lane before any is used, so a row of 4096 bf16
// (8 KiB) is 2 rounds of 8 loads per lane. x (16 KiB) is shared by every row and stays in L1/L2.
// The vector path needs k to be a multiple of the 16-byte element count (all Mistral shapes);
// otherwise, and for the tail, a scalar loop covers the rest.
#include "common.cuh"

#define GEMV_WARPS 8
#define UNROLL 8

__device__ __forceinline__ float dot16(const float* x, float*, uint4 w) {
    const float4 a = *reinterpret_cast<const float4*>(x);
    return a.x * __uint_as_float(w.x) + a.y * __uint_as_float(w.y) + a.z * __uint_as_float(w.z) +
           a.w * __uint_as_float(w.w);
}
template <typename H>
__device__ __forceinline__ float dot16(const float* x, H* tag, uint4 w) {
    const float4 a = *reinterpret_cast<const float4*>(x);
    const float4 b = *reinterpret_cast<const float4*>(x + 4);
    float s = a.x * lo_f32(tag, w.x);
    s = fmaf(a.y, hi_f32(tag, w.x), s);
    s = fmaf(a.z, lo_f32(tag, w.y), s);
    s = fmaf(a.w, hi_f32(tag, w.y), s);
    s = fmaf(b.x, lo_f32(tag, w.z), s);
    s = fmaf(b.y, hi_f32(tag, w.z), s);
    s = fmaf(b.z, lo_f32(tag, w.w), s);
    s = fmaf(b.w, hi_f32(tag, w.w), s);
    return s;
}

// Σ_i x[i]·row[i] over one weight row, by the 32 lanes of a warp (every lane gets the sum).
template <typename W>
__device__ __forceinline__ float row_dot(const float* __restrict__ x, const W* __restrict__ wr, u32 k, u32 lane) {
    constexpr u32 V = 16 / sizeof(W);  // elements per 16-byte load
    const u32 chunks = (k % V == 0) ? k / V : 0;
    float acc = 0.0f;
    u32 c = lane;
    for (; c + 32 * (UNROLL - 1) < chunks; c += 32 * UNROLL) {
        uint4 buf[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) buf[u] = ld_stream16(wr + (u64)(c + 32 * u) * V);
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) acc += dot16(x + (c + 32 * u) * V, (W*)nullptr, buf[u]);
    }
    for (; c < chunks; c += 32) acc += dot16(x + c * V, (W*)nullptr, ld_stream16(wr + (u64)c * V));
    for (u32 i = chunks * V + lane; i < k; i += 32) acc = fmaf(x[i], to_f32(wr[i]), acc);
    return warp_sum(acc);
}

template <typename W>
__device__ void gemv(const float* __restrict__ x, const W* __restrict__ w, float* __restrict__ y, u32 n, u32 k) {
    const u32 lane = threadIdx.x & 31;
    const u32 row = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (row >= n) return;
    const float acc = row_dot(x, w + (u64)row * k, k, lane);
    if (lane == 0) y[row] = acc;
}

// Up to three GEMVs of the same x in one launch (decode's q, k and v): rows 0..n0 of the launch
// are w0's, then n1 of w1, then n2 of w2 (n2 may be 0). Same bytes as three launches, two fewer
// launch gaps, and the small k/v matrices no longer run as their own under-filled grids.
template <typename W>
__device__ void gemv3(const float* x, const W* w0, const W* w1, const W* w2, float* y0, float* y1, float* y2,
                      u32 n0, u32 n1, u32 n2, u32 k) {
    const u32 lane = threadIdx.x & 31;
    const u32 r = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (r >= n0 + n1 + n2) return;
    const int m = (r >= n0) + (r >= n0 + n1);  // which matrix (warp-uniform)
    const u32 row = r - (m == 0 ? 0 : m == 1 ? n0 : n0 + n1);
    const W* w = m == 0 ? w0 : m == 1 ? w1 : w2;
    const float acc = row_dot(x, w + (u64)row * k, k, lane);
    if (lane == 0) (m == 0 ? y0 : m == 1 ? y1 : y2)[row] = acc;
}

// out[r] = silu(x · wg[r]) · (x · wu[r]): decode's gate and up projections and SwiGLU in one pass,
// silu(g) = g / (1 + exp(-g)) with the accurate expf as in swiglu_f32, so the result is the same
// as the three separate kernels.
template <typename W>
__device__ void gemv_swiglu(const float* x, const W* wg, const W* wu, float* out, u32 n, u32 k) {
    const u32 lane = threadIdx.x & 31;
    const u32 row = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (row >= n) return;
    const float g = row_dot(x, wg + (u64)row * k, k, lane);
    const float u = row_dot(x, wu + (u64)row * k, k, lane);
    if (lane == 0) out[row] = g / (1.0f + expf(-g)) * u;
}

// grid (ceil(rows / 8)), block 256.
#define GEMV(SUFFIX, W) \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
    gemv_##SUFFIX(const float* x, const W* w, float* y, u32 n, u32 k) { gemv<W>(x, w, y, n, k); } \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
    gemv3_##SUFFIX(const float* x, const W* w0, const W* w1, const W* w2, float* y0, float* y1, float* y2, \
                   u32 n0, u32 n1, u32 n2, u32 k) { gemv3<W>(x, w0, w1, w2, y0, y1, y2, n0, n1, n2, k); } \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
    gemv_swiglu_##SUFFIX(const float* x, const W* wg, const W* wu, float* out, u32 n, u32 k) { \
        gemv_swiglu<W>(x, wg, wu, out, n, k); }
GEMV(f32, float)
GEMV(f16, f16)
GEMV(bf16, bf16)
