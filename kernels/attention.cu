// Causal sliding-window GQA attention over the rolling KV cache plus the block's own keys.
// Activations are f32; the cache is stored in f32, f16 or bf16 (entries attn_f32, attn_f16,
// attn_bf16: one template over the cache's element type), widened exactly to f32 as a tile is loaded
// into shared memory, so everything after the load is the f32 kernel's arithmetic.
//
// attn_<cache dtype>: one block per (tile of `qb` queries, KV head, key split). Its qb × group warps are the
//   (query, query head) pairs that share the KV head, so each K/V tile is read from memory once for
//   the whole group (GQA sharing). Keys are visited only over the union of the block's windows
//   (start_pos + t - window < j <= start_pos + t), so tiles wholly outside the window are never
//   loaded. Online softmax in f32 with the accurate expf; each lane scores one key of a 32-key
//   tile, then owns head_dim / 32 output dimensions for the PV product.
//   splits == 1 (prefill): writes out. splits > 1 (flash-decoding, split over the KV length):
//   writes (max, sum, unnormalised acc) per split to `part`, merged by attn_combine_f32.
#include "common.cuh"

#define KT 32        // keys per tile
#define MAX_DIM 128  // head_dim limit (4 dims per lane)

struct AttnArgs {
    const float* q;        // [n, n_heads, d]
    const float* k_new;    // [n, n_kv, d]
    const float* v_new;
    const void* k_cache;   // [slots, n_kv, d] of the entry's cache type (float, f16 or bf16)
    const void* v_cache;
    float* out;            // [n, n_heads, d]
    float* part;           // [n, n_heads, splits, d + 2] when splits > 1
    const u32* pos;        // when set, start_pos is *pos (a decode step replayed as a CUDA graph)
    u32 n, start_pos, n_heads, n_kv, d, window, slots, splits, qb;
    float scale;
};

// A cache element widened to f32 (exact for every cache type).
__device__ __forceinline__ float kv_f32(float v) { return v; }
__device__ __forceinline__ float kv_f32(f16 v) { return to_f32(v); }
__device__ __forceinline__ float kv_f32(bf16 v) { return to_f32(v); }

// Element dd of the row of position j for KV head g: from the block (f32) if j >= start_pos, else
// from rolling slot j % slots of the cache (stored as T).
template <typename T>
__device__ __forceinline__ float kv_at(const AttnArgs& a, const float* blk, const void* cache, u32 j, u32 g,
                                       u32 dd) {
    if (j >= a.start_pos) return blk[((u64)(j - a.start_pos) * a.n_kv + g) * a.d + dd];
    return kv_f32(static_cast<const T*>(cache)[((u64)(j % a.slots) * a.n_kv + g) * a.d + dd]);
}

// grid (ceil(n / qb), n_kv, splits), block 32 · qb · group, dynamic shared memory
// (warps · d + KT · (d + 1) + KT · d) floats. T: the cache's element type.
template <typename T>
__device__ __forceinline__ void attn(const AttnArgs& args) {
    AttnArgs a = args;
    if (a.pos) a.start_pos = *a.pos;
    a.window = min(a.window, a.start_pos + a.n);  // a window longer than every position
    float* smem = dynamic_smem<float>();
    const u32 group = a.n_heads / a.n_kv, warps = blockDim.x >> 5;
    const u32 lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    float* q_s = smem + warp * a.d;
    float* k_s = smem + warps * a.d;      // [KT][d + 1]: lane-per-key reads are conflict free
    float* v_s = k_s + KT * (a.d + 1);    // [KT][d]
    const u32 g = blockIdx.y, split = blockIdx.z;
    const u32 t = blockIdx.x * a.qb + warp / group, h = g * group + warp % group;
    const bool active = t < a.n;

    // Keys of the block: the union of its queries' windows, then this split's share of it.
    const u32 t0 = blockIdx.x * a.qb, t1 = min(a.n, t0 + a.qb) - 1;
    const u32 first = a.start_pos + t0 + 1 > a.window ? a.start_pos + t0 + 1 - a.window : 0;
    const u32 last = a.start_pos + t1;
    const u32 per = (last - first + a.splits) / a.splits;  // ceil(len / splits)
    const u32 lo = first + split * per;
    const u32 hi = min(last, lo + per - 1);  // empty when lo > last

    const u32 i = a.start_pos + t;  // this warp's query position
    if (active)
        for (u32 e = lane; e < a.d; e += 32) q_s[e] = a.q[((u64)t * a.n_heads + h) * a.d + e];
    float m = -INFINITY, l = 0.0f, acc[MAX_DIM / 32] = {};

    for (u32 j0 = lo; j0 <= hi && lo <= last; j0 += KT) {
        __syncthreads();  // previous tile consumed (and q_s written, first time round)
        const u32 tile = min(KT, hi - j0 + 1);
        for (u32 e = threadIdx.x; e < tile * a.d; e += blockDim.x) {
            const u32 jj = e / a.d, dd = e % a.d;
            k_s[jj * (a.d + 1) + dd] = kv_at<T>(a, a.k_new, a.k_cache, j0 + jj, g, dd);
            v_s[jj * a.d + dd] = kv_at<T>(a, a.v_new, a.v_cache, j0 + jj, g, dd);
        }
        __syncthreads();
        if (!active) continue;
        const u32 j = j0 + lane;
        const bool valid = lane < tile && j <= i && j + a.window > i;
        float s = -INFINITY;
        if (valid) {
            float dot = 0.0f;
            const float* kr = k_s + lane * (a.d + 1);
            for (u32 e = 0; e < a.d; ++e) dot = fmaf(q_s[e], kr[e], dot);
            s = dot * a.scale;
        }
        const float m_new = fmaxf(m, warp_max(s));
        if (m_new == -INFINITY) continue;  // no key of this tile is in this query's window
        const float p = valid ? expf(s - m_new) : 0.0f;
        const float corr = expf(m - m_new);  // 0 on the first tile (m = -inf)
        l = l * corr + warp_sum(p);
#pragma unroll
        for (int c = 0; c < MAX_DIM / 32; ++c) acc[c] *= corr;
        m = m_new;
        for (u32 jj = 0; jj < tile; ++jj) {
            const float pj = __shfl_sync(0xffffffffu, p, jj);
            if (pj == 0.0f) continue;
#pragma unroll
            for (int c = 0; c < MAX_DIM / 32; ++c) {
                const u32 dd = lane + 32 * c;
                if (dd < a.d) acc[c] = fmaf(pj, v_s[jj * a.d + dd], acc[c]);
            }
        }
    }
    if (!active) return;
    const u64 pair = (u64)t * a.n_heads + h;
    if (a.splits == 1) {
#pragma unroll
        for (int c = 0; c < MAX_DIM / 32; ++c) {
            const u32 dd = lane + 32 * c;
            if (dd < a.d) a.out[pair * a.d + dd] = acc[c] / l;
        }
    } else {
        float* p = a.part + (pair * a.splits + split) * (a.d + 2);
        if (lane == 0) { p[0] = m; p[1] = l; }
#pragma unroll
        for (int c = 0; c < MAX_DIM / 32; ++c) {
            const u32 dd = lane + 32 * c;
            if (dd < a.d) p[2 + dd] = acc[c];
        }
    }
}

#define ATTN(SUFFIX, T) \
    extern "C" __global__ void attn_##SUFFIX(const AttnArgs a) { attn<T>(a); }
ATTN(f32, float)
ATTN(f16, f16)
ATTN(bf16, bf16)

// grid (n · n_heads), block ≥ d threads: out = Σ_c acc_c·e^(m_c − M) / Σ_c l_c·e^(m_c − M).
extern "C" __global__ void attn_combine_f32(const float* __restrict__ part, float* __restrict__ out, u32 d,
                                            u32 splits) {
    const u64 pair = blockIdx.x;
    const float* p = part + pair * splits * (d + 2);
    float big = -INFINITY;
    for (u32 c = 0; c < splits; ++c) big = fmaxf(big, p[c * (d + 2)]);
    float l = 0.0f;
    for (u32 c = 0; c < splits; ++c) l += p[c * (d + 2) + 1] * expf(p[c * (d + 2)] - big);
    for (u32 dd = threadIdx.x; dd < d; dd += blockDim.x) {
        float o = 0.0f;
        for (u32 c = 0; c < splits; ++c) o = fmaf(p[c * (d + 2) + 2 + dd], expf(p[c * (d + 2)] - big), o);
        out[pair * d + dd] = o / l;
    }
}
