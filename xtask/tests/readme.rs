//! Every `cargo xtask` line the README shows, run through this binary with `--dry-run` (which
//! prints each command instead of running it), so a task or option the README names cannot
//! disappear. What the commands then do is proven elsewhere: `.ci/run` runs `cargo xtask test`
//! itself, and `benches/tests/readme.rs` runs the README's bench lines.

use std::process::Command;

use mistral_tests::readme::{commands, ReadmeCommand};

/// The commands `cargo xtask ARGS --dry-run` would run, one per line.
fn dry_run(args: &[String]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--dry-run")
        .args(args)
        .output()
        .expect("run xtask");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo xtask {} failed:\n{stderr}",
        args.join(" ")
    );
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("$ "))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_xtask_command_of_the_readme_runs() {
    let mut tasks = Vec::new();
    for (line, c) in commands() {
        match c {
            ReadmeCommand::Xtask(args) => {
                let ran = dry_run(&args);
                if args.first().map(String::as_str) == Some("test") {
                    // The README's promise: setup, then the three gates, in this order.
                    let pos = |needle: &str| {
                        ran.iter()
                            .position(|l| l.contains(needle))
                            .unwrap_or_else(|| panic!("{line}: never runs `{needle}`: {ran:#?}"))
                    };
                    let (fmt, clippy) = (pos("fmt --all --check"), pos("clippy --workspace"));
                    let test = pos("test --workspace");
                    assert!(fmt < clippy && clippy < test, "{line}: order {ran:#?}");
                }
                tasks.push(args.first().cloned().unwrap_or_default());
            }
            ReadmeCommand::Bench(args) => {
                // Forwarded to the release `mistral-bench` with its options unchanged.
                let ran = dry_run(&[vec!["bench".to_string()], args.clone()].concat());
                let expected = format!("--bin mistral-bench -- {}", args.join(" "));
                assert!(
                    ran.iter()
                        .any(|l| l.contains("--release")
                            && l.trim_end().ends_with(expected.trim_end())),
                    "{line}: {ran:#?}"
                );
                tasks.push("bench".into());
            }
            _ => {}
        }
    }
    for needed in ["test", "bench"] {
        assert!(
            tasks.iter().any(|t| t == needed),
            "the README shows no `cargo xtask {needed}`"
        );
    }
}

#[test]
fn an_unknown_task_fails_with_the_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--dry-run", "tset"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown task \"tset\"") && stderr.contains("usage: cargo xtask"),
        "{stderr}"
    );
}
