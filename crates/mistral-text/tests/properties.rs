//! Properties of the text side, checked on random inputs (proptest; a failure prints the shrunk
//! input and proptest stores its seed under `proptest-regressions/`).

use mistral_text::sampling::{Sampler, SamplerConfig};
use mistral_text::Tokenizer;
use proptest::prelude::*;

mod common;

/// Random text: any Unicode scalar (controls, combining marks, astral planes, spaces and
/// newlines), except `▁` (U+2581): SentencePiece writes a space as `▁`, so a literal one decodes
/// as a space in the reference library too.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>(),
            2 => prop::sample::select(vec![' ', '\n', '\t', 'a', 'é', '中', '🙂', '\u{0}']),
        ],
        0..48,
    )
    .prop_map(|v| v.into_iter().filter(|&c| c != '\u{2581}').collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// decode(encode(s)) == s, for the tokenizer.model (our BPE) and tokenizer.json (HF) paths.
    #[test]
    fn encode_then_decode_gives_the_text_back(s in text()) {
        for tk in tokenizers() {
            let ids = tk.encode(&s, false).unwrap();
            prop_assert_eq!(tk.decode(&ids).unwrap(), s.clone(), "{:?} via {:?}", ids, tk.source());
        }
    }
}

fn tokenizers() -> [&'static Tokenizer; 2] {
    [common::sp(), common::hf()]
}

/// Logits with ties and a wide range, temperature, top-k, top-p and a seed.
fn sampling_case() -> impl Strategy<Value = (Vec<f32>, f32, usize, f32, u64)> {
    prop::collection::vec(
        prop_oneof![-8.0f32..8.0, Just(1.5f32), Just(-1.0f32)],
        1..120,
    )
    .prop_flat_map(|logits| {
        let n = logits.len();
        (
            Just(logits),
            0.05f32..3.0,
            0..=n,
            0.01f32..=1.0,
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every drawn token is in the top-k set (its logit at least the k-th largest) and in the
    /// nucleus (the probability of the tokens strictly more likely than it, within the top-k,
    /// is below top_p), computed here from the definitions, not from the sampler.
    #[test]
    fn sampling_never_leaves_its_top_k_or_top_p_set(
        (logits, temperature, top_k, top_p, seed) in sampling_case()
    ) {
        let mut sampler = Sampler::new(SamplerConfig {
            temperature,
            top_k,
            top_p,
            repetition_penalty: 1.0,
            seed,
        });
        let mut sorted = logits.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = if top_k == 0 { f32::NEG_INFINITY } else { sorted[top_k - 1] };
        // Softmax over the top-k set, in f64, from the logits scaled by the temperature.
        let allowed: Vec<f64> = logits
            .iter()
            .filter(|&&l| l >= kth)
            .map(|&l| f64::from(l / temperature))
            .collect();
        let max = allowed.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = allowed.iter().map(|l| (l - max).exp()).sum();
        for _ in 0..8 {
            let id = sampler.sample(&logits, &[]) as usize;
            prop_assert!(id < logits.len());
            prop_assert!(logits[id] >= kth, "id {} logit {} below the top-{} edge {}", id, logits[id], top_k, kth);
            let mine = f64::from(logits[id] / temperature);
            let above: f64 = allowed.iter().filter(|&&l| l > mine).map(|l| (l - max).exp() / z).sum();
            prop_assert!(above < f64::from(top_p) + 1e-9, "id {}: mass above it {} >= top_p {}", id, above, top_p);
        }
    }
}
