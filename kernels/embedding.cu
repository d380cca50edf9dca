// Embedding gather, widened to f32. Token ids travel as a kernel parameter (no host-to-device copy,
// so a decode step stays free of synchronisation and capturable in a CUDA graph).
#include "common.cuh"

#define EMBED_MAX_TOKENS 64
struct TokenChunk { u32 ids[EMBED_MAX_TOKENS]; };

// grid (ceil(hidden / blockDim.x), tokens): out[t, i] = table[ids[t], i] for t < count.
template <typename W>
__device__ void embedding(const W* __restrict__ table, TokenChunk tok, float* __restrict__ out, u32 hidden) {
    const u32 t = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= hidden) return;
    out[(u64)t * hidden + i] = to_f32(table[(u64)tok.ids[t] * hidden + i]);
}

#define EMBEDDING(NAME, W) \
    extern "C" __global__ void NAME(const W* table, TokenChunk tok, float* out, u32 hidden) { \
        embedding<W>(table, tok, out, hidden); }
EMBEDDING(embedding_f32, float)
EMBEDDING(embedding_f16, f16)
EMBEDDING(embedding_bf16, bf16)
