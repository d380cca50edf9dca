//! GGUF models against Hugging Face transformers: the tiny random Llama GGUFs of
//! `tools/golden/make_gguf_golden.py` (every tensor format, q/k permuted as llama.cpp's converter
//! does), and the q/k permutation proof on a model where it matters.

use mistral_core::testutil::{compare, Tolerance};
use mistral_core::DType;
use mistral_cpu::CpuBackend;
use mistral_model::{HostWeights, Logits};
use mistral_tests::fixtures::{gguf_golden_cases, golden_dir, greedy_ids, load_model, read_golden};

/// transformers dequantizes the same blocks (gguf-py, proven bit-equal to ours in
/// mistral-core's quant tests) and computes in f32, so only summation order differs: logits are
/// O(10), the error ~1e-5. The bound is 1e-3.
const GGUF_LOGITS: Tolerance = Tolerance {
    abs: 1e-3,
    rel: 0.0,
    nmse: 1e-8,
};

#[test]
fn every_format_matches_transformers_logits_and_greedy_ids() {
    let cases = gguf_golden_cases();
    // f32, f16, bf16, the seven block formats, a tied output and a Q4_K_M-like mixture.
    assert!(cases.len() >= 12, "{} GGUF golden cases", cases.len());
    let mut formats = std::collections::HashSet::new();
    for dir in cases {
        let g = read_golden(&dir);
        let path = dir.join("model.gguf");
        let (_, host) = HostWeights::load(&path).unwrap();
        host.iter().for_each(|t| {
            formats.insert(t.dtype);
        });
        let mut m = load_model(CpuBackend::new(), &path, 256);
        let got = m.forward(&g.tokens, 0, Logits::All).unwrap();
        let s = compare(&g.name, &got, &g.logits, GGUF_LOGITS).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("{}: {s}", g.name);
        // Greedy with the KV cache, prefill in blocks of 3 so chunking is crossed too.
        let mut m = load_model(CpuBackend::new(), &path, 3);
        let ids = greedy_ids(&mut m, &g.prompt, g.greedy.len());
        assert_eq!(ids, g.greedy, "{}: greedy ids differ", g.name);
    }
    assert_eq!(
        formats.len(),
        DType::ALL.len(),
        "formats covered: {formats:?}"
    );
}

/// `f32/model.gguf` was converted from the safetensors model in `f32_hf/` with llama.cpp's q/k
/// permutation. After the loader undoes it every tensor is bit-identical to the original, and
/// the logits are too; with the rows left permuted the model is wrong past position 0 (where
/// RoPE is the identity), as the generator measured (max error 7.8).
#[test]
fn unpermuted_gguf_equals_the_hf_model_it_was_converted_from() {
    let dir = golden_dir().join("gguf");
    let (cfg_hf, hf) = HostWeights::load(&dir.join("f32_hf")).unwrap();
    let (cfg_gg, gg) = HostWeights::load(&dir.join("f32/model.gguf")).unwrap();
    assert_eq!(
        (cfg_hf.q_dim(), cfg_hf.kv_dim(), cfg_hf.window()),
        (cfg_gg.q_dim(), cfg_gg.kv_dim(), cfg_gg.window())
    );
    for (a, b) in hf.iter().zip(gg.iter()) {
        assert_eq!(a.shape, b.shape);
        assert!(
            a.to_f32() == b.to_f32(),
            "a tensor of shape {:?} differs",
            a.shape
        );
    }
    let wq = &gg.layers[0].wq;
    let permuted = mistral_model::gguf::unpermute_rows(
        wq.bytes.as_slice(),
        cfg_gg.num_attention_heads,
        cfg_gg.head_dim(),
        cfg_gg.hidden_size * 4,
    );
    assert!(
        permuted != wq.bytes.as_slice(),
        "the permutation is the identity here"
    );
    let tokens: Vec<u32> = (0..24).map(|i| (i * 37 + 5) % 256).collect();
    let a = load_model(CpuBackend::new(), &dir.join("f32_hf"), 256)
        .forward(&tokens, 0, Logits::All)
        .unwrap();
    let b = load_model(CpuBackend::new(), &dir.join("f32/model.gguf"), 256)
        .forward(&tokens, 0, Logits::All)
        .unwrap();
    assert!(a == b, "logits of the GGUF and the HF directory differ");
}
