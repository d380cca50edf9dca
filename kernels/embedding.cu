// Embedding gather, widened to f32. Token ids travel as a kernel parameter (no host-to-device copy,
// so a decode step stays free of synchronisation and capturable in a CUDA graph).
// Block-quantized tables (planar layout, kernels/quant.cuh) are dequantized exactly as the CPU
// does (F::elem); the host guarantees hidden % BLOCK == 0, so a row is whole blocks.
#include "quant.cuh"

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

// Every entry takes the table's row count `vocab` last (the block formats locate their meta plane
// with it; the float ones ignore it), so the host launches them all alike.
#define EMBEDDING(NAME, W) \
    extern "C" __global__ void NAME(const W* table, TokenChunk tok, float* out, u32 hidden, const u32* ids, u32) { \
        embedding<W>(table, tok, out, hidden, ids); }
EMBEDDING(embedding_f32, float)
EMBEDDING(embedding_f16, f16)
EMBEDDING(embedding_bf16, bf16)

// As `embedding`, from a planar block-quantized table of `vocab` rows.
template <typename F>
__device__ void qembedding(const u8* __restrict__ table, TokenChunk tok, float* __restrict__ out, u32 hidden,
                           const u32* __restrict__ ids, u32 vocab) {
    const u32 t = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= hidden) return;
    const u32 id = ids ? ids[t] : tok.ids[t];
    const u64 nb = hidden / F::BLOCK;
    out[(u64)t * hidden + i] = deq_elem<F>(table, (u64)vocab * nb, (u64)id * nb + i / F::BLOCK, i % F::BLOCK);
}

#define QEMBEDDING(SUFFIX, F) \
    extern "C" __global__ void embedding_##SUFFIX(const u8* table, TokenChunk tok, float* out, u32 hidden, \
                                                  const u32* ids, u32 vocab) { \
        qembedding<F>(table, tok, out, hidden, ids, vocab); }
FOR_EACH_QUANT(QEMBEDDING)
