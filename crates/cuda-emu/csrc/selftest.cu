// Kernels that break CUDA's rules on purpose, compiled into the emulator only (not kernels/): the
// emulator's own tests (tests/selftest.rs) launch them and expect a clear error, not a hang or a
// silently wrong answer. Plus one mma/ldmatrix kernel checked against a plain matrix product.
#include "../../../kernels/common.cuh"

// Half of each warp waits at the barrier while the other half waits for it in a shuffle.
extern "C" __global__ void selftest_divergent_barrier(float* out) {
    if (threadIdx.x % 32 < 16) __syncthreads();
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

// Lanes 0..15 exit before the others shuffle.
extern "C" __global__ void selftest_exited_lane_shuffle(float* out) {
    if (threadIdx.x < 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

// A 16-byte load at an address that is 4 bytes past an aligned one.
extern "C" __global__ void selftest_misaligned_load(const float* in, float* out) {
    const uint4 v = ld_stream16(in + 1);
    out[threadIdx.x] = __uint_as_float(v.x);
}

// A 16-byte load past the end of an n-float buffer.
extern "C" __global__ void selftest_load_past_end(const float* in, float* out, u32 n) {
    const uint4 v = ld_stream16(in + n);
    out[threadIdx.x] = __uint_as_float(v.x);
}

// A plain float4 load 4 bytes off a 16-byte boundary (a GPU faults: misaligned address).
extern "C" __global__ void selftest_misaligned_float4(const float* in, float* out) {
    const float4 v = *reinterpret_cast<const float4*>(in + 1);
    out[threadIdx.x] = v.x;
}

// One element past a register array: a GPU reads other registers or local memory, no fault.
extern "C" __global__ void selftest_local_array_past_end(const float* in, float* out, u32 n) {
    float acc[4] = {in[0], in[1], in[2], in[3]};
    out[threadIdx.x] = acc[n - 4];  // n = 8: acc[4]
}

// A plain store one element past the end of an n-float buffer of 1024 elements.
extern "C" __global__ void selftest_store_past_end(float* out, u32 n) {
    out[n + threadIdx.x] = 1.0f;
}

// One warp: D[16x8] = A[16x16] · B[16x8] (16-bit in, f32 out), A row-major and B stored as Bᵀ
// [8][16], through ldmatrix and mma exactly as kernels/gemm.cu feeds them.
template <typename T>
__device__ void selftest_mma(const u16* a, const u16* bt, float* d) {
    __shared__ __align__(16) u16 as[16 * 16];
    __shared__ __align__(16) u16 bs[8 * 16];
    const int lane = threadIdx.x;
    for (int i = lane; i < 256; i += 32) as[i] = a[i];
    for (int i = lane; i < 128; i += 32) bs[i] = bt[i];
    __syncthreads();
    u32 ar[4], br[4];
    ldmatrix_x4(ar, as + (lane & 15) * 16 + (lane >> 4) * 8);
    // B: matrices 0/1 are k 0..7 / 8..15 of the 8 columns; lanes 16..31 repeat them.
    ldmatrix_x4(br, bs + (lane & 7) * 16 + ((lane >> 3) & 1) * 8);
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
    mma(acc, ar, br[0], br[1], (T*)nullptr);
    for (int e = 0; e < 4; ++e) d[((lane >> 2) + (e >> 1) * 8) * 8 + (lane & 3) * 2 + (e & 1)] = acc[e];
}
extern "C" __global__ void selftest_mma_bf16(const u16* a, const u16* bt, float* d) { selftest_mma<bf16>(a, bt, d); }
extern "C" __global__ void selftest_mma_f16(const u16* a, const u16* bt, float* d) { selftest_mma<f16>(a, bt, d); }

// ldmatrix .trans of each 8x8 block of a 16x16 tile must equal plain ldmatrix of the same block
// of the transposed tile: out[0..128) from .trans, out[128..256) from the plain load.
extern "C" __global__ void selftest_ldmatrix_trans(const u16* m, u32* out) {
    __shared__ __align__(16) u16 t[16 * 16];
    __shared__ __align__(16) u16 tt[16 * 16];
    const int lane = threadIdx.x;
    for (int i = lane; i < 256; i += 32) {
        t[i] = m[i];
        tt[(i % 16) * 16 + i / 16] = m[i];
    }
    __syncthreads();
    const int mat = lane / 8, r = lane % 8;
    u32 a[4], b[4];
    ldmatrix_x4_trans(a, t + (8 * (mat / 2) + r) * 16 + 8 * (mat % 2));
    ldmatrix_x4(b, tt + (8 * (mat % 2) + r) * 16 + 8 * (mat / 2));
    for (int i = 0; i < 4; ++i) {
        out[lane * 4 + i] = a[i];
        out[128 + lane * 4 + i] = b[i];
    }
}
