//! Every case of the shared parity table on the CPU backend against the naive f64 twins.

use mistral_core::cases::parity_cases;
use mistral_core::testutil::compare;
use mistral_cpu::CpuBackend;
use mistral_tests::naive;

#[test]
fn cpu_backend_matches_naive_twins_on_every_parity_case() {
    let cpu = CpuBackend::new();
    let mut failures = Vec::new();
    let cases = parity_cases();
    for case in &cases {
        let inputs = case.inputs();
        let got = case
            .run(&cpu, &inputs)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        let want = naive::run(case, &inputs);
        if let Err(msg) = compare(&case.to_string(), &got, &want, case.tolerance()) {
            failures.push(msg);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn shape_mismatches_are_errors_not_panics() {
    use mistral_core::ops::{AttentionParams, MatmulParams};
    use mistral_core::{Backend, DType, HostTensor};
    let cpu = CpuBackend::new();
    let x = cpu.zeros(10).unwrap();
    let w = cpu
        .upload(&HostTensor::from_f32(vec![4, 5], &[0.0; 20], DType::BF16))
        .unwrap();
    let mut y = cpu.zeros(3).unwrap();
    let err = cpu
        .matmul(&x, &w, &mut y, &MatmulParams::new(2, 4, 5))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("matmul") && err.contains("y has 3 elements"),
        "{err}"
    );
    let err = cpu
        .matmul(&x, &w, &mut y, &MatmulParams::new(1, 6, 4))
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected [6, 4]"), "{err}");
    let p = AttentionParams {
        n: 1,
        start_pos: 20,
        n_heads: 4,
        n_kv_heads: 3,
        head_dim: 2,
        window: 8,
        slots: 8,
    };
    let err = cpu
        .attention(&x, &x, &x, &x, &x, &mut y, &p)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a multiple"), "{err}");
    let mut out = cpu.zeros(8).unwrap();
    let err = cpu
        .embedding(&w, &[1, 4], 5, &mut out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("token id 4 is out of range"), "{err}");
}
