//! `cargo xtask mutants --rust CRATE [--shard K/N]`: `cargo-mutants` (a maintained mutation tool
//! for Rust) over one of the crates whose behaviour the tests pin down, with the tests that
//! exercise it, and a Markdown report of what survived in `tools/mutants/reports/rust-CRATE.md`.
//!
//! | crate | tests run per mutant |
//! | --- | --- |
//! | `mistral-cpu` | its own, and `mistral-tests` (naive twins, transformers goldens, properties) |
//! | `mistral-model` | its own, and `mistral-tests` (loader, executor, goldens, properties) |
//! | `mistral-text` | its own (SentencePiece, mistral-common and transformers goldens, properties) |
//! | `mistral-gguf` | its own (bad input, round trips, fuzz) and `mistral-tests` (GGUF goldens) |
//! | `mistral-core` | its own (quantization fixtures from gguf-py and ggml) and `mistral-tests` |
//!
//! cargo-mutants is installed with `cargo install cargo-mutants --locked` when missing.

use std::path::PathBuf;

use crate::root;
use crate::run::{succeeds, Runner};

const CRATES: &[(&str, &[&str])] = &[
    ("mistral-cpu", &["mistral-cpu", "mistral-tests"]),
    ("mistral-model", &["mistral-model", "mistral-tests"]),
    ("mistral-text", &["mistral-text"]),
    ("mistral-gguf", &["mistral-gguf", "mistral-tests"]),
    ("mistral-core", &["mistral-core", "mistral-tests"]),
];

pub fn rust_mutants(run: &Runner, krate: &str, shard: Option<&str>) -> Result<(), String> {
    let (_, tests) = CRATES.iter().find(|(c, _)| *c == krate).ok_or_else(|| {
        let names: Vec<&str> = CRATES.iter().map(|(c, _)| *c).collect();
        format!("mutants --rust: {krate:?} is not one of {names:?}")
    })?;
    if !succeeds("cargo", &["mutants", "--version"]) {
        run.cargo(&["install", "cargo-mutants", "--locked"], &[])?;
    }
    let out_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("mutants/rust")
        .join(krate);
    if !run.dry {
        std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    }
    let out = out_dir.to_string_lossy().into_owned();
    let mut args = vec![
        "mutants",
        "-p",
        krate,
        "--output",
        &out,
        "--timeout-multiplier",
        "3",
    ];
    for t in *tests {
        args.extend(["--test-package", t]);
    }
    if let Some(s) = shard {
        args.extend(["--shard", s]);
    }
    // cargo-mutants exits non-zero when a mutant survives: the report says which.
    let env = crate::setup::test_env();
    let status = run.cargo(&args, &env);
    if run.dry {
        return status;
    }
    let results = out_dir.join("mutants.out");
    let read = |name: &str| -> Vec<String> {
        std::fs::read_to_string(results.join(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let (caught, missed, timeout, unviable) = (
        read("caught.txt"),
        read("missed.txt"),
        read("timeout.txt"),
        read("unviable.txt"),
    );
    if caught.len() + missed.len() + timeout.len() == 0 {
        return Err(format!(
            "cargo mutants ran no mutant ({status:?}); see {}",
            results.display()
        ));
    }
    let killed = caught.len() + timeout.len();
    let mut md = format!(
        "# Mutation report: `{krate}` (cargo-mutants)\n\n\
         `cargo xtask mutants --rust {krate}{}` on {}; tests: {}.\n\n\
         | mutants | caught | timeout (caught) | missed | unviable (did not build) | kill rate |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {} | {} | {} | {} | {} | {:.0}% |\n\n",
        shard.map_or(String::new(), |s| format!(" --shard {s}")),
        crate::run::today(),
        tests.join(", "),
        killed + missed.len() + unviable.len(),
        caught.len(),
        timeout.len(),
        missed.len(),
        unviable.len(),
        100.0 * killed as f64 / (killed + missed.len()) as f64,
    );
    md += "Kill rate: (caught + timeout) / (caught + timeout + missed).\n\n## Missed\n\n";
    for m in &missed {
        md += &format!("- `{m}`\n");
    }
    let report = root().join(format!("tools/mutants/reports/rust-{krate}.md"));
    std::fs::write(&report, md).map_err(|e| format!("{}: {e}", report.display()))?;
    eprintln!("report: {}", report.display());
    Ok(())
}
