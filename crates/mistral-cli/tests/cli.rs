//! The `mistral` binary end to end: outputs, exit codes and one-line errors (never a panic).

use std::path::Path;
use std::process::{Command, Output};

use mistral_core::DType;
use mistral_tests::fixtures::{random_model, TINY_CONFIG};

fn mistral(args: &[&str]) -> Output {
    mistral_env(args, &[])
}

fn mistral_env(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mistral"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run mistral")
}

/// Runs a command that must fail; returns its one-line stderr.
fn fails(args: &[&str]) -> String {
    let out = mistral(args);
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line expected: {err}");
    err
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn logits_writes_one_f32_tensor_per_position() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let out = dir.path().join("logits.safetensors");
    let o = mistral(&[
        "logits",
        "--model",
        path(dir.path()),
        "--tokens",
        "1,5,9,33",
        "--out",
        path(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.names(), vec!["logits"]);
    let t = st.tensor("logits").unwrap();
    assert_eq!(
        (t.dtype(), t.shape()),
        (safetensors::Dtype::F32, &[4usize, 100][..])
    );
    // The last row equals what the library computes for the same tokens.
    let (cfg, host) = mistral_model::HostWeights::load_dir(dir.path()).unwrap();
    let mut m = mistral_model::Model::new(
        mistral_cpu::CpuBackend::new(),
        cfg,
        &host,
        Default::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let want = m
        .forward(&[1, 5, 9, 33], 0, mistral_model::Logits::Last)
        .unwrap();
    let got: Vec<f32> = t.data()[3 * 400..]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    // Same model and arithmetic; the library ran one row, the CLI four (a different summation
    // order in the CPU matmul), so agreement is to f32 rounding.
    mistral_core::testutil::compare(
        "last row",
        &got,
        &want,
        mistral_core::testutil::Tolerance::abs(1e-5),
    )
    .unwrap();
}

#[test]
fn generate_json_is_greedy_and_reproducible() {
    let dir = random_model(TINY_CONFIG, DType::F16, 2);
    let args = [
        "generate",
        "--model",
        path(dir.path()),
        "--tokens",
        "1,7,8",
        "--max-new-tokens",
        "12",
        "--temperature",
        "0",
        "--json",
    ];
    let a = mistral(&args);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["prompt_ids"], serde_json::json!([1, 7, 8]));
    let ids = v["generated_ids"].as_array().unwrap();
    assert!(!ids.is_empty() && ids.len() <= 12);
    let again: serde_json::Value = serde_json::from_slice(&mistral(&args).stdout).unwrap();
    assert_eq!(again["generated_ids"], v["generated_ids"], "same ids twice");
}

#[test]
fn random_model_shards_and_rejects_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    std::fs::write(&cfg, TINY_CONFIG).unwrap();
    let out = dir.path().join("m");
    let o = mistral(&[
        "random-model",
        "--config",
        path(&cfg),
        "--dtype",
        "bf16",
        "--out",
        path(&out),
        "--shards",
        "3",
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "model-00001-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        "model.safetensors.index.json",
        "config.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(fails(&[
        "random-model",
        "--config",
        path(&cfg),
        "--dtype",
        "int4",
        "--out",
        path(&out)
    ])
    .contains("--dtype"));
    assert!(fails(&[
        "random-model",
        "--config",
        "/nonexistent.json",
        "--out",
        path(&out)
    ])
    .contains("/nonexistent.json"));
}

#[test]
fn bad_input_gives_one_line_errors() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let m = path(dir.path());
    let out = dir.path().join("x.safetensors");
    let gen = |tokens: &str, n: &str| {
        fails(&[
            "generate",
            "--model",
            m,
            "--tokens",
            tokens,
            "--max-new-tokens",
            n,
        ])
    };
    assert!(gen("1,100", "2").contains("token id 100 is out of range (vocab size 100)"));
    assert!(gen("", "2").contains("empty prompt"));
    assert!(gen("1,x", "2").contains("\"x\" is not a token id"));
    let long = fails(&[
        "generate",
        "--model",
        m,
        "--tokens",
        "1,2,3",
        "--max-new-tokens",
        "10",
        "--context-limit",
        "8",
    ]);
    assert!(
        long.contains("12 tokens exceed the context limit of 8 tokens"),
        "{long}"
    );
    // A count past any integer is the same error, not an overflow.
    let huge = fails(&[
        "generate",
        "--model",
        m,
        "--tokens",
        "1,2,3",
        "--max-new-tokens",
        "18446744073709551615",
    ]);
    assert!(huge.contains("exceed the context limit"), "{huge}");
    assert!(fails(&[
        "logits",
        "--model",
        "/nonexistent",
        "--tokens",
        "1",
        "--out",
        path(&out)
    ])
    .contains("/nonexistent"));
    assert!(fails(&[
        "logits",
        "--model",
        m,
        "--tokens",
        "1",
        "--out",
        "/nonexistent/dir/x.safetensors"
    ])
    .contains("/nonexistent/dir"));
    assert!(fails(&[
        "generate",
        "--model",
        m,
        "--tokens",
        "1",
        "--backend",
        "cuda"
    ])
    .contains("cuda"));
}

/// wgpu cannot ask the driver what is free: `--memory-budget` makes a model that does not fit one
/// clear error before the upload, naming everything the backend would hold.
#[test]
fn a_model_past_the_memory_budget_is_refused_before_upload() {
    if std::env::var_os("MISTRAL_SKIP_WGPU").is_some() {
        return;
    }
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let m = path(dir.path());
    let gen = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            "--model",
            m,
            "--tokens",
            "1,2",
            "--backend",
            "wgpu",
        ];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let err = gen(&["--memory-budget", "1kB"]);
    // By hand from TINY_CONFIG: bf16 weights 2·(2·100·64 + 64 + 2·(2·64·64 + 2·16·64 + 3·96·64
    // + 2·64)) = 140928 B; KV cache 2 layers · K,V · 8 slots (the window) · 16 · 4 B = 2048 B;
    // activations 256 rows · (3·64 + 2·64 + 2·16 + 3·96 + 100) · 4 B = 757760 B.
    assert!(err.contains("needs 900736 bytes, 1000 available"), "{err}");
    assert!(
        err.contains("weights 140.93 kB, KV cache 2.05 kB (f32, 8 slots), activations 757.76 kB"),
        "{err}"
    );
    // A usage error: clap's own message, with its hint line.
    let bad = mistral(&[
        "generate",
        "--model",
        m,
        "--tokens",
        "1",
        "--memory-budget",
        "lots",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"lots\" is not a size"));
    // One activation block past the adapter's per-buffer limit (lavapipe: 128 MiB; others more).
    let wide = gen(&["--max-batch", "100000000"]);
    assert!(
        wide.contains(
            "the activations of one --max-batch block needs one buffer of 40000000000 bytes"
        ),
        "{wide}"
    );
}

/// Reads the `logits` tensor of a `mistral logits` output file.
fn read_logits(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensor("logits")
        .unwrap()
        .data()
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn golden(case: &str) -> std::path::PathBuf {
    mistral_tests::fixtures::golden_dir().join(case)
}

#[test]
fn wgpu_logits_and_greedy_ids_match_the_cpu_reference() {
    if std::env::var_os("MISTRAL_SKIP_WGPU").is_some() {
        return;
    }
    gpu_backend_matches_the_cpu_reference("wgpu", &[]);
}

/// `mistral logits/generate --backend cuda`: on the GPU where there is a driver, else on the CUDA
/// emulator (crates/cuda-emu) preloaded into the child process.
#[test]
fn cuda_logits_and_greedy_ids_match_the_cpu_reference() {
    let Some(env) = cuda_emu::child_env() else {
        eprintln!("skipped: no CUDA driver and no emulator on this platform");
        return;
    };
    gpu_backend_matches_the_cpu_reference("cuda", &env);
}

fn gpu_backend_matches_the_cpu_reference(gpu_backend: &str, env: &[(&str, String)]) {
    let out = tempfile::tempdir().unwrap();
    for case in ["gqa4_f32", "head128_bf16_sharded"] {
        let model = golden(case);
        let tokens = "1,17,42,99,5,8,13,21,34,55,89,144,233,3,7,11,19";
        let (cpu, gpu) = (out.path().join("cpu.st"), out.path().join("gpu.st"));
        for (backend, file) in [("cpu", &cpu), (gpu_backend, &gpu)] {
            let o = mistral_env(
                &[
                    "logits",
                    "--model",
                    path(&model),
                    "--tokens",
                    tokens,
                    "--backend",
                    backend,
                    "--out",
                    path(file),
                ],
                env,
            );
            assert!(
                o.status.success(),
                "{case} {backend}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        // The bound for GPU backends against the CPU reference.
        mistral_core::testutil::compare(
            &format!("{case} {gpu_backend}"),
            &read_logits(&gpu),
            &read_logits(&cpu),
            mistral_core::testutil::Tolerance::abs(1e-3),
        )
        .unwrap();
    }
    // Greedy ids: the golden prompt of window8_bf16 gives transformers' continuation.
    let bytes = std::fs::read(golden("window8_bf16").join("golden.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let ids = |n: &str| -> Vec<String> {
        st.tensor(n)
            .unwrap()
            .data()
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()).to_string())
            .collect()
    };
    let prompt = ids("prompt").join(",");
    let want: Vec<u64> = ids("greedy").iter().map(|s| s.parse().unwrap()).collect();
    let o = mistral_env(
        &[
            "generate",
            "--model",
            path(&golden("window8_bf16")),
            "--tokens",
            &prompt,
            "--backend",
            gpu_backend,
            "--max-new-tokens",
            &want.len().to_string(),
            "--json",
        ],
        env,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // Stops early only at EOS (id 2), which the golden run does not stop at.
    let got: Vec<u64> = serde_json::from_value(v["generated_ids"].clone()).unwrap();
    assert_eq!(got[..], want[..got.len()]);
    assert!(got.len() == want.len() || got.last() == Some(&2));
}

#[test]
fn devices_lists_every_backend() {
    let o = mistral(&["devices"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("cpu:") && text.contains("cuda") && text.contains("wgpu"),
        "{text}"
    );
}

#[test]
fn compare_locates_the_first_diverging_op() {
    if std::env::var_os("MISTRAL_SKIP_WGPU").is_some() {
        return;
    }
    let model = golden("window8_bf16");
    let args = |tol: &'static str| {
        [
            "compare",
            "--model",
            path(&model),
            "--tokens",
            "1,9,8,7,6,5,4,3,2,10,11",
            "--backend",
            "wgpu",
            "--tolerance",
            tol,
        ]
    };
    let o = mistral(&args("1e-3"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("layer.1.mlp_out") && table.contains("every intermediate within"),
        "{table}"
    );
    // Far below f32 reordering noise: the embedding gather is exact, the first norm is not.
    let err = fails(&args("1e-12"));
    assert!(err.contains("first divergence at layer.0."), "{err}");
}

#[test]
fn kv_dtype_sets_the_cache_type_and_refuses_other_names() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let m = path(dir.path());
    let gen = |kv: &str| {
        mistral(&[
            "generate",
            "--model",
            m,
            "--tokens",
            "1,7,8",
            "--max-new-tokens",
            "6",
            "--temperature",
            "0",
            "--json",
            "--kv-dtype",
            kv,
        ])
    };
    for kv in ["f32", "f16", "bf16"] {
        let out = gen(kv);
        assert!(
            out.status.success(),
            "--kv-dtype {kv}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!v["generated_ids"].as_array().unwrap().is_empty(), "{kv}");
    }
    let err = fails(&[
        "generate",
        "--model",
        m,
        "--tokens",
        "1,7",
        "--kv-dtype",
        "f8",
    ]);
    assert!(
        err.contains("\"f8\"") && err.contains("expected f32, f16 or bf16"),
        "{err}"
    );
}
