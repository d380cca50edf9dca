// Prefill GEMM: y[m, n] = x[m, k] · w[n, k]ᵀ, x f32, w f32/f16/bf16, y f32, f32 accumulation.
//
// gemm_{f16,bf16}: tensor cores (mma.sync m16n8k16, ldmatrix, 3-stage cp.async pipeline for the
//   weight tile). The f32 activation tile is split into TERMS 16-bit pieces x ≈ x0 + x1 (+ x2), each
//   rounded to the weight's type, and every piece is multiplied against the same weight fragment:
//   - bf16 (8-bit mantissa), 3 terms: |x − Σ| ≤ 2^-27·|x|, below f32 rounding: f32-class results.
//   - f16 (11-bit mantissa), 2 terms: |x − Σ| ≤ 2^-22·|x| (f16 range: |x| < 65504).
//   gemm_{f16,bf16}_fast use one term (activations rounded to the weight type, |err| ≤ 2^-9 resp.
//   2^-12 relative per term): 2-3x fewer MMAs, not used by default because it breaks 1e-3 parity.
//   Requires k % 8 == 0 (16-byte weight rows for cp.async); the host uses gemm_simt otherwise.
// gemm_simt_{f32,f16,bf16}: a plain 64x64 SIMT tile for f32 weights and unaligned shapes.
#include "common.cuh"

#define BM 64
#define BN 64
#define BK 32
#define LDS (BK + 8)  // padded row (80 bytes): the 8 rows an ldmatrix reads hit distinct banks
#define STAGES 3

// Splits 4 consecutive f32 into TERMS pieces of type T and stores piece t at a[t] (8 bytes each).
template <typename T, int TERMS>
__device__ __forceinline__ void store_split(u16* a0, int term_stride, float4 v) {
    float r[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int t = 0; t < TERMS; ++t) {
        const u32 p0 = pack2((T*)nullptr, r[0], r[1]), p1 = pack2((T*)nullptr, r[2], r[3]);
        *reinterpret_cast<uint2*>(a0 + t * term_stride) = make_uint2(p0, p1);
        // The remainders are exact in f32: each piece is the rounding of what is left.
        r[0] -= lo_f32((T*)nullptr, p0); r[1] -= hi_f32((T*)nullptr, p0);
        r[2] -= lo_f32((T*)nullptr, p1); r[3] -= hi_f32((T*)nullptr, p1);
    }
}

// grid (ceil(n / 64), ceil(m / 64)), block 128 (4 warps in 2x2, each a 32x32 tile of y).
template <typename T, int TERMS>
__device__ void gemm_tc(const float* __restrict__ x, const T* __restrict__ w, float* __restrict__ y,
                        u32 m, u32 n, u32 k) {
    __shared__ __align__(16) u16 As[2][TERMS][BM * LDS];  // activation pieces, double-buffered
    __shared__ __align__(16) u16 Bs[STAGES][BN * LDS];    // weight tiles, cp.async ring
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp >> 1, wn = warp & 1;
    const u32 m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int ktiles = (k + BK - 1) / BK;

    // Weight tile kt -> Bs[slot]: 64 rows x 4 chunks of 8 elements, 2 chunks per thread.
    auto load_b = [&](int slot, int kt) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int idx = tid + i * 128, r = idx >> 2, c = (idx & 3) * 8;
            const u32 gn = n0 + r, gk = kt * BK + c;
            const bool ok = gn < n && gk < k;
            cp_async16(&Bs[slot][r * LDS + c], ok ? (const void*)(w + (u64)gn * k + gk) : (const void*)w, ok);
        }
    };
    // Activation tile kt -> registers: 64 rows x 8 float4, 4 per thread.
    float4 areg[4];
    auto load_a = [&](int kt) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int idx = tid + i * 128, r = idx >> 3, c = (idx & 7) * 4;
            const u32 gm = m0 + r, gk = kt * BK + c;
            areg[i] = (gm < m && gk < k) ? *reinterpret_cast<const float4*>(x + (u64)gm * k + gk)
                                         : make_float4(0.f, 0.f, 0.f, 0.f);
        }
    };
    auto store_a = [&](int slot) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int idx = tid + i * 128, r = idx >> 3, c = (idx & 7) * 4;
            store_split<T, TERMS>(&As[slot][0][r * LDS + c], BM * LDS, areg[i]);
        }
    };

    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (s < ktiles) load_b(s, s);
        cp_async_commit();  // empty groups keep the wait count uniform
    }
    load_a(0);
    store_a(0);

    for (int kt = 0; kt < ktiles; ++kt) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();  // tile kt visible; everyone is done with the slots refilled below
        const int next = kt + STAGES - 1;
        if (next < ktiles) load_b(next % STAGES, next);
        cp_async_commit();
        if (kt + 1 < ktiles) load_a(kt + 1);  // in flight during the MMAs

        const u16* a_s = As[kt & 1][0];
        const u16* b_s = Bs[kt % STAGES];
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            u32 b[4][2];
#pragma unroll
            for (int nj = 0; nj < 2; ++nj) {
                u32 r[4];
                const int row = wn * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
                ldmatrix_x4(r, b_s + row * LDS + kk + ((lane >> 3) & 1) * 8);
                b[2 * nj][0] = r[0]; b[2 * nj][1] = r[1];
                b[2 * nj + 1][0] = r[2]; b[2 * nj + 1][1] = r[3];
            }
#pragma unroll
            for (int t = 0; t < TERMS; ++t) {
#pragma unroll
                for (int mi = 0; mi < 2; ++mi) {
                    u32 a[4];
                    const int row = wm * 32 + mi * 16 + (lane & 15);
                    ldmatrix_x4(a, a_s + t * BM * LDS + row * LDS + kk + (lane >> 4) * 8);
#pragma unroll
                    for (int ni = 0; ni < 4; ++ni) mma(acc[mi][ni], a, b[ni][0], b[ni][1], (T*)nullptr);
                }
            }
        }
        if (kt + 1 < ktiles) store_a((kt + 1) & 1);
    }
    cp_async_wait<0>();

    // Accumulator layout of m16n8: c0,c1 at row lane/4, cols 2*(lane%4)+{0,1}; c2,c3 at row +8.
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                const u32 gm = m0 + wm * 32 + mi * 16 + (lane >> 2) + (e >> 1) * 8;
                const u32 gn = n0 + wn * 32 + ni * 8 + (lane & 3) * 2 + (e & 1);
                if (gm < m && gn < n) y[(u64)gm * n + gn] = acc[mi][ni][e];
            }
}

// grid (ceil(n / 64), ceil(m / 64)), block 256: each thread a 4x4 block of y.
template <typename W>
__device__ void gemm_simt(const float* __restrict__ x, const W* __restrict__ w, float* __restrict__ y,
                          u32 m, u32 n, u32 k) {
    __shared__ float As[16][BM + 4];
    __shared__ float Ws[16][BN + 4];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const u32 m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    float acc[4][4] = {};
    for (u32 k0 = 0; k0 < k; k0 += 16) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int idx = tid + i * 256, r = idx >> 4, c = idx & 15;
            const u32 gk = k0 + c;
            As[c][r] = (m0 + r < m && gk < k) ? x[(u64)(m0 + r) * k + gk] : 0.0f;
            Ws[c][r] = (n0 + r < n && gk < k) ? to_f32(w[(u64)(n0 + r) * k + gk]) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < 16; ++kk) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) { a[i] = As[kk][ty * 4 + i]; b[i] = Ws[kk][tx * 4 + i]; }
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const u32 gm = m0 + ty * 4 + i, gn = n0 + tx * 4 + j;
            if (gm < m && gn < n) y[(u64)gm * n + gn] = acc[i][j];
        }
}

#define GEMM_TC(NAME, T, TERMS) \
    extern "C" __global__ void __launch_bounds__(128) NAME(const float* x, const T* w, float* y, u32 m, u32 n, u32 k) { \
        gemm_tc<T, TERMS>(x, w, y, m, n, k); }
GEMM_TC(gemm_bf16, bf16, 3)
GEMM_TC(gemm_f16, f16, 2)
GEMM_TC(gemm_bf16_fast, bf16, 1)
GEMM_TC(gemm_f16_fast, f16, 1)

#define GEMM_SIMT(SUFFIX, W) \
    extern "C" __global__ void __launch_bounds__(256) gemm_simt_##SUFFIX(const float* x, const W* w, float* y, \
                                                                          u32 m, u32 n, u32 k) { \
        gemm_simt<W>(x, w, y, m, n, k); }
GEMM_SIMT(f32, float)
GEMM_SIMT(f16, f16)
GEMM_SIMT(bf16, bf16)
