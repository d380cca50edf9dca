//! The executor on the CPU backend: incremental decoding, block sizes and capture, on tiny random
//! models written by our own writer (the Hugging Face comparison is in `hf_parity.rs`).

use mistral_core::testutil::{compare, Rng, Tolerance};
use mistral_core::DType;
use mistral_cpu::CpuBackend;
use mistral_model::capture::Capture;
use mistral_model::{HostWeights, Logits, Model, ModelOptions};
use mistral_tests::fixtures::{random_model, TINY_CONFIG};

/// Same model, same arithmetic per row, different grouping of rows: only summation order in
/// attention differs, so agreement is at f32 rounding level.
const SAME_MATH: Tolerance = Tolerance {
    abs: 1e-5,
    rel: 1e-5,
    nmse: 1e-10,
};

fn model(dir: &std::path::Path, max_batch: usize) -> Model<CpuBackend> {
    let (cfg, host) = HostWeights::load_dir(dir).unwrap();
    let opts = ModelOptions {
        max_batch,
        context_limit: 64,
        kv_dtype: None,
    };
    Model::new(CpuBackend::new(), cfg, &host, opts, &mut |_, _| {}).unwrap()
}

fn tokens(n: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.below(100) as u32).collect()
}

#[test]
fn incremental_decoding_equals_one_forward_across_the_window() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let toks = tokens(30, 1); // window 8: crosses it three times
    let full = model(dir.path(), 64)
        .forward(&toks, 0, Logits::All)
        .unwrap();
    let vocab = 100;
    // Prefill 5 tokens, then 3, then one at a time.
    let mut m = model(dir.path(), 64);
    let mut got = m.forward(&toks[..5], 0, Logits::All).unwrap();
    got.extend(m.forward(&toks[5..8], 5, Logits::All).unwrap());
    for t in 8..30 {
        got.extend(m.forward(&toks[t..t + 1], t, Logits::Last).unwrap());
    }
    assert_eq!(got.len(), 30 * vocab);
    compare("incremental vs full logits", &got, &full, SAME_MATH).unwrap();
}

#[test]
fn block_size_does_not_change_results() {
    let dir = random_model(TINY_CONFIG, DType::F16, 2);
    let toks = tokens(27, 2);
    let one = model(dir.path(), 64)
        .forward(&toks, 0, Logits::All)
        .unwrap();
    for max_batch in [1, 3, 8, 11] {
        let got = model(dir.path(), max_batch)
            .forward(&toks, 0, Logits::All)
            .unwrap();
        compare(&format!("max_batch {max_batch}"), &got, &one, SAME_MATH).unwrap();
    }
    let last = model(dir.path(), 5)
        .forward(&toks, 0, Logits::Last)
        .unwrap();
    compare("last row", &last, &one[26 * 100..], SAME_MATH).unwrap();
}

#[test]
fn capture_names_the_first_diverging_layer_and_op() {
    let dir = random_model(TINY_CONFIG, DType::F32, 1);
    let toks = tokens(6, 3);
    let run = |perturb: bool| {
        let (cfg, mut host) = HostWeights::load_dir(dir.path()).unwrap();
        if perturb {
            // Change layer 1's value projection only.
            let t = &host.layers[1].wv;
            let vals: Vec<f32> = t.to_f32().iter().map(|v| v * 1.5).collect();
            host.layers[1].wv = mistral_core::HostTensor::from_f32(t.shape.clone(), &vals, t.dtype);
        }
        let mut m = Model::new(
            CpuBackend::new(),
            cfg,
            &host,
            ModelOptions::default(),
            &mut |_, _| {},
        )
        .unwrap();
        m.capture = Some(Capture::default());
        m.forward(&toks, 0, Logits::All).unwrap();
        m.capture.take().unwrap()
    };
    let (a, b) = (run(false), run(true));
    assert!(a.first_divergence(&a.clone(), SAME_MATH).is_none());
    let msg = b
        .first_divergence(&a, SAME_MATH)
        .expect("perturbed model diverges");
    assert!(msg.starts_with("layer.1.v:"), "{msg}");
    assert!(a.get("layer.0.attn_out").is_some() && a.get("logits").unwrap().len() == 6 * 100);
}

#[test]
fn context_limit_and_positions_are_enforced() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let mut m = model(dir.path(), 16);
    let err = m
        .forward(&tokens(65, 4), 0, Logits::Last)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "65 tokens exceed the context limit of 64 tokens");
    m.forward(&tokens(4, 4), 0, Logits::Last).unwrap();
    let err = m
        .forward(&tokens(1, 4), 9, Logits::Last)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cache holds positions up to 4"), "{err}");
    assert!(m
        .forward(&[], 4, Logits::Last)
        .unwrap_err()
        .to_string()
        .contains("empty prompt"));
    assert!(m
        .forward(&[100], 4, Logits::Last)
        .unwrap_err()
        .to_string()
        .contains("token id 100 is out of range"));
}

/// Records the history it is given and picks the argmax.
struct Recorder(Vec<Vec<u32>>);

impl mistral_model::generate::Sampler for Recorder {
    fn is_greedy(&self) -> bool {
        false
    }

    fn pick(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        self.0.push(history.to_vec());
        mistral_model::generate::Greedy.pick(logits, history)
    }
}

#[test]
fn generate_continues_from_the_cache_with_the_whole_history() {
    use mistral_model::generate::{generate, Flow, Greedy};
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let ids = tokens(12, 5);
    let fresh = generate(
        &mut model(dir.path(), 16),
        &ids,
        0,
        6,
        &[],
        &mut Greedy,
        &mut |_| Flow::Continue,
    )
    .unwrap();
    // Run the first 9 ids, then continue: same tokens, and the sampler saw every id.
    let mut m = model(dir.path(), 16);
    m.forward(&ids[..9], 0, Logits::Last).unwrap();
    let mut rec = Recorder(Vec::new());
    let cont = generate(&mut m, &ids, 9, 6, &[], &mut rec, &mut |_| Flow::Continue).unwrap();
    assert_eq!(cont, fresh);
    assert_eq!(rec.0[0], ids);
    assert_eq!(rec.0[2], [&ids[..], &cont[..2]].concat());
    assert!(generate(&mut m, &ids, 13, 1, &[], &mut Greedy, &mut |_| {
        Flow::Continue
    })
    .is_err());
}
