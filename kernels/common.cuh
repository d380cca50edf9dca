// Shared helpers for every kernel file. Free of toolkit headers: f16/bf16 are raw 16-bit storage
// converted with bit operations or one PTX instruction, so NVRTC needs no include directory.
#pragma once

#ifdef MISTRAL_CUDA_EMU
// The CUDA emulator (crates/cuda-emu) compiles the kernels as C++ for the CPU: its header provides
// the CUDA built-ins (thread indices, barriers, shuffles, math) and a CPU twin of every wrapper in
// the "Hardware primitives" section below, written from the PTX ISA's definition of the instruction.
#include "emu_device.h"
#endif

typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

// Weight element types. `to_f32` widens one stored element exactly.
struct f16 { u16 bits; };
struct bf16 { u16 bits; };

// ---- Hardware primitives -------------------------------------------------------------------------
// Every PTX instruction the kernels use is wrapped here and nowhere else (the emulator replaces
// exactly this section).
#ifndef MISTRAL_CUDA_EMU
// f16 -> f32, exact.
__device__ __forceinline__ float f16_bits_to_f32(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
// Two f32 rounded (to nearest even) into one word of 16-bit values: `lo` in the low half.
__device__ __forceinline__ u32 pack2_bf16(float lo, float hi) {
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
__device__ __forceinline__ u32 pack2_f16(float lo, float hi) {
    u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}
// 16-byte streaming load of data read once (weights): bypasses L1. `p` is 16-byte aligned.
__device__ __forceinline__ uint4 ld_stream16(const void* p) {
    uint4 v;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
}
// 32-bit shared-memory address of a generic pointer (for cp.async and ldmatrix).
__device__ __forceinline__ u32 smem_addr(const void* p) {
    u32 r;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(r) : "l"(p));
    return r;
}
// Asynchronous 16-byte copy global -> shared (zero-filled when !valid); both 16-byte aligned.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;"
                 :: "r"(smem_addr(smem)), "l"(gmem), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" :: "n"(N));
}
// Four 8x8 b16 matrices from shared memory: lanes 8i..8i+7 give the row addresses of matrix i.
__device__ __forceinline__ void ldmatrix_x4(u32 r[4], const void* smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(smem)));
}
// As ldmatrix_x4, each matrix transposed (for a row-major B operand).
__device__ __forceinline__ void ldmatrix_x4_trans(u32 r[4], const void* smem) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(smem)));
}
// d += a · b on tensor cores, m16n8k16, f32 accumulators (fragment layouts: PTX ISA, mma.m16n8k16).
__device__ __forceinline__ void mma_bf16(float d[4], const u32 a[4], u32 b0, u32 b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_f16(float d[4], const u32 a[4], u32 b0, u32 b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// The launch's dynamic shared memory (16-byte aligned).
template <typename T> __device__ __forceinline__ T* dynamic_smem() {
    extern __shared__ __align__(16) unsigned char dyn_smem[];
    return reinterpret_cast<T*>(dyn_smem);
}
#endif
// ---------------------------------------------------------------------------------------------------

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16 v) { return __uint_as_float(((u32)v.bits) << 16); }
__device__ __forceinline__ float to_f32(f16 v) { return f16_bits_to_f32(v.bits); }
// The two 16-bit halves of a 32-bit word, low first (little-endian element order).
__device__ __forceinline__ float lo_f32(bf16*, u32 w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float hi_f32(bf16*, u32 w) { return __uint_as_float(w & 0xffff0000u); }
__device__ __forceinline__ float lo_f32(f16*, u32 w) { return f16_bits_to_f32((u16)(w & 0xffffu)); }
__device__ __forceinline__ float hi_f32(f16*, u32 w) { return f16_bits_to_f32((u16)(w >> 16)); }
__device__ __forceinline__ u32 pack2(bf16*, float lo, float hi) { return pack2_bf16(lo, hi); }
__device__ __forceinline__ u32 pack2(f16*, float lo, float hi) { return pack2_f16(lo, hi); }
__device__ __forceinline__ void mma(float d[4], const u32 a[4], u32 b0, u32 b1, bf16*) { mma_bf16(d, a, b0, b1); }
__device__ __forceinline__ void mma(float d[4], const u32 a[4], u32 b0, u32 b1, f16*) { mma_f16(d, a, b0, b1); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over a whole block (blockDim.x a multiple of 32, at most 1024). Every thread gets the total.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // `partial` may still be read by a previous call
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = lane < warps ? partial[lane] : 0.0f;
    return warp_sum(v);
}
