// Sliding-window GQA attention for prefill blocks on tensor cores: f32 in, f32 out, f32-class
// results. Semantics as attn_f32 (attention.cu); the host takes this path for blocks of more than
// 4 queries with head_dim % 16 == 0, head_dim <= 128 and at most 64 query heads per KV head.
//
// attn_split_kv_<cache dtype> (f32, f16, bf16: the KV cache's storage; the block's own keys are f32):
//   every key and value the launch can see (positions kfirst .. kfirst + keys - 1, from the rolling
//   cache, widened exactly, or from the block) split once into f16 pieces x = hi + lo, laid out by
//   position: kv[piece][n_kv][keys][d] u16 with pieces K hi, K lo, V hi, V lo. Done once per key
//   instead of once per query tile that reads it; the main kernel then copies ready tiles with
//   cp.async and never needs the cache's slot arithmetic. An f16 cache's values are their own hi
//   piece (lo = 0); a bf16 value (8 significant bits) is too, unless it lies outside f16's range.
// attn_prefill_f32: FlashAttention-2 on mma.sync m16n8k16. One block per (tile of qb queries, KV
//   head); its 64 rows are the (query, query head) pairs sharing the KV head, query-major (row r is
//   query t0 + r / group, head g·group + r % group), so each K/V tile is loaded once for the whole
//   GQA group. 4 warps of 16 rows. Per 32-key tile: S = Q·Kᵀ, online softmax on the accumulator
//   fragments, O += P·V with P taken straight from the S registers as the A operand. The V tile
//   streams in while S is computed and the next K tile while P·V is, each with one cp.async group
//   (34 KiB of static shared memory). Tiles wholly outside a warp's windows are skipped; masks are
//   applied only on tiles that cross a window edge.
//
// Accuracy (why f16 pieces give f32-class results). hi = rn_f16(x), lo = rn_f16(x − hi), where
// x − hi is exact in f32. For x in f16's normal range, |x − hi| ≤ 2^-11·|x| and
// |x − hi − lo| ≤ 2^-22·|x|, or ≤ 2^-25 absolute once x − hi is below f16's normal range (|x| below
// ~2^-3: lo is then subnormal). A product is taken as hi·hi' + hi·lo' + lo·hi' (f16 products are
// exact in the f32 accumulator); the dropped lo·lo' and the pieces' errors leave each term within
// ~3·2^-22 ≈ 7e-7 of the f32 product, the size of f32 accumulation error over head_dim terms
// (√128·2^-24 ≈ 7e-7).
// - Scores: q is multiplied by scale·log2(e) before splitting (scores in base 2, p = 2^(s − m)); an
//   absolute score error δ ≲ 3·2^-22·Σ|q'·k| scales p by 2^δ ≈ 1 + 0.69·δ.
// - Probabilities: p' = 2^(s − m)·2^15 ≤ 2^15 (exact power-of-two scaling) keeps hi and lo normal
//   down to p = 2^-29, so P keeps ~2^-22 relative accuracy wherever it matters; the row sum l is
//   taken over the same f32 p', so the 2^15 cancels exactly in O / l.
// - Values: the output's error is ≲ 3·2^-22·max|v| + 2^-25 absolute (the floor from subnormal lo
//   pieces: ~3e-8, below f32 rounding of outputs of size one).
// On the CUDA emulator the parity table is as close to the CPU as with attn_f32 (max error ~2e-7).
// - Range: |q·scale·log2(e)|, |k| and |v| must stay below 65504 (f16's largest value; hi would
//   overflow to inf). Mistral's activations are orders of magnitude inside it.
#include "common.cuh"

#define PF_WARPS 4              // warps per block
#define PF_ROWS (16 * PF_WARPS) // (query, query head) rows per block, 16 per warp (one m16 tile)
#define PF_KT 32                // keys per tile
#define PF_DMAX 128             // head_dim limit
#define PF_LD (PF_DMAX + 8)     // shared row in halves (272 B): an ldmatrix's 8 rows hit distinct banks
#define PF_P_SCALE 32768.0f     // 2^15: p' = p · 2^15 ≤ 2^15 < 65504

struct SplitKvArgs {
    const float* k_new;    // [n, n_kv, d]
    const float* v_new;
    const void* k_cache;   // [slots, n_kv, d] of the entry's cache type (float, f16 or bf16)
    const void* v_cache;
    u16* kv;               // [4][n_kv][keys][d]: K hi, K lo, V hi, V lo (f16 bits)
    u32 n_kv, d, start_pos, slots, kfirst, keys;
};

struct PrefillArgs {
    const float* q;   // [n, n_heads, d]
    const u16* kv;    // [4][n_kv][keys][d] from attn_split_kv_f32, position kfirst at index 0
    float* out;       // [n, n_heads, d]
    u32 n, start_pos, n_heads, n_kv, d, window, kfirst, keys, qb;
    float qscale;     // scale · log2(e)
};

// Two f32 as f16 pieces: hi = (rn(x0), rn(x1)), lo = the rounded remainders (low half = x0).
__device__ __forceinline__ void split2(float x0, float x1, u32& hi, u32& lo) {
    hi = pack2_f16(x0, x1);
    lo = pack2_f16(x0 - lo_f32((f16*)nullptr, hi), x1 - hi_f32((f16*)nullptr, hi));
}

// First key position of query position i's window.
__device__ __forceinline__ u32 window_start(u32 i, u32 window) { return i + 1 > window ? i + 1 - window : 0; }

// Four consecutive elements widened to f32 (16 bytes of f32, 8 of a 16-bit type; aligned, as rows
// are d % 16 == 0 elements from a buffer's start).
__device__ __forceinline__ float4 load4(const float* p) { return *reinterpret_cast<const float4*>(p); }
template <typename H>
__device__ __forceinline__ float4 load4(const H* p) {
    const uint2 w = *reinterpret_cast<const uint2*>(p);
    return make_float4(lo_f32((H*)nullptr, w.x), hi_f32((H*)nullptr, w.x), lo_f32((H*)nullptr, w.y),
                       hi_f32((H*)nullptr, w.y));
}

// grid (keys, 2: K then V), block 256: one key row of all KV heads per block, 4 elements a thread.
// T: the cache's element type.
template <typename T>
__device__ __forceinline__ void split_kv(const SplitKvArgs& a) {
    const u32 jj = blockIdx.x, j = a.kfirst + jj, is_v = blockIdx.y, quads = a.d / 4;
    const bool from_block = j >= a.start_pos;
    const float* blk =
        from_block ? (is_v ? a.v_new : a.k_new) + (u64)(j - a.start_pos) * a.n_kv * a.d : nullptr;
    const T* cache = from_block ? nullptr
                                : static_cast<const T*>(is_v ? a.v_cache : a.k_cache) +
                                      (u64)(j % a.slots) * a.n_kv * a.d;
    const u64 piece = (u64)a.n_kv * a.keys * a.d;
    u16* dst = a.kv + 2 * is_v * piece + (u64)jj * a.d;
    for (u32 f = threadIdx.x; f < a.n_kv * quads; f += blockDim.x) {
        const u32 g = f / quads, c = f % quads;
        const float4 v = from_block ? load4(blk + 4 * f) : load4(cache + 4 * f);
        u32 h0, l0, h1, l1;
        split2(v.x, v.y, h0, l0);
        split2(v.z, v.w, h1, l1);
        u16* o = dst + (u64)g * a.keys * a.d + 4 * c;
        *reinterpret_cast<uint2*>(o) = make_uint2(h0, h1);
        *reinterpret_cast<uint2*>(o + piece) = make_uint2(l0, l1);
    }
}

#define SPLIT_KV(SUFFIX, T) \
    extern "C" __global__ void __launch_bounds__(256) attn_split_kv_##SUFFIX(const SplitKvArgs a) { split_kv<T>(a); }
SPLIT_KV(f32, float)
SPLIT_KV(f16, f16)
SPLIT_KV(bf16, bf16)

// grid (ceil(n / qb), n_kv), block 32 · PF_WARPS, qb = PF_ROWS / group queries per block.
extern "C" __global__ void __launch_bounds__(32 * PF_WARPS) attn_prefill_f32(const PrefillArgs a) {
    __shared__ __align__(16) u16 ks[2 * PF_KT * PF_LD];  // key tile [piece hi/lo][key][dim]
    __shared__ __align__(16) u16 vs[2 * PF_KT * PF_LD];  // value tile, same layout
    const u32 tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, quad = lane & 3;
    const u32 group = a.n_heads / a.n_kv, g = blockIdx.y;
    const u32 t0 = blockIdx.x * a.qb, tq = min(a.n, t0 + a.qb) - 1;  // the block's queries t0 ..= tq

    // Keys of the block: the union of its queries' windows.
    const u32 first = window_start(a.start_pos + t0, a.window), last = a.start_pos + tq;
    // The warp's queries (rows warp·16 .. +15, clamped to the block's), and their windows' edges.
    const u32 wq0 = t0 + warp * 16 / group, wq1 = min(t0 + (warp * 16 + 15) / group, tq);
    const bool has_rows = wq0 <= wq1;
    const u32 i_lo = a.start_pos + wq0, i_hi = a.start_pos + wq1;
    const u32 wfirst = window_start(i_lo, a.window), hfirst = window_start(i_hi, a.window);

    // This lane's two accumulator rows: lane / 4 and lane / 4 + 8 of the warp's 16.
    bool valid[2];
    u32 pos[2], rfirst[2];
    u64 off[2];  // element offset of the row in q and out
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        const u32 row = warp * 16 + (lane >> 2) + 8 * r, qq = row / group;
        const u32 t = t0 + qq, h = g * group + row % group;
        valid[r] = qq < a.qb && t < a.n;
        pos[r] = a.start_pos + t;
        rfirst[r] = window_start(pos[r], a.window);
        off[r] = ((u64)t * a.n_heads + h) * a.d;
    }

    // Q as A fragments (m16n8k16: a0 row g cols 2c..2c+1, a1 row g+8, a2/a3 the same 8 cols on),
    // scaled to base-2 scores and split into hi/lo pieces.
    u32 qh[PF_DMAX / 16][4], ql[PF_DMAX / 16][4];
#pragma unroll
    for (int kk = 0; kk < PF_DMAX / 16; ++kk)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int r = e & 1;
            const u32 col = kk * 16 + (e >> 1) * 8 + 2 * quad;
            float x0 = 0.0f, x1 = 0.0f;
            if (valid[r] && col < a.d) {
                x0 = a.q[off[r] + col] * a.qscale;
                x1 = a.q[off[r] + col + 1] * a.qscale;
            }
            split2(x0, x1, qh[kk][e], ql[kk][e]);
        }

    // One tile's two pieces (hi at [0], lo at [PF_KT · PF_LD]) of K (piece0 0) or V (piece0 2),
    // keys j0 .. j0 + PF_KT − 1; keys past the block's last are zero-filled (and masked). Thread
    // tid copies 16-byte chunk tid % 16 of rows tid / 16, + 8, ... (chunks past head_dim idle).
    const u32 ch = tid & 15, r0 = tid >> 4, rstep = 32 * PF_WARPS / 16;
    const u64 piece = (u64)a.n_kv * a.keys * a.d;
    const u16* kv_g = a.kv + (u64)g * a.keys * a.d + ch * 8;  // piece 0, KV head g, position kfirst
    auto load = [&](u16* dst, u32 piece0, u32 j0) {
        if (ch * 8 >= a.d) return;
        for (u32 r = r0; r < PF_KT; r += rstep) {
            const u32 j = j0 + r;
            const bool ok = j <= last;
            const u16* src = kv_g + piece0 * piece + (u64)(ok ? j - a.kfirst : 0) * a.d;
            cp_async16(dst + r * PF_LD + ch * 8, src, ok);
            cp_async16(dst + PF_KT * PF_LD + r * PF_LD + ch * 8, src + piece, ok);
        }
    };

    float o[PF_DMAX / 8][4];  // O accumulator: n8 tiles of dims, rows as the S fragments
#pragma unroll
    for (int dn = 0; dn < PF_DMAX / 8; ++dn)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[dn][e] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY};  // running max of the base-2 scores, per row
    float l[2] = {0.0f, 0.0f};            // this lane's share of the running Σ p'

    const u32 tiles = (last - first) / PF_KT + 1;
    load(ks, 0, first);
    cp_async_commit();
    for (u32 it = 0; it < tiles; ++it) {
        const u32 j0 = first + it * PF_KT;
        cp_async_wait<0>();
        __syncthreads();  // K tile visible; every warp is done with the previous V tile
        load(vs, 2, j0);
        cp_async_commit();

        // Warp-uniform: does the tile meet any of the warp's windows?
        const bool busy = has_rows && j0 <= i_hi && j0 + PF_KT - 1 >= wfirst;
        u32 ph[PF_KT / 16][4], pl[PF_KT / 16][4];  // P as A fragments of the P·V product
        if (busy) {
            float s[PF_KT / 8][4];  // scores: n8 tiles of keys; [0..1] row g, [2..3] row g + 8
#pragma unroll
            for (int n = 0; n < PF_KT / 8; ++n)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[n][e] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < PF_DMAX / 16; ++kk) {
                if (kk * 16 >= (int)a.d) break;
#pragma unroll
                for (int np = 0; np < PF_KT / 16; ++np) {
                    // Keys np·16 + 0..15 as B fragments: r[0..1] keys 0..7, r[2..3] keys 8..15.
                    const u32 idx = (np * 16 + (lane & 7) + ((lane >> 4) << 3)) * PF_LD + kk * 16 + ((lane >> 3) & 1) * 8;
                    u32 bh[4], bl[4];
                    ldmatrix_x4(bh, ks + idx);
                    ldmatrix_x4(bl, ks + PF_KT * PF_LD + idx);
#pragma unroll
                    for (int hf = 0; hf < 2; ++hf) {
                        float* acc = s[2 * np + hf];
                        mma_f16(acc, ql[kk], bh[2 * hf], bh[2 * hf + 1]);
                        mma_f16(acc, qh[kk], bl[2 * hf], bl[2 * hf + 1]);
                        mma_f16(acc, qh[kk], bh[2 * hf], bh[2 * hf + 1]);
                    }
                }
            }
            // Masks, only where the tile crosses an edge of some row's window.
            if (!(j0 + PF_KT - 1 <= i_lo && j0 >= hfirst)) {
#pragma unroll
                for (int n = 0; n < PF_KT / 8; ++n)
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const u32 j = j0 + n * 8 + 2 * quad + (e & 1), r = e >> 1;
                        if (j < rfirst[r] || j > pos[r]) s[n][e] = -INFINITY;
                    }
            }
            // Online softmax per row; the quad of lanes holding a row reduce with two shuffles.
            float mx[2] = {m[0], m[1]};
#pragma unroll
            for (int n = 0; n < PF_KT / 8; ++n) {
                mx[0] = fmaxf(mx[0], fmaxf(s[n][0], s[n][1]));
                mx[1] = fmaxf(mx[1], fmaxf(s[n][2], s[n][3]));
            }
#pragma unroll
            for (int r = 0; r < 2; ++r) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                // No key of the row seen yet: p = 0 below and nothing to rescale.
                const float corr = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mx[r]);
                l[r] *= corr;
                m[r] = mx[r];
#pragma unroll
                for (int dn = 0; dn < PF_DMAX / 8; ++dn) {
                    o[dn][2 * r] *= corr;
                    o[dn][2 * r + 1] *= corr;
                }
            }
#pragma unroll
            for (int n = 0; n < PF_KT / 8; ++n) {
                float p[4];
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const float mr = mx[e >> 1];
                    p[e] = mr == -INFINITY ? 0.0f : exp2f(s[n][e] - mr) * PF_P_SCALE;
                    l[e >> 1] += p[e];
                }
                // Keys n·8 + 2c..2c+1 are A columns (n % 2)·8 + 2c of k-step n / 2.
                split2(p[0], p[1], ph[n / 2][2 * (n % 2)], pl[n / 2][2 * (n % 2)]);
                split2(p[2], p[3], ph[n / 2][2 * (n % 2) + 1], pl[n / 2][2 * (n % 2) + 1]);
            }
        }

        cp_async_wait<0>();
        __syncthreads();  // V tile visible; every warp is done with the K tile
        if (it + 1 < tiles) load(ks, 0, j0 + PF_KT);
        cp_async_commit();

        if (busy) {
#pragma unroll
            for (int kk = 0; kk < PF_KT / 16; ++kk)
#pragma unroll
                for (int dp = 0; dp < PF_DMAX / 16; ++dp) {
                    if (dp * 16 >= (int)a.d) break;
                    // Keys kk·16 + 0..15 × dims dp·16 + 0..15 transposed into B fragments:
                    // r[0..1] dims 0..7 (keys 0..7, 8..15), r[2..3] dims 8..15.
                    const u32 idx = (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * PF_LD + dp * 16 + (lane >> 4) * 8;
                    u32 bh[4], bl[4];
                    ldmatrix_x4_trans(bh, vs + idx);
                    ldmatrix_x4_trans(bl, vs + PF_KT * PF_LD + idx);
#pragma unroll
                    for (int hf = 0; hf < 2; ++hf) {
                        float* acc = o[2 * dp + hf];
                        mma_f16(acc, pl[kk], bh[2 * hf], bh[2 * hf + 1]);
                        mma_f16(acc, ph[kk], bl[2 * hf], bl[2 * hf + 1]);
                        mma_f16(acc, ph[kk], bh[2 * hf], bh[2 * hf + 1]);
                    }
                }
        }
    }
    cp_async_wait<0>();

    // Row sums over the quad; every valid row saw at least its own key, so l > 0.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        if (!valid[r]) continue;
#pragma unroll
        for (int dn = 0; dn < PF_DMAX / 8; ++dn) {
            const u32 col = dn * 8 + 2 * quad;
            if (col < a.d) {
                a.out[off[r] + col] = o[dn][2 * r] / l[r];
                a.out[off[r] + col + 1] = o[dn][2 * r + 1] / l[r];
            }
        }
    }
}
