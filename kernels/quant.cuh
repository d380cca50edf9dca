// GGML block formats read from the planar layout (crates/mistral-core/src/quant/planar.rs):
//   [payload plane: nb × P bytes][meta plane: nb × M bytes], blocks in row-major order,
// each block's payload 16-byte aligned. Inside a payload and a meta every byte keeps its GGML
// meaning (the per-format files under crates/mistral-core/src/quant/ document them).
//
// One tag struct per format, each with
//   BLOCK, P, M     weights per block, payload and meta bytes per block;
//   UNITS, LOADS    a block's payload splits into UNITS work units of LOADS 16-byte loads each;
//   load_off(u, i)  byte offset, inside the block's payload, of unit u's i-th load;
//   dot(v, md, u, xb)  Σ x·w over unit u's weights: v holds its LOADS loads, md the block's meta,
//                   xb the block's BLOCK activations. Per sub-block `scale·Σ x·q (− min·Σ x)` in
//                   f32: the CPU's Σ x·(d·q) up to rounding order;
//   elem(q, md, e)  weight e of the block, bit for bit what the CPU's dequantizer computes (each
//                   product before the last is exact in f32: see quant/mod.rs);
//   load8(q, e, raw)  the one or two 8-byte payload words holding weights e..e+8 (e % 8 == 0);
//   levels8(raw, md, e, lv)  their integer levels as f32, exact in bf16 (|level| <= 128), such
//                   that w = scale·level + min (split from load8 so the loads can be issued before
//                   other work and decoded after it);
//   step(md, e, scale, min)  that scale and min for the 16 weights from e (e % 16 == 0), which
//                   always lie in one sub-block (sub-blocks are 16 or 32 weights).
#pragma once
#include "common.cuh"

typedef unsigned char u8;

// Little-endian f16 at a 2-byte aligned meta address.
__device__ __forceinline__ float meta_f16(const u8* p) { return f16_bits_to_f32(*reinterpret_cast<const u16*>(p)); }
// Byte i (0..16) of a 16-byte load.
__device__ __forceinline__ u32 byte_of(const uint4& v, int i) {
    const u32 w = (i < 4) ? v.x : (i < 8) ? v.y : (i < 12) ? v.z : v.w;
    return (w >> (8 * (i & 3))) & 0xffu;
}
// Byte i (0..8) of an 8-byte load.
__device__ __forceinline__ u32 byte8(const uint2& v, int i) { return ((i < 4 ? v.x : v.y) >> (8 * (i & 3))) & 0xffu; }
// The low (hi = false) or high nibble of a byte.
__device__ __forceinline__ u32 nibble(u32 b, bool hi) { return hi ? b >> 4 : b & 0xf; }
// Q4_K/Q5_K `get_scale_min_k4`: sub-block j's 6-bit scale and min from the 12 packed bytes.
__device__ __forceinline__ void scale_min_k4(int j, const u8* q, float& sc, float& mn) {
    if (j < 4) {
        sc = (float)(q[j] & 63);
        mn = (float)(q[j + 4] & 63);
    } else {
        sc = (float)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        mn = (float)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Q8_0: payload qs[32] (i8), meta d. Unit u: weights 16u..16u+16.
struct FmtQ8_0 {
    enum { BLOCK = 32, P = 32, M = 2, UNITS = 2, LOADS = 1 };
    static __device__ __forceinline__ u32 load_off(u32 u, int) { return 16 * u; }
    static __device__ __forceinline__ float dot(const uint4* v, const u8* md, u32 u, const float* xb) {
        const float* x = xb + 16 * u;
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 16; ++i) s = fmaf(x[i], (float)(signed char)byte_of(v[0], i), s);
        return meta_f16(md) * s;
    }
    static __device__ __forceinline__ float elem(const u8* q, const u8* md, u32 e) {
        return (float)(signed char)q[e] * meta_f16(md);
    }
    static __device__ __forceinline__ void load8(const u8* q, u32 e, uint2 raw[2]) {
        raw[0] = *reinterpret_cast<const uint2*>(q + e);
    }
    static __device__ __forceinline__ void levels8(const uint2 raw[2], const u8*, u32 e, float lv[8]) {
        const uint2 v = raw[0];
#pragma unroll
        for (int j = 0; j < 8; ++j) lv[j] = (float)(signed char)byte8(v, j);
    }
    static __device__ __forceinline__ void step(const u8* md, u32, float& scale, float& min) {
        scale = meta_f16(md);
        min = 0.0f;
    }
};

// Q4_0 / Q4_1 / Q5_0: payload qs[16], byte i holds weight i (low nibble) and i + 16 (high).
// Q4_0 meta d: w = d·(q − 8). Q4_1 meta d, m: w = d·q + m. Q5_0 meta d, qh (bit j: fifth bit of
// weight j): w = d·(q − 16).
struct FmtQ4_0 {
    enum { BLOCK = 32, P = 16, M = 2, UNITS = 1, LOADS = 1 };
    static __device__ __forceinline__ u32 load_off(u32, int) { return 0; }
    static __device__ __forceinline__ float dot(const uint4* v, const u8* md, u32, const float* x) {
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const u32 b = byte_of(v[0], i);
            s = fmaf(x[i], (float)((int)(b & 0xf) - 8), s);
            s = fmaf(x[i + 16], (float)((int)(b >> 4) - 8), s);
        }
        return meta_f16(md) * s;
    }
    static __device__ __forceinline__ float elem(const u8* q, const u8* md, u32 e) {
        const u32 b = q[e & 15];
        return (float)((int)(e < 16 ? b & 0xf : b >> 4) - 8) * meta_f16(md);
    }
    static __device__ __forceinline__ void load8(const u8* q, u32 e, uint2 raw[2]) {
        raw[0] = *reinterpret_cast<const uint2*>(q + (e & 15));
    }
    static __device__ __forceinline__ void levels8(const uint2 raw[2], const u8*, u32 e, float lv[8]) {
        const uint2 v = raw[0];
#pragma unroll
        for (int j = 0; j < 8; ++j) lv[j] = (float)((int)nibble(byte8(v, j), e >= 16) - 8);
    }
    static __device__ __forceinline__ void step(const u8* md, u32, float& scale, float& min) {
        scale = meta_f16(md);
        min = 0.0f;
    }
};

struct FmtQ4_1 {
    enum { BLOCK = 32, P = 16, M = 4, UNITS = 1, LOADS = 1 };
    static __device__ __forceinline__ u32 load_off(u32, int) { return 0; }
    static __device__ __forceinline__ float dot(const uint4* v, const u8* md, u32, const float* x) {
        float s = 0.0f, sx = 0.0f;
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const u32 b = byte_of(v[0], i);
            s = fmaf(x[i], (float)(b & 0xf), s);
            s = fmaf(x[i + 16], (float)(b >> 4), s);
            sx += x[i] + x[i + 16];
        }
        return meta_f16(md) * s + meta_f16(md + 2) * sx;
    }
    static __device__ __forceinline__ float elem(const u8* q, const u8* md, u32 e) {
        const u32 b = q[e & 15];
        return (float)(e < 16 ? b & 0xf : b >> 4) * meta_f16(md) + meta_f16(md + 2);
    }
    static __device__ __forceinline__ void load8(const u8* q, u32 e, uint2 raw[2]) {
        raw[0] = *reinterpret_cast<const uint2*>(q + (e & 15));
    }
    static __device__ __forceinline__ void levels8(const uint2 raw[2], const u8*, u32 e, float lv[8]) {
        const uint2 v = raw[0];
#pragma unroll
        for (int j = 0; j < 8; ++j) lv[j] = (float)nibble(byte8(v, j), e >= 16);
    }
    static __device__ __forceinline__ void step(const u8* md, u32, float& scale, float& min) {
        scale = meta_f16(md);
        min = meta_f16(md + 2);
    }
};

struct FmtQ5_0 {
    enum { BLOCK = 32, P = 16, M = 6, UNITS = 1, LOADS = 1 };
    static __device__ __forceinline__ u32 qh(const u8* md) {
        const u16* h = reinterpret_cast<const u16*>(md + 2);  // 2-byte aligned (M = 6)
        return (u32)h[0] | ((u32)h[1] << 16);
    }
    static __device__ __forceinline__ u32 load_off(u32, int) { return 0; }
    static __device__ __forceinline__ float dot(const uint4* v, const u8* md, u32, const float* x) {
        const u32 h = qh(md);
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const u32 b = byte_of(v[0], i);
            const int lo = (int)((b & 0xf) | (((h >> i) & 1) << 4)) - 16;
            const int hi = (int)((b >> 4) | (((h >> (i + 16)) & 1) << 4)) - 16;
            s = fmaf(x[i], (float)lo, s);
            s = fmaf(x[i + 16], (float)hi, s);
        }
        return meta_f16(md) * s;
    }
    static __device__ __forceinline__ float elem(const u8* q, const u8* md, u32 e) {
        const u32 b = q[e & 15];
        const u32 v = (e < 16 ? b & 0xf : b >> 4) | (((qh(md) >> e) & 1) << 4);
        return (float)((int)v - 16) * meta_f16(md);
    }
    static __device__ __forceinline__ void load8(const u8* q, u32 e, uint2 raw[2]) {
        raw[0] = *reinterpret_cast<const uint2*>(q + (e & 15));
    }
    static __device__ __forceinline__ void levels8(const uint2 raw[2], const u8* md, u32 e, float lv[8]) {
        const uint2 v = raw[0];
        const u32 h = qh(md) >> e;
#pragma unroll
        for (int j = 0; j < 8; ++j) lv[j] = (float)((int)(nibble(byte8(v, j), e >= 16) | (((h >> j) & 1) << 4)) - 16);
    }
    static __device__ __forceinline__ void step(const u8* md, u32, float& scale, float& min) {
        scale = meta_f16(md);
        min = 0.0f;
    }
};

// Q4_K: payload qs[128], meta d, dmin, scales[12]. qs[32c + i] holds weight 64c + i (low nibble,
// sub-block 2c) and 64c + 32 + i (high nibble, sub-block 2c + 1). Unit u (one load): c = u / 2,
// i in 16(u % 2) .. +16, i.e. 16 weights of each of two sub-blocks. w = (d·sc)·q − dmin·m.
struct FmtQ4_K {
    enum { BLOCK = 256, P = 128, M = 16, UNITS = 8, LOADS = 1 };
    static __device__ __forceinline__ u32 load_off(u32 u, int) { return 16 * u; }
    static __device__ __forceinline__ float dot(const uint4* v, const u8* md, u32 u, const float* xb) {
        const u32 c = u >> 1;
        const float* x = xb + 64 * c + 16 * (u & 1);
        float s1 = 0.0f, s2 = 0.0f, x1 = 0.0f, x2 = 0.0f;
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const u32 b = byte_of(v[0], i);
            s1 = fmaf(x[i], (float)(b & 0xf), s1);
            s2 = fmaf(x[i + 32], (float)(b >> 4), s2);
            x1 += x[i];
            x2 += x[i + 32];
        }
        const float d = meta_f16(md), dmin = meta_f16(md + 2);
        float sc1, m1, sc2, m2;
        scale_min_k4(2 * c, md + 4, sc1, m1);
        scale_min_k4(2 * c + 1, md + 4, sc2, m2);
        return (d * sc1) * s1 - (dmin * m1) * x1 + (d * sc2) * s2 - (dmin * m2) * x2;
    }
    static __device__ __forceinline__ float elem(const u8* q, const u8* md, u32 e) {
        const u32 sb = e >> 5, c = e >> 6, i = e & 31;
        float sc, mn;
        scale_min_k4(sb, md + 4, sc, mn);
        const u32 b = q[32 * c + i];
        const float d1 = meta_f16(md) * sc, m1 = meta_f16(md + 2) * mn;
        return d1 * (float)((sb & 1) ? b >> 4 : b & 0xf) - m1;
    }
    static __device__ __forceinline__ void load8(const u8* q, u32 e, uint2 raw[2]) {
        raw[0] = *reinterpret_cast<const uint2*>(q + 32 * (e >> 6) + (e & 31));
    }
    static __device__ __forceinline__ void levels8(const uint2 raw[2], const u8*, u32 e, float lv[8]) {
        const uint2 v = raw[0];
#pragma unroll
        for (int j = 0; j < 8; ++j) lv[j] = (float)nibble(byte8(v, j), (e >> 5) & 1);
    }
    static __device__ __forceinline__ void step(const u8* md, u32 e, float& scale, float& min) {
        float sc, mn;
        scale_min_k4(e >> 5, md + 4, sc, mn);
        scale = meta_f16(md) * sc;
        min = -(meta_f16(md + 2) * mn);
    }
};

// Q5_K: payload qh[32] then qs[128] (as Q4_K's), meta as Q4_K. Bit s of qh[i] is the fifth bit
// of weight 32s + i. Unit h (five loads): qh[16h..16h+16] and the four qs chunks that use it
// (c = 0..4: qs[32c + 16h ..]), i.e. weights 64c + 16h + i and 64c + 32 + 16h + i.
struct FmtQ5_K {
    enum { BLOCK = 256, P = 160, M = 16, UNITS = 2, LOADS = 5 };
    static __device__ __forceinline__ u32 load_off(u32 h, int i) {
        return i == 0 ? 16 * h : 32 + 32 * (i - 1) + 16 * h;
    }
    static __device__ __forceinline__ float dot(const uint4* v, const u8* md, u32 h, const float* xb) {
        const float d = meta_f16(md), dmin = meta_f16(md + 2);
        float acc = 0.0f;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            const float* x = xb + 64 * c + 16 * h;
            float s1 = 0.0f, s2 = 0.0f, x1 = 0.0f, x2 = 0.0f;
#pragma unroll
            for (int i = 0; i < 16; ++i) {
                const u32 b = byte_of(v[1 + c], i), hb = byte_of(v[0], i);
                s1 = fmaf(x[i], (float)((b & 0xf) | (((hb >> (2 * c)) & 1) << 4)), s1);
                s2 = fmaf(x[i + 32], (float)((b >> 4) | (((hb >> (2 * c + 1)) & 1) << 4)), s2);
                x1 += x[i];
                x2 += x[i + 32];
            }
            float sc1, m1, sc2, m2;
            scale_min_k4(2 * c, md + 4, sc1, m1);
            scale_min_k4(2 * c + 1, md + 4, sc2, m2);
            acc += (d * sc1) * s1 - (dmin * m1) * x1 + (d * sc2) * s2 - (dmin * m2) * x2;
        }
        return acc;
    }
    static __device__ __forceinline__ float elem(const u8* q, const u8* md, u32 e) {
        const u32 sb = e >> 5, c = e >> 6, i = e & 31;
        float sc, mn;
        scale_min_k4(sb, md + 4, sc, mn);
        const u32 b = q[32 + 32 * c + i];
        const u32 v = ((sb & 1) ? b >> 4 : b & 0xf) | (((q[i] >> sb) & 1) << 4);
        const float d1 = meta_f16(md) * sc, m1 = meta_f16(md + 2) * mn;
        return d1 * (float)v - m1;
    }
    static __device__ __forceinline__ void load8(const u8* q, u32 e, uint2 raw[2]) {
        raw[0] = *reinterpret_cast<const uint2*>(q + 32 + 32 * (e >> 6) + (e & 31));
        raw[1] = *reinterpret_cast<const uint2*>(q + (e & 31));
    }
    static __device__ __forceinline__ void levels8(const uint2 raw[2], const u8*, u32 e, float lv[8]) {
        const uint2 v = raw[0];
        const uint2 h = raw[1];
        const u32 sb = e >> 5;
#pragma unroll
        for (int j = 0; j < 8; ++j)
            lv[j] = (float)(nibble(byte8(v, j), sb & 1) | (((byte8(h, j) >> sb) & 1) << 4));
    }
    static __device__ __forceinline__ void step(const u8* md, u32 e, float& scale, float& min) {
        float sc, mn;
        scale_min_k4(e >> 5, md + 4, sc, mn);
        scale = meta_f16(md) * sc;
        min = -(meta_f16(md + 2) * mn);
    }
};

// Q6_K: payload ql[128], qh[64]; meta scales[16] (i8), d. Half h (weights 128h..128h+128), l in
// 0..32: ql[64h + l] low/high nibble -> weights 128h + l / + 64; ql[64h + 32 + l] -> + 32 / + 96;
// qh[32h + l] bit pairs 0, 2, 4, 6 -> + 0, + 32, + 64, + 96. Sub-block of weight 128h + 32k + l
// is 8h + 2k + l / 16. Unit u (three loads): h = u / 2, l in 16(u % 2)..+16: 64 weights of four
// sub-blocks. w = (d·sc)·(q − 32).
struct FmtQ6_K {
    enum { BLOCK = 256, P = 192, M = 18, UNITS = 4, LOADS = 3 };
    static __device__ __forceinline__ u32 load_off(u32 u, int i) {
        const u32 h = u >> 1, l0 = 16 * (u & 1);
        return i == 0 ? 64 * h + l0 : i == 1 ? 64 * h + 32 + l0 : 128 + 32 * h + l0;
    }
    static __device__ __forceinline__ float dot(const uint4* v, const u8* md, u32 u, const float* xb) {
        const u32 h = u >> 1, l0 = 16 * (u & 1);
        const float* x = xb + 128 * h + l0;
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const u32 a = byte_of(v[0], i), b = byte_of(v[1], i), hb = byte_of(v[2], i);
            s[0] = fmaf(x[i], (float)((int)((a & 0xf) | ((hb & 3) << 4)) - 32), s[0]);
            s[1] = fmaf(x[i + 32], (float)((int)((b & 0xf) | (((hb >> 2) & 3) << 4)) - 32), s[1]);
            s[2] = fmaf(x[i + 64], (float)((int)((a >> 4) | (((hb >> 4) & 3) << 4)) - 32), s[2]);
            s[3] = fmaf(x[i + 96], (float)((int)((b >> 4) | (((hb >> 6) & 3) << 4)) - 32), s[3]);
        }
        const float d = meta_f16(md + 16);
        const signed char* sc = reinterpret_cast<const signed char*>(md) + 8 * h + (u & 1);
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < 4; ++k) acc += (d * (float)sc[2 * k]) * s[k];
        return acc;
    }
    static __device__ __forceinline__ float elem(const u8* q, const u8* md, u32 e) {
        const u32 h = e >> 7, k = (e >> 5) & 3, l = e & 31;
        const u32 b = q[64 * h + l + 32 * (k & 1)];
        const u32 lo = (k >= 2) ? b >> 4 : b & 0xf;
        const u32 hi = (q[128 + 32 * h + l] >> (2 * k)) & 3;
        const float sc = (float)reinterpret_cast<const signed char*>(md)[8 * h + l / 16 + 2 * k];
        return meta_f16(md + 16) * sc * (float)((int)(lo | (hi << 4)) - 32);
    }
    static __device__ __forceinline__ void load8(const u8* q, u32 e, uint2 raw[2]) {
        const u32 h = e >> 7, k = (e >> 5) & 3, l = e & 31;
        raw[0] = *reinterpret_cast<const uint2*>(q + 64 * h + l + 32 * (k & 1));
        raw[1] = *reinterpret_cast<const uint2*>(q + 128 + 32 * h + l);
    }
    static __device__ __forceinline__ void levels8(const uint2 raw[2], const u8*, u32 e, float lv[8]) {
        const u32 k = (e >> 5) & 3;
        const uint2 v = raw[0];
        const uint2 hb = raw[1];
#pragma unroll
        for (int j = 0; j < 8; ++j)
            lv[j] = (float)((int)(nibble(byte8(v, j), k >= 2) | (((byte8(hb, j) >> (2 * k)) & 3) << 4)) - 32);
    }
    static __device__ __forceinline__ void step(const u8* md, u32 e, float& scale, float& min) {
        const u32 h = e >> 7, k = (e >> 5) & 3, l = e & 31;
        scale = meta_f16(md + 16) * (float)reinterpret_cast<const signed char*>(md)[8 * h + l / 16 + 2 * k];
        min = 0.0f;
    }
};

// Weight e of block b of a planar tensor of nb blocks.
template <typename F>
__device__ __forceinline__ float deq_elem(const u8* __restrict__ w, u64 nb, u64 b, u32 e) {
    return F::elem(w + b * F::P, w + nb * F::P + b * F::M, e);
}

// Every format, for the entry-point macros: SUFFIX and tag.
#define FOR_EACH_QUANT(X) \
    X(q8_0, FmtQ8_0)      \
    X(q4_0, FmtQ4_0)      \
    X(q4_1, FmtQ4_1)      \
    X(q5_0, FmtQ5_0)      \
    X(q4_k, FmtQ4_K)      \
    X(q5_k, FmtQ5_K)      \
    X(q6_k, FmtQ6_K)
