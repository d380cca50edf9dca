// Device side of the CUDA emulator: what kernels/*.cu need from CUDA, for a C++ compiler on the CPU.
//
// Included by kernels/common.cuh when MISTRAL_CUDA_EMU is defined (never by NVRTC). Provides the
// CUDA built-ins the kernels use and a CPU twin of every "hardware primitive" wrapper in common.cuh,
// each written from the PTX ISA's definition of the instruction it stands for. Every CUDA thread
// runs as a fiber (runtime.cpp); barriers, shuffles, ldmatrix and mma are collective operations
// that wait until all threads that must take part have arrived, and report divergence as an error.
#pragma once

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <utility>

typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#ifdef EMU_LIST_KERNELS
#define __global__ __emu_kernel__  // build.rs preprocesses with this to find the entry points
#else
#define __global__
#endif
#define __device__
#define __host__
#define __forceinline__ inline
// Blocks run one after another, so one static copy is per block; all of them live in one section
// that the launcher fills with NaN before each block (shared memory starts undefined on a GPU).
#define __shared__ static __attribute__((section("emu_shared")))
#define __align__(n) __attribute__((aligned(n)))
#ifdef EMU_LIST_KERNELS
#define __launch_bounds__(...) __emu_bounds__(__VA_ARGS__)  // build.rs reads the bound
#else
#define __launch_bounds__(...)
#endif

struct uint3 { u32 x, y, z; };
struct dim3 { u32 x, y, z; };
struct alignas(8) uint2 { u32 x, y; };
struct alignas(16) uint4 { u32 x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
inline uint2 make_uint2(u32 x, u32 y) { return {x, y}; }
inline uint4 make_uint4(u32 x, u32 y, u32 z, u32 w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

// The running thread's indices (set by the scheduler before it switches to a thread).
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

inline float __uint_as_float(u32 v) { float f; memcpy(&f, &v, 4); return f; }
inline float __int_as_float(int v) { float f; memcpy(&f, &v, 4); return f; }
inline u32 __float_as_uint(float f) { u32 v; memcpy(&v, &f, 4); return v; }
inline int __float_as_int(float f) { int v; memcpy(&v, &f, 4); return v; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }  // g++ does not contract by default
inline float __fmul_rn(float a, float b) { return a * b; }

// CUDA's integer and float min/max overloads (mixed signedness as CUDA resolves it: unsigned).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline u32 min(u32 a, u32 b) { return a < b ? a : b; }
inline u32 max(u32 a, u32 b) { return a > b ? a : b; }
inline u32 min(int a, u32 b) { return min((u32)a, b); }
inline u32 min(u32 a, int b) { return min(a, (u32)b); }
inline u32 max(int a, u32 b) { return max((u32)a, b); }
inline u32 max(u32 a, int b) { return max(a, (u32)b); }
inline u64 min(u64 a, u64 b) { return a < b ? a : b; }
inline u64 max(u64 a, u64 b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

namespace emu {
// Collective operations (runtime.cpp). Each returns once every thread that must take part has
// called it; a mismatch (different operation, a lane that exited, a lane waiting elsewhere) stops
// the launch with an error that names the kernel, block and warp.
void syncthreads();
u32 shfl(u32 mask, u32 v, int lane_or_xor, bool is_xor, int width);
void ldmatrix_x4(u32 r[4], const void* smem, bool trans);
enum class MmaType { bf16, f16 };
void mma_m16n8k16(float d[4], const u32 a[4], u32 b0, u32 b1, MmaType t);
// Memory checks: `p` .. `p + bytes` must lie in one live allocation (device or shared memory)
// and be `align`-byte aligned; `what` names the instruction in the error.
void check_access(const void* p, size_t bytes, size_t align, const char* what);
// cp.async: queued per thread, performed at the latest moment the PTX ISA allows (wait_group).
void cp_async(void* smem, const void* gmem, u32 src_bytes);
void cp_async_commit();
void cp_async_wait(int n);
void* dynamic_smem();
float f16_to_f32(u16 h);
u16 f32_to_f16(float f);
u16 f32_to_bf16(float f);
}  // namespace emu

inline void __syncthreads() { emu::syncthreads(); }
template <typename T>
inline T __shfl_xor_sync(u32 mask, T v, int lane_mask, int width = 32) {
    static_assert(sizeof(T) == 4, "4-byte shuffles only");
    u32 b; memcpy(&b, &v, 4);
    b = emu::shfl(mask, b, lane_mask, true, width);
    T r; memcpy(&r, &b, 4); return r;
}
template <typename T>
inline T __shfl_sync(u32 mask, T v, int src_lane, int width = 32) {
    static_assert(sizeof(T) == 4, "4-byte shuffles only");
    u32 b; memcpy(&b, &v, 4);
    b = emu::shfl(mask, b, src_lane, false, width);
    T r; memcpy(&r, &b, 4); return r;
}

// ---- CPU twins of the hardware primitives in kernels/common.cuh ----
inline float f16_bits_to_f32(u16 h) { return emu::f16_to_f32(h); }                     // cvt.f32.f16
inline u32 pack2_bf16(float lo, float hi) {                                             // cvt.rn.bf16x2.f32
    return (u32)emu::f32_to_bf16(lo) | ((u32)emu::f32_to_bf16(hi) << 16);
}
inline u32 pack2_f16(float lo, float hi) {                                              // cvt.rn.f16x2.f32
    return (u32)emu::f32_to_f16(lo) | ((u32)emu::f32_to_f16(hi) << 16);
}
inline uint4 ld_stream16(const void* p) {                                               // ld.global.nc.v4.u32
    emu::check_access(p, 16, 16, "ld.global.nc.v4");
    uint4 v; memcpy(&v, p, 16); return v;
}
inline void cp_async16(void* smem, const void* gmem, bool valid) {                      // cp.async.cg 16
    emu::cp_async(smem, gmem, valid ? 16 : 0);
}
inline void cp_async_commit() { emu::cp_async_commit(); }                               // cp.async.commit_group
template <int N> inline void cp_async_wait() { emu::cp_async_wait(N); }                 // cp.async.wait_group N
inline void ldmatrix_x4(u32 r[4], const void* smem) { emu::ldmatrix_x4(r, smem, false); }
inline void ldmatrix_x4_trans(u32 r[4], const void* smem) { emu::ldmatrix_x4(r, smem, true); }
inline void mma_bf16(float d[4], const u32 a[4], u32 b0, u32 b1) { emu::mma_m16n8k16(d, a, b0, b1, emu::MmaType::bf16); }
inline void mma_f16(float d[4], const u32 a[4], u32 b0, u32 b1) { emu::mma_m16n8k16(d, a, b0, b1, emu::MmaType::f16); }
template <typename T> inline T* dynamic_smem() { return reinterpret_cast<T*>(emu::dynamic_smem()); }

// Each kernel file's entry points are registered with the emulator's launcher by name (emu_<file>.cpp,
// generated by build.rs): the trampoline unpacks cuLaunchKernel's `void** params` into typed arguments.
namespace emu {
using Trampoline = void (*)(void** params);
struct Registrar {
    // max_threads: the kernel's __launch_bounds__ (0: none); a larger block fails the launch.
    Registrar(const char* name, Trampoline fn, int n_params, const size_t* param_sizes, int max_threads);
};
template <typename F> struct Sig;
template <typename... A> struct Sig<void (*)(A...)> {
    static constexpr int n = sizeof...(A);
    static constexpr size_t sizes[sizeof...(A) + 1] = {sizeof(A)..., 0};
    template <void (*F)(A...), size_t... I>
    static void call(void** p, std::index_sequence<I...>) { F(*static_cast<A*>(p[I])...); }
};
template <auto F> void trampoline(void** p) {
    using S = Sig<decltype(F)>;
    S::template call<F>(p, std::make_index_sequence<S::n>());
}
}  // namespace emu
#define EMU_REGISTER(name, max_threads) \
    static emu::Registrar emu_reg_##name(#name, &emu::trampoline<&name>, emu::Sig<decltype(&name)>::n, \
                                         emu::Sig<decltype(&name)>::sizes, max_threads);
