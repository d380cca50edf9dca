// RMSNorm over rows of f32, one block per row, in Hugging Face's order: w * (x * rsqrt(mean(x²) + eps)),
// with an IEEE sqrt and division (no fast math). add_rms_norm fuses the residual add before it.
#include "common.cuh"

template <typename W>
__device__ void rms_norm_row(const float* __restrict__ x, const W* __restrict__ w, float* __restrict__ out,
                             u32 dim, float eps) {
    float ss = 0.0f;
    for (u32 i = threadIdx.x; i < dim; i += blockDim.x) ss += x[i] * x[i];
    const float inv = 1.0f / sqrtf(block_sum(ss) / (float)dim + eps);
    for (u32 i = threadIdx.x; i < dim; i += blockDim.x) out[i] = to_f32(w[i]) * (x[i] * inv);
}

// grid (rows): out[r] = rms_norm(x[r]) * w
template <typename W>
__device__ void rms_norm(const float* x, const W* w, float* out, u32 dim, float eps) {
    const u64 r = blockIdx.x;
    rms_norm_row(x + r * dim, w, out + r * dim, dim, eps);
}

// grid (rows): res[r] += delta[r]; out[r] = rms_norm(res[r]) * w. Each thread re-reads only the
// residual values it wrote itself, so no barrier is needed between the add and the norm.
template <typename W>
__device__ void add_rms_norm(float* res, const float* delta, const W* w, float* out, u32 dim, float eps) {
    const u64 r = blockIdx.x;
    float* x = res + r * dim;
    for (u32 i = threadIdx.x; i < dim; i += blockDim.x) x[i] += delta[r * dim + i];
    rms_norm_row(x, w, out + r * dim, dim, eps);
}

#define RMS_NORM(SUFFIX, W) \
    extern "C" __global__ void rms_norm_##SUFFIX(const float* x, const W* w, float* out, u32 dim, float eps) { \
        rms_norm<W>(x, w, out, dim, eps); } \
    extern "C" __global__ void add_rms_norm_##SUFFIX(float* res, const float* delta, const W* w, float* out, \
                                                    u32 dim, float eps) { \
        add_rms_norm<W>(res, delta, w, out, dim, eps); }
RMS_NORM(f32, float)
RMS_NORM(f16, f16)
RMS_NORM(bf16, bf16)
