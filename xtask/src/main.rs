//! `cargo xtask <task>`: project chores that need more than one cargo command.
//!
//! - `ci`: what `.ci/run` checks, minus the system installs (fmt, clippy, tests).
//! - `bench [--quick] [--backend B] [--filter F] [--model DIR] [--json PATH] [--compare PREV]`:
//!   the benchmarks (`benches/`), built in release.
//! - `random-7b [--out DIR] [--dtype bf16]`: writes the random-weight Mistral-7B-shaped model
//!   used for the README's CPU figures (about 14.5 GB in bf16, streamed).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

fn cargo(args: &[&str]) -> bool {
    eprintln!("$ cargo {}", args.join(" "));
    Command::new(env!("CARGO"))
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("ci") => {
            cargo(&["fmt", "--all", "--check"])
                && cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
                && cargo(&["test", "--workspace"])
        }
        // Release build: timings of a debug build would mislead.
        Some("bench") => {
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
            a.extend(args[1..].iter().map(String::as_str));
            cargo(&a)
        }
        Some("random-7b") => {
            let get = |flag: &str, default: &str| {
                args.iter()
                    .position(|a| a == flag)
                    .and_then(|i| args.get(i + 1))
                    .cloned()
                    .unwrap_or(default.into())
            };
            let config = root().join("tests/data/mistral-7b-config.json");
            let (out, dtype) = (
                get("--out", "target/mistral-7b-random"),
                get("--dtype", "bf16"),
            );
            cargo(&[
                "run",
                "--release",
                "-p",
                "mistral-cli",
                "--",
                "random-model",
                "--config",
                config.to_str().unwrap_or_default(),
                "--dtype",
                &dtype,
                "--shards",
                "2",
                "--out",
                &out,
            ])
        }
        _ => {
            eprintln!("usage: cargo xtask <ci | bench [options, see --help] | random-7b [--out DIR] [--dtype bf16]>");
            false
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
