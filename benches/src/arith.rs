//! Counting before tuning: the bytes each op must move and the FLOPs it must do, per op and per
//! token, from the model config. Every benchmark figure is reported against these.

use mistral_core::ops::{AttentionParams, MatmulParams};
use mistral_core::DType;
use mistral_model::MistralConfig;

/// Parameters of the whole model (embedding and lm_head included).
pub fn parameters(c: &MistralConfig) -> u64 {
    let (h, f, v) = (
        c.hidden_size as u64,
        c.intermediate_size as u64,
        c.vocab_size as u64,
    );
    let (q, kv) = (c.q_dim() as u64, c.kv_dim() as u64);
    let layer = 2 * h + h * q + 2 * h * kv + q * h + 3 * h * f;
    let head = if c.tie_word_embeddings { 0 } else { v * h };
    v * h + c.num_hidden_layers as u64 * layer + h + head
}

/// Weight bytes a decode step must read: every weight except the embedding table, of which only
/// one row is gathered (a row is counted; it is negligible).
pub fn decode_weight_bytes(c: &MistralConfig, dtype: DType) -> u64 {
    let embed = (c.vocab_size * c.hidden_size) as u64;
    let tied_head = if c.tie_word_embeddings { embed } else { 0 };
    ((parameters(c) - embed + tied_head + c.hidden_size as u64) as f64 * dtype.bits_per_weight()
        / 8.0) as u64
}

/// [`decode_weight_bytes`] for a model whose tensors have their own types (a quantization
/// mixture): `dtype_of(name, shape)` for each Hugging Face tensor name.
pub fn decode_weight_bytes_by(
    c: &MistralConfig,
    dtype_of: &dyn Fn(&str, &[usize]) -> DType,
) -> u64 {
    let bytes = |n: usize, d: DType| n as f64 * d.bits_per_weight() / 8.0;
    let mut total = 0.0;
    for (name, shape) in mistral_model::weights::expected_tensors(c) {
        let d = dtype_of(&name, &shape);
        let n: usize = shape.iter().product();
        if name == "model.embed_tokens.weight" {
            // One row is gathered; a tied lm_head reads the whole table.
            total += bytes(c.hidden_size, d);
            if c.tie_word_embeddings {
                total += bytes(n, d);
            }
        } else {
            total += bytes(n, d);
        }
    }
    total as u64
}

/// KV-cache bytes a decode step reads at context `ctx` (f32 cache, window-limited), all layers.
pub fn decode_kv_bytes(c: &MistralConfig, ctx: usize) -> u64 {
    let keys = ctx.min(c.window().unwrap_or(usize::MAX)) as u64;
    2 * keys * c.kv_dim() as u64 * 4 * c.num_hidden_layers as u64
}

/// Bytes a GEMV `[n, k]` must move: the weight once, the input and output vectors in f32.
pub fn gemv_bytes(n: usize, k: usize, dtype: DType) -> u64 {
    ((n * k) as f64 * dtype.bits_per_weight() / 8.0) as u64 + 4 * (n + k) as u64
}

/// Matmul FLOPs, a multiply and an add per term.
pub fn matmul_flops(m: usize, n: usize, k: usize) -> u64 {
    MatmulParams::new(m, n, k).flops()
}

/// Attention FLOPs counting only in-window query-key pairs (QKᵀ and PV: 4·head_dim per pair).
pub fn attention_flops(seq: usize, window: usize, heads: usize, head_dim: usize) -> u64 {
    // A prompt from position 0: the pairs are the op's own count (query heads included).
    let p = AttentionParams {
        n: seq,
        start_pos: 0,
        n_heads: heads,
        n_kv_heads: heads,
        head_dim,
        window,
        slots: window,
    };
    4 * head_dim as u64 * p.pairs()
}

/// Bytes a decode attention step must read for one layer: K and V of the visible keys (f32), q and out.
pub fn decode_attention_bytes(keys: usize, kv_heads: usize, heads: usize, head_dim: usize) -> u64 {
    (2 * keys * kv_heads * head_dim * 4 + 2 * heads * head_dim * 4) as u64
}

/// Prefill FLOPs of the whole model for a prompt of `seq` tokens (matmuls + in-window attention).
pub fn prefill_flops(c: &MistralConfig, seq: usize) -> u64 {
    let (h, f, q, kv) = (c.hidden_size, c.intermediate_size, c.q_dim(), c.kv_dim());
    let per_layer = matmul_flops(seq, q + 2 * kv, h)
        + matmul_flops(seq, h, q)
        + matmul_flops(seq, 2 * f, h)
        + matmul_flops(seq, h, f)
        + attention_flops(
            seq,
            c.window().unwrap_or(usize::MAX),
            c.num_attention_heads,
            c.head_dim(),
        );
    per_layer * c.num_hidden_layers as u64 + matmul_flops(1, c.vocab_size, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> MistralConfig {
        let text = include_str!("../../tests/data/mistral-7b-config.json");
        MistralConfig::from_json(text).unwrap()
    }

    #[test]
    fn mistral_7b_has_7_24_billion_parameters() {
        // 7,241,732,096 is the published count (HF model card: 7.24B).
        assert_eq!(parameters(&real()), 7_241_732_096);
    }

    #[test]
    fn typed_decode_bytes_agree_with_the_uniform_count() {
        for d in [DType::BF16, DType::Q8_0, DType::Q4K] {
            let by = decode_weight_bytes_by(&real(), &|_, _| d);
            assert_eq!(by, decode_weight_bytes(&real(), d), "{d}");
        }
    }

    #[test]
    fn q4_k_m_decode_reads_what_llama_cpp_files_hold_less_the_table() {
        use mistral_model::quantize::Scheme;
        let c = real();
        let s = Scheme::parse("q4_k_m").unwrap();
        let b = decode_weight_bytes_by(&c, &|n, sh| s.tensor_dtype(n, sh, &c).dtype);
        // llama.cpp's mistral-7b-instruct-v0.1 Q4_K_M file is 4.37 GB; less its Q4_K token table
        // (32000·4096·4.5/8 = 73.7 MB), a decode step reads about 4.29 GB.
        assert!((4.25e9..4.33e9).contains(&(b as f64)), "{b}");
    }

    #[test]
    fn bf16_decode_reads_14_22_gb_of_weights() {
        let b = decode_weight_bytes(&real(), DType::BF16);
        assert_eq!(b, (7_241_732_096 - 32000 * 4096 + 4096) * 2);
        assert_eq!((b as f64 / 1e9 * 100.0).round() / 100.0, 14.22);
    }

    #[test]
    fn per_op_counts() {
        assert_eq!(
            gemv_bytes(4096, 4096, DType::BF16),
            4096 * 4096 * 2 + 4 * (4096 + 4096)
        );
        assert_eq!(matmul_flops(512, 14336, 4096), 2 * 512 * 14336 * 4096);
        // Window 2 over 3 tokens: pairs 1 + 2 + 2.
        assert_eq!(attention_flops(3, 2, 1, 1), 4 * 5);
        // Causal without window at S=4096 is S(S+1)/2 pairs.
        assert_eq!(
            attention_flops(4096, 4096, 32, 128),
            4 * (4096 * 4097 / 2) * 32 * 128
        );
        // 4096 cached keys of 8 KV heads x 128 in f32, all 32 layers: 2 x 4096 x 1024 x 4 x 32 bytes.
        assert_eq!(decode_kv_bytes(&real(), 8000), 2 * 4096 * 1024 * 4 * 32);
    }
}
