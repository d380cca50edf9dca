// CPU twins of the PTX instructions the kernels use (kernels/common.cuh, "Hardware primitives"),
// each written from the PTX ISA's definition: warp shuffles, ldmatrix (plain and .trans),
// mma.m16n8k16 with tensor-core rounding, and the f16/bf16 conversions of cvt.rn.
#include <climits>
#include <cmath>
#include <cstring>

#include "scheduler.h"

namespace emu {
namespace {

u32 half_at(const void* row, int elem) {
    u16 h;
    memcpy(&h, (const char*)row + 2 * elem, 2);
    return h;
}

// The accumulation of one mma step as tensor cores do it (Fasi, Higham, Mikaitis, Pranesh 2021,
// "Numerical behavior of NVIDIA tensor cores"): products of 16-bit values are exact; the addends
// (the accumulator and a block of products) are aligned to the largest of them and truncated to
// its 24-bit significand, summed, and the sum is truncated to f32 (round toward zero). Modelled
// pessimistically (no guard bits, blocks of 8 products), so an accuracy bound that holds here
// does not depend on a GPU rounding more kindly than round-to-nearest would.
float tensor_core_sum(const double* t, int n) {
    int emax = INT_MIN;
    for (int i = 0; i < n; ++i)
        if (t[i] != 0.0) {
            int e;
            frexp(t[i], &e);
            emax = e > emax ? e : emax;
        }
    if (emax == INT_MIN) return 0.0f;
    const double quantum = ldexp(1.0, emax - 24);
    double sum = 0.0;  // exact: at most 9 multiples of quantum below 2^(emax+4)
    for (int i = 0; i < n; ++i) sum += trunc(t[i] / quantum) * quantum;
    float r = (float)sum;
    if (fabs((double)r) > fabs(sum)) r = nextafterf(r, 0.0f);  // round toward zero
    return r;
}

float mma_elem(u32 bits16, MmaType t) {
    return t == MmaType::bf16 ? __uint_as_float(bits16 << 16) : f16_to_f32((u16)bits16);
}

}  // namespace

u32 shfl(u32 mask, u32 v, int lane_or_xor, bool is_xor, int width) {
    if (mask != 0xffffffffu) fail("shuffle with a partial mask (the kernels use full warps only)");
    if (width != 32) fail("shuffle width other than 32");
    const u32 in[3] = {v, (u32)lane_or_xor, is_xor ? 1u : 0u};
    return collective(SHFL, in, 3, [](u32 (*i)[MAX_IN], u32 (*o)[MAX_OUT]) {
        for (int l = 0; l < 32; ++l) {
            // Source lane as __shfl_sync / __shfl_xor_sync compute it for width 32: the low 5 bits.
            const int src = (i[l][2] ? (l ^ (int)i[l][1]) : (int)i[l][1]) & 31;
            o[l][0] = i[src][0];
        }
    })[0];
}

void ldmatrix_x4(u32 r[4], const void* smem, bool trans) {
    if ((uintptr_t)smem % 16) fail("ldmatrix row address not 16-byte aligned");
    const uintptr_t a = (uintptr_t)smem;
    const u32 in[3] = {(u32)a, (u32)(a >> 32), trans ? 1u : 0u};
    const u32* o = collective(LDMATRIX, in, 3, [](u32 (*i)[MAX_IN], u32 (*out)[MAX_OUT]) {
        auto row = [&](int lane) { return (const void*)((uintptr_t)i[lane][0] | ((uintptr_t)i[lane][1] << 32)); };
        // Matrix m's 8 rows come from lanes 8m..8m+7; lane l receives, of each matrix, the pair at
        // (row l/4, cols 2(l%4), 2(l%4)+1), or with .trans the pair at (rows 2(l%4), 2(l%4)+1, col l/4).
        for (int l = 0; l < 32; ++l)
            for (int m = 0; m < 4; ++m) {
                u32 lo, hi;
                if (!i[l][2]) {
                    lo = half_at(row(8 * m + l / 4), 2 * (l % 4));
                    hi = half_at(row(8 * m + l / 4), 2 * (l % 4) + 1);
                } else {
                    lo = half_at(row(8 * m + 2 * (l % 4)), l / 4);
                    hi = half_at(row(8 * m + 2 * (l % 4) + 1), l / 4);
                }
                out[l][m] = lo | (hi << 16);
            }
    });
    memcpy(r, o, 16);
}

void mma_m16n8k16(float d[4], const u32 a[4], u32 b0, u32 b1, MmaType type) {
    u32 in[11];
    memcpy(in, a, 16);
    in[4] = b0;
    in[5] = b1;
    memcpy(in + 6, d, 16);
    in[10] = (u32)type;
    const u32* o = collective(MMA, in, 11, [](u32 (*i)[MAX_IN], u32 (*out)[MAX_OUT]) {
        for (int l = 1; l < 32; ++l)
            if (i[l][10] != i[0][10]) fail("mma lanes disagree on the element type");
        const MmaType t = (MmaType)i[0][10];
        // Fragment layouts of mma.m16n8k16 (PTX ISA), g = lane / 4, c = lane % 4:
        //   A (16x16, row): a0 = A[g][2c..2c+1], a1 = A[g+8][2c..], a2 = A[g][2c+8..], a3 = A[g+8][2c+8..]
        //   B (16x8, col):  b0 = B[2c..2c+1][g], b1 = B[2c+8..2c+9][g]
        //   C/D (16x8):     c0,c1 = C[g][2c..2c+1], c2,c3 = C[g+8][2c..2c+1]
        float A[16][16], B[16][8], C[16][8];
        for (int l = 0; l < 32; ++l) {
            const int g = l / 4, c = l % 4;
            for (int e = 0; e < 2; ++e) {
                auto h = [&](u32 w) { return mma_elem(e ? w >> 16 : w & 0xffff, t); };
                A[g][2 * c + e] = h(i[l][0]);
                A[g + 8][2 * c + e] = h(i[l][1]);
                A[g][2 * c + 8 + e] = h(i[l][2]);
                A[g + 8][2 * c + 8 + e] = h(i[l][3]);
                B[2 * c + e][g] = h(i[l][4]);
                B[2 * c + 8 + e][g] = h(i[l][5]);
                C[g][2 * c + e] = __uint_as_float(i[l][6 + e]);
                C[g + 8][2 * c + e] = __uint_as_float(i[l][8 + e]);
            }
        }
        for (int l = 0; l < 32; ++l) {
            const int g = l / 4, c = l % 4;
            for (int e = 0; e < 4; ++e) {
                const int row = g + (e >> 1) * 8, col = 2 * c + (e & 1);
                float acc = C[row][col];
                for (int k0 = 0; k0 < 16; k0 += 8) {
                    double terms[9] = {acc};
                    for (int k = 0; k < 8; ++k) terms[1 + k] = (double)A[row][k0 + k] * (double)B[k0 + k][col];
                    acc = tensor_core_sum(terms, 9);
                }
                out[l][e] = __float_as_uint(acc);
            }
        }
    });
    memcpy(d, o, 16);
}

// IEEE binary16 conversions in integer code (no _Float16: older compilers lack it in C++).
float f16_to_f32(u16 h) {
    const u32 sign = (u32)(h & 0x8000) << 16, exp = (h >> 10) & 31, mant = h & 0x3ff;
    if (exp == 0) {  // zero or subnormal: mant · 2^-24, exact in f32
        const float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31) return __uint_as_float(sign | 0x7f800000u | (mant << 13));  // inf, NaN
    return __uint_as_float(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}
// Round to nearest even, overflow to infinity, NaN to PTX's canonical 0x7fff.
u16 f32_to_f16(float f) {
    u32 x = __float_as_uint(f);
    const u32 sign = (x >> 16) & 0x8000;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return 0x7fff;
    if (x >= 0x477ff000u) return (u16)(sign | 0x7c00);  // >= 65520 rounds to infinity
    if (x >= 0x38800000u) {                              // normal f16 (>= 2^-14)
        u32 h = ((((x >> 23) - 127 + 15) << 10) | ((x & 0x7fffff) >> 13));
        const u32 rem = x & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // a carry moves into the exponent
        return (u16)(sign | h);
    }
    if (x < 0x33000000u) return (u16)sign;  // below 2^-25: rounds to zero (2^-25 ties to even 0)
    const u32 mant = (x & 0x7fffff) | 0x800000;
    const int shift = -((int)(x >> 23) - 127 + 1);  // subnormal unit 2^-24: 14..24
    u32 h = mant >> shift;
    const u32 rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) ++h;
    return (u16)(sign | h);
}
u16 f32_to_bf16(float f) {
    u32 b = __float_as_uint(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN: PTX's canonical bf16 NaN
    b += 0x7fffu + ((b >> 16) & 1);                       // round to nearest even
    return (u16)(b >> 16);
}

}  // namespace emu
