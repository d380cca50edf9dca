//! Every `cargo xtask bench` line the README shows, run in order through `mistral-bench` (what
//! the xtask runs; `xtask/tests/readme.rs` checks that forwarding) in a temporary working
//! directory, so a renamed option or a `--compare` that stops reading `--json` fails here.
//!
//! Each line gets `--quick` where it lacks it, and `--backend cpu` where it names no backend:
//! the quick run of every backend present is `quick.rs`'s test.

use std::process::Command;

use mistral_tests::readme::{select, ReadmeCommand};

#[test]
fn every_bench_command_of_the_readme_runs() {
    let shown = select(|c| match c {
        ReadmeCommand::Bench(args) => Some(args),
        _ => None,
    });
    assert!(
        shown.iter().any(|(_, a)| a.is_empty()),
        "the README's quick start shows no plain `cargo xtask bench`"
    );
    assert!(
        shown
            .iter()
            .any(|(_, a)| a.iter().any(|w| w == "--compare")),
        "the README shows no `--compare`"
    );
    let work = tempfile::tempdir().unwrap();
    for (line, shown_args) in &shown {
        let mut args = shown_args.clone();
        if !args.iter().any(|a| a == "--quick") {
            args.push("--quick".into());
        }
        if !args.iter().any(|a| a == "--backend") {
            args.extend(["--backend".into(), "cpu".into()]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_mistral-bench"))
            .args(&args)
            .current_dir(work.path())
            .output()
            .expect("run mistral-bench");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "README command failed: {line}\nran: mistral-bench {}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("| figure |"), "{line}: no table\n{stdout}");
        if let Some(i) = args.iter().position(|a| a == "--json") {
            let json = work.path().join(&args[i + 1]);
            assert!(json.is_file(), "{line}: wrote no {}", json.display());
        }
        if let Some(filter) = args.iter().position(|a| a == "--filter") {
            let filter = &args[filter + 1];
            let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| ")).collect();
            assert!(
                rows.iter()
                    .skip(2)
                    .all(|r| r.contains(filter.as_str()) || r.starts_with("| figure")),
                "{line}: rows outside the filter\n{stdout}"
            );
        }
        if args.iter().any(|a| a == "--compare") {
            assert!(
                stdout.contains("| change |"),
                "{line}: no change column\n{stdout}"
            );
        }
    }
}
