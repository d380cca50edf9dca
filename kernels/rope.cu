// Rotary position embedding, Hugging Face rotate_half layout, in place on [rows, heads, head_dim].
// inv_freq comes from the host (computed exactly as the CPU reference does), so the only GPU-side
// rounding is f32(pos) * inv_freq and the accurate (non-fast-math) cosf/sinf.
#include "common.cuh"

// grid (rows), block threads stride over heads * half pairs. The first position is `start_pos`,
// or `*pos_ptr` when given (a decode step replayed as a CUDA graph reads it from device memory).
extern "C" __global__ void rope_f32(float* __restrict__ x, const float* __restrict__ inv_freq, u32 heads,
                                    u32 head_dim, u32 start_pos, const u32* __restrict__ pos_ptr) {
    const u32 r = blockIdx.x, half = head_dim / 2;
    const float pos = (float)((pos_ptr ? *pos_ptr : start_pos) + r);
    float* row = x + (u64)r * heads * head_dim;
    for (u32 p = threadIdx.x; p < heads * half; p += blockDim.x) {
        const u32 h = p / half, i = p % half;
        const float angle = pos * inv_freq[i];
        const float c = cosf(angle), s = sinf(angle);
        float* v = row + h * head_dim;
        const float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c - x2 * s;
        v[i + half] = x2 * c + x1 * s;
    }
}
