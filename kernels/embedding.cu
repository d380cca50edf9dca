// Embedding gather, widened to f32. Token ids travel as a kernel parameter (no host-to-device copy,
// so a decode step stays free of synchronisation and capturable in a CUDA graph).
#include "common.cuh"

#define EMBED_MAX_TOKENS 64
struct TokenChunk { u32 ids[EMBED_MAX_TOKENS]; };

// grid (ceil(hidden / blockDim.x), tokens): out[t, i] = table[id(t), i], id(t) = tok.ids[t], or
// ids[t] when given (a decode step replayed as a CUDA graph reads its token from device memory).
template <typename W>
__device__ void embedding(const W* __restrict__ table, TokenChunk tok, float* __restrict__ out, u32 hidden,
                          const u32* __restrict__ ids) {
    const u32 t = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= hidden) return;
    const u32 id = ids ? ids[t] : tok.ids[t];
    out[(u64)t * hidden + i] = to_f32(table[(u64)id * hidden + i]);
}

#define EMBEDDING(NAME, W) \
    extern "C" __global__ void NAME(const W* table, TokenChunk tok, float* out, u32 hidden, const u32* ids) { \
        embedding<W>(table, tok, out, hidden, ids); }
EMBEDDING(embedding_f32, float)
EMBEDDING(embedding_f16, f16)
EMBEDDING(embedding_bf16, bf16)
