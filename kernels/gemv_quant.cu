// Decode GEMV on block-quantized weights: y[n] = x[k] · w[n, k]ᵀ, f32 x and accumulation, w in the
// planar layout of kernels/quant.cuh (payload plane then meta plane), read straight from device
// memory: no dequantized copy.
//
// As kernels/gemv.cu: one warp per weight row, 8 rows per 256-thread block. A row's payload is
// nb = k / BLOCK blocks × UNITS work units; lane l takes units l, l + 32, ... Each round issues
// the 16-byte streaming loads of UNROLL units (about 8 loads per lane) before decoding any, so
// enough bytes are in flight to keep HBM busy; meta (2-18 bytes per block) and x go through the
// caches. The host guarantees k % BLOCK == 0.
//
// Entry points, per format suffix (q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k), with the signatures
// and semantics of the float ones: gemv_*, gemv3_* (q, k and v in one launch), gemv_swiglu_*.
#include "quant.cuh"

#define GEMV_WARPS 8
// 16-byte loads each lane keeps in flight per round.
#define LOADS_IN_FLIGHT 8

// Σ_i x[i]·w[row, i] by the 32 lanes of a warp (every lane gets the sum). `w` is the planar
// tensor of `nb_total` blocks, `row0` the row's first block, `nb` blocks per row.
template <typename F>
__device__ __forceinline__ float qrow_dot(const float* __restrict__ x, const u8* __restrict__ w, u64 nb_total,
                                          u64 row0, u32 nb, u32 lane) {
    constexpr int UNROLL = LOADS_IN_FLIGHT / F::LOADS > 0 ? LOADS_IN_FLIGHT / F::LOADS : 1;
    const u8* payload = w + row0 * F::P;
    const u8* meta = w + nb_total * F::P + row0 * F::M;
    const u32 units = nb * F::UNITS;
    float acc = 0.0f;
    for (u32 u = lane; u < units; u += 32 * UNROLL) {
        uint4 buf[UNROLL][F::LOADS];
#pragma unroll
        for (int a = 0; a < UNROLL; ++a) {
            // Past the row's end a lane reloads its last unit (unused): loads stay unconditional.
            const u32 uu = min(u + 32 * a, units - 1);
            const u8* blk = payload + (u64)(uu / F::UNITS) * F::P;
#pragma unroll
            for (int i = 0; i < F::LOADS; ++i) buf[a][i] = ld_stream16(blk + F::load_off(uu % F::UNITS, i));
        }
#pragma unroll
        for (int a = 0; a < UNROLL; ++a) {
            const u32 uu = u + 32 * a;
            if (uu < units) {
                const u32 b = uu / F::UNITS;
                acc += F::dot(buf[a], meta + (u64)b * F::M, uu % F::UNITS, x + (u64)b * F::BLOCK);
            }
        }
    }
    return warp_sum(acc);
}

template <typename F>
__device__ void qgemv(const float* __restrict__ x, const u8* __restrict__ w, float* __restrict__ y, u32 n, u32 k) {
    const u32 lane = threadIdx.x & 31;
    const u32 row = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (row >= n) return;
    const u32 nb = k / F::BLOCK;
    const float acc = qrow_dot<F>(x, w, (u64)n * nb, (u64)row * nb, nb, lane);
    if (lane == 0) y[row] = acc;
}

// Rows 0..n0 of the launch are w0's, then n1 of w1, then n2 of w2 (as gemv3 in gemv.cu).
template <typename F>
__device__ void qgemv3(const float* x, const u8* w0, const u8* w1, const u8* w2, float* y0, float* y1, float* y2,
                       u32 n0, u32 n1, u32 n2, u32 k) {
    const u32 lane = threadIdx.x & 31;
    const u32 r = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (r >= n0 + n1 + n2) return;
    // Which matrix (warp-uniform), its row, and its size (to find its meta plane).
    const u8* w = w0;
    float* y = y0;
    u32 row = r, n = n0;
    if (r >= n0 + n1) {
        w = w2, y = y2, row = r - n0 - n1, n = n2;
    } else if (r >= n0) {
        w = w1, y = y1, row = r - n0, n = n1;
    }
    const u32 nb = k / F::BLOCK;
    const float acc = qrow_dot<F>(x, w, (u64)n * nb, (u64)row * nb, nb, lane);
    if (lane == 0) y[row] = acc;
}

// out[r] = silu(x · wg[r]) · (x · wu[r]), silu as in swiglu_f32 (accurate expf).
template <typename F>
__device__ void qgemv_swiglu(const float* x, const u8* wg, const u8* wu, float* out, u32 n, u32 k) {
    const u32 lane = threadIdx.x & 31;
    const u32 row = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (row >= n) return;
    const u32 nb = k / F::BLOCK;
    const float g = qrow_dot<F>(x, wg, (u64)n * nb, (u64)row * nb, nb, lane);
    const float u = qrow_dot<F>(x, wu, (u64)n * nb, (u64)row * nb, nb, lane);
    if (lane == 0) out[row] = g / (1.0f + expf(-g)) * u;
}

// grid (ceil(rows / 8)), block 256.
#define QGEMV(SUFFIX, F) \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
    gemv_##SUFFIX(const float* x, const u8* w, float* y, u32 n, u32 k) { qgemv<F>(x, w, y, n, k); } \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
    gemv3_##SUFFIX(const float* x, const u8* w0, const u8* w1, const u8* w2, float* y0, float* y1, float* y2, \
                   u32 n0, u32 n1, u32 n2, u32 k) { qgemv3<F>(x, w0, w1, w2, y0, y1, y2, n0, n1, n2, k); } \
    extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32) \
    gemv_swiglu_##SUFFIX(const float* x, const u8* wg, const u8* wu, float* out, u32 n, u32 k) { \
        qgemv_swiglu<F>(x, wg, wu, out, n, k); }
FOR_EACH_QUANT(QGEMV)
