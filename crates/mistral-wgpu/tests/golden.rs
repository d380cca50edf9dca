//! End to end: the tiny Hugging Face models under `tests/golden/*` run through `mistral_model::Model`
//! on wgpu. Teacher-forced logits match the CPU backend within 1e-3 absolute (the bound;
//! both compute in f32 from the same stored weights, so only summation order differs) and greedy
//! generation gives transformers' ids. Prefill runs in blocks here too (`incremental_split`), so decode (GEMV), tiled
//! prefill and cache reuse all take part; the "split" config adds row-split weights and split-K.

mod common;

use mistral_core::testutil::{compare, Tolerance};
use mistral_cpu::CpuBackend;
use mistral_model::generate::{generate, Flow, Greedy};
use mistral_model::Logits;
use mistral_tests::fixtures::{goldens, incremental_split, load_model};

const LOGITS: Tolerance = Tolerance {
    abs: 1e-3,
    rel: 0.0,
    nmse: 1e-8,
};

#[test]
fn tiny_models_match_cpu_logits_and_transformers_greedy_ids() {
    let cases = goldens();
    for (config, opts) in common::configs() {
        for g in &cases {
            let name = format!("[{config}] {}", g.name);
            let (dir, tokens, prompt, greedy) = (&g.dir, &g.tokens, &g.prompt, &g.greedy);

            let Some(gpu) = common::backend(opts.clone()) else {
                return;
            };
            let mut m = load_model(gpu, dir, 256);
            let want = load_model(CpuBackend::new(), dir, 256)
                .forward(tokens, 0, Logits::All)
                .unwrap();
            let got = m.forward(tokens, 0, Logits::All).unwrap();
            let s = compare(&name, &got, &want, LOGITS).unwrap_or_else(|e| panic!("{e}"));
            eprintln!("{name}: {s}");

            // Prefill in blocks (of 3 for the short goldens), then one token at a time.
            let Some(gpu) = common::backend(opts.clone()) else {
                return;
            };
            let (prefill, max_batch) = incremental_split(tokens.len());
            let mut m = load_model(gpu, dir, max_batch);
            let mut inc = m.forward(&tokens[..prefill], 0, Logits::All).unwrap();
            for t in prefill..tokens.len() {
                inc.extend(m.forward(&tokens[t..t + 1], t, Logits::Last).unwrap());
            }
            compare(&format!("{name} incremental"), &inc, &want, LOGITS)
                .unwrap_or_else(|e| panic!("{e}"));

            let out = generate(
                &mut m,
                prompt,
                0,
                greedy.len(),
                &[],
                &mut Greedy,
                &mut |_| Flow::Continue,
            )
            .unwrap();
            assert_eq!(&out, greedy, "{name}: greedy ids differ from transformers");
        }
    }
}
