// Prefill GEMM on block-quantized weights: y[m, n] = x[m, k] · w[n, k]ᵀ, x f32, w in the planar
// layout of kernels/quant.cuh, y f32, f32 accumulation. The host guarantees k % BLOCK == 0.
//
// gemm_{format}: tensor cores (mma.sync m16n8k16 bf16, ldmatrix), the structure of gemm_tc in
//   gemm.cu. The B operand is the weights' *integer levels* (|level| <= 128: exact in bf16), the
//   activations are split into 3 bf16 terms as gemm_tc does (|x − Σ| <= 2^-27·|x|: f32-class).
//   Each 16-deep k step lies in one sub-block (16 or 32 weights along k), so its MMA result, a
//   fresh f32 fragment Σ x·level, is scaled by the sub-block's scale per column and added to the
//   f32 accumulators, plus min · Σ x over the step (Q4_1 and the K-quants' mins; the activation
//   sums come from the f32 tile, per row and step):  y += scale·Σ x·level + min·Σ x.
//   The weight tile is decoded from the planar payload into shared bf16 levels by the threads
//   (8 levels each from one or two 8-byte loads), so it is not a cp.async copy: the payload and
//   activation loads of the next tile are issued into registers before the MMAs of this one and
//   decoded and stored to the other shared buffer after them.
#include "quant.cuh"

#define BM 64
#define BN 64
#define TBK 32        // k tile (every block size is a multiple of 32)
#define LDS (TBK + 8) // padded row (80 bytes): the 8 rows an ldmatrix reads hit distinct banks
#define TERMS 3       // bf16 pieces per activation

// Splits 4 consecutive f32 into TERMS bf16 pieces and stores piece t at a0 + t·term_stride.
__device__ __forceinline__ void store_split3(u16* a0, int term_stride, float4 v) {
    float r[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int t = 0; t < TERMS; ++t) {
        const u32 p0 = pack2_bf16(r[0], r[1]), p1 = pack2_bf16(r[2], r[3]);
        *reinterpret_cast<uint2*>(a0 + t * term_stride) = make_uint2(p0, p1);
        // The remainders are exact in f32: each piece is the rounding of what is left.
        r[0] -= lo_f32((bf16*)nullptr, p0); r[1] -= hi_f32((bf16*)nullptr, p0);
        r[2] -= lo_f32((bf16*)nullptr, p1); r[3] -= hi_f32((bf16*)nullptr, p1);
    }
}

// grid (ceil(n / 64), ceil(m / 64)), block 128 (4 warps in 2x2, each a 32x32 tile of y).
template <typename F>
__device__ void qgemm_tc(const float* __restrict__ x, const u8* __restrict__ w, float* __restrict__ y, u32 m,
                         u32 n, u32 k) {
    __shared__ __align__(16) u16 As[2][TERMS][BM * LDS];  // activation pieces, double-buffered
    __shared__ __align__(16) u16 Bs[2][BN * LDS];         // weight levels (bf16), double-buffered
    __shared__ float scale_s[2][BN][2], min_s[2][BN][2];  // per weight row and 16-deep step
    __shared__ float xsum_s[2][BM][2];                    // Σ x per activation row and step
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp >> 1, wn = warp & 1;
    const u32 m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    const int ktiles = k / TBK;  // k is a multiple of the block size, hence of 32
    const u32 nb = k / F::BLOCK;
    const u64 nb_total = (u64)n * nb;
    const u8* meta = w + nb_total * F::P;

    // Weight tile kt: 64 rows x 4 groups of 8 weights, 2 groups per thread. load_b issues the
    // payload loads (before the MMAs of the previous tile), decode_b turns them into bf16 levels
    // (after); the thread of each row's groups 0 and 2 also decodes the scale and min of steps 0
    // and 1.
    uint2 braw[2][2];
    u32 breg[2][4];
    float bscale[2], bmin[2];
    auto load_b = [&](int kt) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int idx = tid + i * 128, r = idx >> 2, c = idx & 3;
            const u32 gn = n0 + r, gk = kt * TBK + c * 8;
            braw[i][0] = braw[i][1] = make_uint2(0u, 0u);
            if (gn < n) {
                const u64 b = (u64)gn * nb + gk / F::BLOCK;
                F::load8(w + b * F::P, gk % F::BLOCK, braw[i]);
            }
        }
    };
    auto decode_b = [&](int kt) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int idx = tid + i * 128, r = idx >> 2, c = idx & 3;
            const u32 gn = n0 + r, gk = kt * TBK + c * 8;
            float lv[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
            bscale[i] = 0.0f;
            bmin[i] = 0.0f;
            if (gn < n) {
                const u64 b = (u64)gn * nb + gk / F::BLOCK;
                const u32 e = gk % F::BLOCK;
                F::levels8(braw[i], meta + b * F::M, e, lv);
                if ((c & 1) == 0) F::step(meta + b * F::M, e, bscale[i], bmin[i]);
            }
#pragma unroll
            for (int j = 0; j < 4; ++j) breg[i][j] = pack2_bf16(lv[2 * j], lv[2 * j + 1]);  // exact
        }
    };
    auto store_b = [&](int slot) {
#pragma unroll
        for (int i = 0; i < 2; ++i) {
            const int idx = tid + i * 128, r = idx >> 2, c = idx & 3;
            *reinterpret_cast<uint4*>(&Bs[slot][r * LDS + c * 8]) =
                make_uint4(breg[i][0], breg[i][1], breg[i][2], breg[i][3]);
            if ((c & 1) == 0) {
                scale_s[slot][r][c >> 1] = bscale[i];
                min_s[slot][r][c >> 1] = bmin[i];
            }
        }
    };
    // Activation tile kt -> registers: 64 rows x 8 float4, 4 per thread.
    float4 areg[4];
    auto load_a = [&](int kt) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int idx = tid + i * 128, r = idx >> 3, c = (idx & 7) * 4;
            const u32 gm = m0 + r, gk = kt * TBK + c;
            areg[i] = gm < m ? *reinterpret_cast<const float4*>(x + (u64)gm * k + gk)
                             : make_float4(0.f, 0.f, 0.f, 0.f);
        }
    };
    // Stores the pieces and the per-step row sums: the 4 lanes 4j..4j+3 hold one row's 16 values
    // of one step (idx & 7 is lane & 7: i·128 is a multiple of 8).
    auto store_a = [&](int slot) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int idx = tid + i * 128, r = idx >> 3, c = (idx & 7) * 4;
            store_split3(&As[slot][0][r * LDS + c], BM * LDS, areg[i]);
            float sum = (areg[i].x + areg[i].y) + (areg[i].z + areg[i].w);
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            if ((idx & 3) == 0) xsum_s[slot][r][(idx & 7) >> 2] = sum;
        }
    };

    float acc[2][4][4];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;

    load_b(0);
    load_a(0);
    decode_b(0);
    store_b(0);
    store_a(0);

    for (int kt = 0; kt < ktiles; ++kt) {
        __syncthreads();  // tile kt visible; everyone is done with the slot refilled below
        const int slot = kt & 1;
        if (kt + 1 < ktiles) {  // in flight during the MMAs
            load_a(kt + 1);
            load_b(kt + 1);
        }
        const u16* a_s = As[slot][0];
        const u16* b_s = Bs[slot];
#pragma unroll
        for (int st = 0; st < 2; ++st) {
            const int kk = st * 16;
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
            for (int mi = 0; mi < 2; ++mi) {
                float part[4][4];
#pragma unroll
                for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                    for (int e = 0; e < 4; ++e) part[ni][e] = 0.0f;
#pragma unroll
                for (int t = 0; t < TERMS; ++t) {
                    u32 a[4];
                    const int row = wm * 32 + mi * 16 + (lane & 15);
                    ldmatrix_x4(a, a_s + t * BM * LDS + row * LDS + kk + (lane >> 4) * 8);
#pragma unroll
                    for (int ni = 0; ni < 4; ++ni) mma_bf16(part[ni], a, b[ni][0], b[ni][1]);
                }
                // Accumulator layout of m16n8: c0,c1 at row lane/4, cols 2*(lane%4)+{0,1}; c2,c3
                // at row +8.
#pragma unroll
                for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int row = wm * 32 + mi * 16 + (lane >> 2) + (e >> 1) * 8;
                        const int col = wn * 32 + ni * 8 + (lane & 3) * 2 + (e & 1);
                        acc[mi][ni][e] += fmaf(scale_s[slot][col][st], part[ni][e],
                                               min_s[slot][col][st] * xsum_s[slot][row][st]);
                    }
            }
        }
        if (kt + 1 < ktiles) {
            decode_b(kt + 1);
            store_b(slot ^ 1);
            store_a(slot ^ 1);
        }
    }

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

#define QGEMM_TC(SUFFIX, F) \
    extern "C" __global__ void __launch_bounds__(128) gemm_##SUFFIX(const float* x, const u8* w, float* y, u32 m, \
                                                                     u32 n, u32 k) { \
        qgemm_tc<F>(x, w, y, m, n, k); }
FOR_EACH_QUANT(QGEMM_TC)
