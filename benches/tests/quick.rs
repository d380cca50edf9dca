//! `mistral-bench --quick` (what `cargo xtask bench --quick` runs) on the CPU backend and on
//! wgpu's software adapter (lavapipe in CI): every expected figure is in the JSON, positive, with
//! the right unit, and judged against its limit.

use std::process::{Command, Output};

use mistral_benches::report::BenchFile;

/// Runs `mistral-bench` with `args`.
fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mistral-bench"))
        .args(args)
        .output()
        .expect("run mistral-bench")
}

#[test]
fn quick_bench_writes_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = bench(&["--quick", "--json", json.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: BenchFile = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let backends: Vec<&str> = file.reports.iter().map(|r| r.backend.as_str()).collect();
    assert!(backends[0].starts_with("cpu"), "{backends:?}");
    let skip_wgpu = std::env::var_os("MISTRAL_SKIP_WGPU").is_some();
    assert!(
        skip_wgpu || backends.iter().any(|b| b.starts_with("wgpu")),
        "no wgpu report: {backends:?}"
    );
    for r in &file.reports {
        check_report(r);
    }
    // The table is printed on stdout with the same rows.
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| gemv/q_proj") && table.contains("% of limit"),
        "{table}"
    );
}

fn check_report(r: &mistral_benches::report::Report) {
    assert!(
        !r.card.is_empty() && r.date.starts_with("20"),
        "{}",
        r.backend
    );
    assert!(
        r.reduced.as_deref().unwrap_or("").contains("reduced"),
        "software devices say they are reduced"
    );
    let unit_of = |prefix: &str| -> Vec<&str> {
        r.rows
            .iter()
            .filter(|row| row.key().starts_with(prefix))
            .map(|row| row.unit.as_str())
            .collect()
    };
    for (prefix, unit, count) in [
        ("ceiling/copy bandwidth", "GB/s", 1),
        ("ceiling/matrix rate", "TFLOP/s", 1),
        ("gemv/", "GB/s", 6),
        ("gemm/", "TFLOP/s", 3),
        ("attention/prefill", "TFLOP/s", 1),
        ("decode-attention/", "GB/s", 1),
        ("elementwise/", "GB/s", 3),
        ("e2e/time to first token", "ms", 1),
        ("e2e/prefill", "tokens/s", 1),
        ("e2e/decode", "tokens/s", 1),
    ] {
        let units = unit_of(prefix);
        assert_eq!(units.len(), count, "{prefix}");
        assert!(units.iter().all(|u| *u == unit), "{prefix}: {units:?}");
    }
    for row in &r.rows {
        assert!(
            row.value.is_finite() && row.value > 0.0,
            "{}: {}",
            row.key(),
            row.value
        );
        if row.group == "gemv"
            || row.group == "decode-attention"
            || row.key().starts_with("e2e/decode")
        {
            let pct = row
                .pct_of_limit
                .unwrap_or_else(|| panic!("{} has no % of limit", row.key()));
            assert!(pct > 0.0, "{}", row.key());
        }
    }
}

/// The CUDA path of the benchmark (timing, device-side weights, every family, the report) on the
/// CUDA emulator, which the benchmark treats as a software device (reduced model). On a machine
/// with a driver this would be the full 7B run, so it is left to scripts/gpu/run.sh there.
#[test]
fn quick_bench_runs_on_the_cuda_emulator() {
    let Some(env) = cuda_emu::child_env().filter(|e| !e.is_empty()) else {
        eprintln!("skipped: a real CUDA driver is present, or no emulator on this platform");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_mistral-bench"))
        .args([
            "--quick",
            "--backend",
            "cuda",
            "--json",
            json.to_str().unwrap(),
        ])
        .envs(env)
        .output()
        .expect("run mistral-bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: BenchFile = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(file.reports.len(), 1);
    let r = &file.reports[0];
    assert_eq!(r.card, "CUDA emulator (CPU)");
    assert!(r.driver.starts_with("CUDA driver "), "{}", r.driver);
    check_report(r);
}

#[test]
fn compare_prints_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let first = bench(&[
        "--quick",
        "--backend",
        "cpu",
        "--filter",
        "gemv/",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // --compare against the file just written shows a change column.
    let again = bench(&[
        "--quick",
        "--backend",
        "cpu",
        "--filter",
        "gemv/q_proj",
        "--compare",
        json.to_str().unwrap(),
    ]);
    assert!(again.status.success());
    let table = String::from_utf8_lossy(&again.stdout);
    assert!(
        table.contains(" change |") && table.contains("| gemv/q_proj") && !table.contains("gemm/"),
        "{table}"
    );
}

#[test]
fn the_filter_selects_single_figures() {
    for (filter, want) in [
        ("rms_norm", "| elementwise/rms_norm"),
        ("e2e/decode", "| e2e/decode from context 0"),
    ] {
        let out = bench(&["--quick", "--backend", "cpu", "--filter", filter]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(
            table.contains(want) && !table.contains("| gemv/"),
            "{filter}: {table}"
        );
    }
}

/// `--quant q4_k_m`: llama.cpp's mixture gives v_proj and down_proj Q6_K in some layers, so
/// those shapes get a row per type, and the lm_head is Q6_K.
#[test]
fn a_quantization_mixture_gets_a_row_per_type() {
    let out = bench(&[
        "--quick",
        "--backend",
        "cpu",
        "--quant",
        "q4_k_m",
        "--filter",
        "gemv/",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for row in [
        "| gemv/q_proj 512x512 q4_k ",
        "| gemv/k_proj/v_proj 128x512 q4_k ",
        "| gemv/k_proj/v_proj 128x512 q6_k ",
        "| gemv/down_proj 512x1792 q4_k ",
        "| gemv/down_proj 512x1792 q6_k ",
        "| gemv/lm_head 4000x512 q6_k ",
    ] {
        assert!(table.contains(row), "{row}: {table}");
    }
    assert!(!table.contains("bf16"), "{table}");
}

#[test]
fn bad_options_are_one_line_errors() {
    let out = bench(&["--backend", "tpu"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--backend \"tpu\""));
    let out = bench(&["--quant", "q3_k_xs"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: --quant") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn real_weights_set_the_shape_and_dtype() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/gqa4_f32");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = bench(&[
        "--quick",
        "--backend",
        "cpu",
        "--model",
        model.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: BenchFile = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &file.reports[0];
    // gqa4_f32: hidden 64, 8 heads of 8, f32 weights.
    assert!(
        r.rows.iter().any(|row| row.name == "q_proj 64x64 f32"),
        "{:?}",
        r.rows.iter().map(|r| &r.name).collect::<Vec<_>>()
    );
    assert!(r.rows.iter().any(|row| row.key().starts_with("e2e/decode")));
    let bad = bench(&["--model", "/nonexistent"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("/nonexistent"));
}
