//! The tiny GGUF golden models (`tests/golden/gguf/`: f32, f16, bf16, the seven block formats, a
//! tied output and a Q4_K_M-like mixture; made by `tools/golden/make_gguf_golden.py`) on CUDA,
//! against the logits and greedy ids Hugging Face transformers computed.
//!
//! Each model runs its tokens twice: as one prefill (the quantized weights through
//! `gemm_simt_{format}` of kernels/gemm_quant.cu) and as a short prefill followed by single-token
//! decode steps (the planar GEMVs of kernels/gemv_quant.cu, fused q/k/v and gate/up/SwiGLU); then
//! greedy decoding with prefill blocks of 3 must give transformers' ids exactly.
//!
//! On a machine without an NVIDIA driver this runs on the CUDA emulator (see tests/parity.rs).

use mistral_core::testutil::{compare, Tolerance};
use mistral_core::DType;
use mistral_cuda::CudaBackend;
use mistral_model::{HostWeights, Logits};
use mistral_tests::fixtures::{gguf_golden_cases, greedy_ids, load_model, read_golden};

/// The bound against transformers' logits (O(10) in size): transformers dequantizes the
/// same blocks with gguf-py and computes in f32, so only summation order differs (the CPU
/// reference is ~1e-5 away, tests/tests/gguf_models.rs).
const GGUF_LOGITS: Tolerance = Tolerance {
    abs: 1e-3,
    rel: 0.0,
    nmse: 1e-8,
};

fn backend() -> Option<CudaBackend> {
    cuda_emu::install();
    match CudaBackend::new(0) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("skipped: no CUDA device ({e})");
            None
        }
    }
}

#[test]
fn every_gguf_format_matches_transformers_on_cuda() {
    if backend().is_none() {
        return;
    }
    let cases = gguf_golden_cases();
    assert!(cases.len() >= 12, "{} GGUF golden cases", cases.len());
    let mut formats = std::collections::HashSet::new();
    for dir in cases {
        let g = read_golden(&dir);
        let path = dir.join("model.gguf");
        let (_, host) = HostWeights::load(&path).unwrap();
        host.iter().for_each(|t| {
            formats.insert(t.dtype);
        });

        // The whole sequence as one prefill.
        let mut m = load_model(backend().unwrap(), &path, 256);
        let got = m.forward(&g.tokens, 0, Logits::All).unwrap();
        let s = compare(&format!("{} prefill", g.name), &got, &g.logits, GGUF_LOGITS)
            .unwrap_or_else(|e| panic!("{e}"));
        println!("ok   {} prefill: {s}", g.name);

        // A 3-token prefill, then one token at a time (decode GEMVs).
        let mut m = load_model(backend().unwrap(), &path, 256);
        let split = 3.min(g.tokens.len());
        let mut got = m.forward(&g.tokens[..split], 0, Logits::All).unwrap();
        for t in split..g.tokens.len() {
            got.extend(m.forward(&g.tokens[t..t + 1], t, Logits::Last).unwrap());
        }
        let s = compare(&format!("{} decode", g.name), &got, &g.logits, GGUF_LOGITS)
            .unwrap_or_else(|e| panic!("{e}"));
        println!("ok   {} decode: {s}", g.name);

        let mut m = load_model(backend().unwrap(), &path, 3);
        let ids = greedy_ids(&mut m, &g.prompt, g.greedy.len());
        assert_eq!(ids, g.greedy, "{}: greedy ids differ", g.name);
        println!("ok   {}: greedy ids identical", g.name);
    }
    assert_eq!(
        formats.len(),
        DType::ALL.len(),
        "formats covered: {formats:?}"
    );
}
