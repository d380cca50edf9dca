//! Properties of the CPU reference and the executor, on random inputs (proptest; a failure prints
//! the shrunk input and proptest stores its seed under `proptest-regressions/`).

use mistral_core::ops::AttentionParams;
use mistral_core::testutil::{compare, Rng, Tolerance};
use mistral_core::{Backend, DType, HostTensor};
use mistral_cpu::CpuBackend;
use mistral_model::Logits;
use mistral_tests::fixtures::{load_model, random_model, TINY_CONFIG};
use proptest::prelude::*;

/// A block of `n` queries at `start_pos` (window `window`, GQA `n_heads / n_kv`), and two cache
/// sizes to lay the same history out in.
fn attention_case() -> impl Strategy<Value = (usize, usize, usize, usize, usize, [usize; 2], u64)> {
    (1usize..12, 0usize..70, 1usize..20, 1usize..3, any::<u64>()).prop_flat_map(
        |(n, start_pos, window, n_kv, seed)| {
            let need = start_pos.min(window - 1).max(1);
            (
                Just(n),
                Just(start_pos),
                Just(window),
                Just(n_kv),
                prop::sample::select(vec![1usize, 2, 4]),
                [need..need + 40, need..need + 40],
                Just(seed),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The attention output depends on which positions the cache holds, not on which slots hold
    /// them: the same history in caches of two sizes (so in other slots, in another order) gives
    /// the same output, bit for bit, and slots holding no visible position are never read (they
    /// are NaN here).
    #[test]
    fn attention_is_invariant_to_the_order_of_cache_slots(
        (n, start_pos, window, n_kv, ratio, slots, seed) in attention_case()
    ) {
        let (head_dim, n_heads) = (8, n_kv * ratio);
        let kv = n_kv * head_dim;
        let mut rng = Rng::new(seed);
        let q = rng.vec(n * n_heads * head_dim, -1.5, 1.5);
        let (k_new, v_new) = (rng.vec(n * kv, -1.5, 1.5), rng.vec(n * kv, -1.0, 1.0));
        // Keys and values of every past position; a cache of `s` slots holds the last ones.
        let (k_hist, v_hist) = (rng.vec(start_pos * kv, -1.5, 1.5), rng.vec(start_pos * kv, -1.0, 1.0));
        let cpu = CpuBackend::new();
        let t = |v: &[f32]| cpu.upload(&HostTensor::from_f32(vec![v.len()], v, DType::F32)).unwrap();
        let mut outs = Vec::new();
        for s in slots {
            let (mut kc, mut vc) = (vec![f32::NAN; s * kv], vec![f32::NAN; s * kv]);
            let oldest = start_pos.saturating_sub(window - 1);
            for j in oldest..start_pos {
                let slot = j % s;
                kc[slot * kv..][..kv].copy_from_slice(&k_hist[j * kv..][..kv]);
                vc[slot * kv..][..kv].copy_from_slice(&v_hist[j * kv..][..kv]);
            }
            let mut out = cpu.zeros(n * n_heads * head_dim).unwrap();
            let p = AttentionParams { n, start_pos, n_heads, n_kv_heads: n_kv, head_dim, window, slots: s };
            cpu.attention(&t(&q), &t(&k_new), &t(&v_new), &t(&kc), &t(&vc), &mut out, &p).unwrap();
            outs.push(cpu.download_f32(&out).unwrap());
        }
        prop_assert!(outs[0].iter().all(|x| x.is_finite()), "an unused slot was read");
        prop_assert_eq!(&outs[0], &outs[1]);
    }
}

/// The tiny random model of the executor properties, written once.
fn tiny_model() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| random_model(TINY_CONFIG, DType::F32, 1))
        .path()
}

/// Same computation, other block sizes: only the grouping of rows changes, and each row's sums run
/// in the same order, so the difference stays at rounding level.
const SPLIT: Tolerance = Tolerance {
    abs: 1e-5,
    rel: 0.0,
    nmse: 1e-12,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Feeding a sequence in blocks of random lengths (each forward chunked again by a random
    /// `max_batch`) gives the logits of one forward over the whole sequence. The sequence crosses
    /// the tiny model's window of 8 several times.
    #[test]
    fn incremental_decoding_equals_one_forward(
        tokens in prop::collection::vec(0u32..100, 1..70),
        cuts in prop::collection::vec(1usize..70, 0..8),
        max_batch in 1usize..20,
    ) {
        let whole = load_model(CpuBackend::new(), tiny_model(), 128)
            .forward(&tokens, 0, Logits::All)
            .unwrap();
        let mut bounds: Vec<usize> = cuts.into_iter().filter(|&c| c < tokens.len()).collect();
        bounds.extend([0, tokens.len()]);
        bounds.sort();
        bounds.dedup();
        let mut m = load_model(CpuBackend::new(), tiny_model(), max_batch);
        let mut pieces = Vec::new();
        for w in bounds.windows(2) {
            pieces.extend(m.forward(&tokens[w[0]..w[1]], w[0], Logits::All).unwrap());
        }
        if let Err(e) = compare("blocks", &pieces, &whole, SPLIT) {
            return Err(TestCaseError::fail(format!("blocks {bounds:?}, max_batch {max_batch}: {e}")));
        }
    }
}
