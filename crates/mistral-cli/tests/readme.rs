//! Every `mistral` command the README shows (quick start and usage), run as shown on small inputs,
//! so the documentation and the binary cannot drift: a renamed flag or subcommand fails here.
//!
//! What is substituted, and nothing else: `DIR` is a tiny random model with the real tokenizer;
//! the 7B `--config` (checked to exist) becomes the tiny config; an absolute `--out` lands in a
//! temporary directory, which is also the working directory (with a `chat.json` for
//! `tokenize --chat`); generation is capped at 8 new tokens; `chat` reads one line and then EOF.
//! `--backend cuda` runs on the CUDA emulator where there is no driver; `--backend wgpu` is skipped
//! under `MISTRAL_SKIP_WGPU`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use mistral_tests::fixtures::{
    random_model_with_tokenizer, smollm2_gguf, workspace_root, TINY_CONFIG,
};
use mistral_tests::readme::{select, ReadmeCommand};

/// Generation is capped so a random model's output stays short.
const MAX_NEW_TOKENS: usize = 8;

#[test]
fn every_mistral_command_of_the_readme_runs() {
    let shown = select(|c| match c {
        ReadmeCommand::Mistral(args) => Some(args),
        _ => None,
    });
    // The quick start's and the usage block's: generate, chat, devices, random-model, logits, ...
    assert!(
        shown.len() >= 8,
        "too few mistral commands found: {shown:?}"
    );
    let subcommands: Vec<&str> = shown.iter().map(|(_, a)| a[0].as_str()).collect();
    for needed in [
        "quantize",
        "generate",
        "chat",
        "tokenize",
        "logits",
        "random-model",
        "devices",
    ] {
        assert!(
            subcommands.contains(&needed),
            "README shows no `mistral {needed}`"
        );
    }

    let model = random_model_with_tokenizer();
    let work = tempfile::tempdir().unwrap();
    let tiny_config = work.path().join("tiny-config.json");
    std::fs::write(&tiny_config, TINY_CONFIG).unwrap();
    std::fs::write(
        work.path().join("chat.json"),
        r#"[{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "How are you?"}]"#,
    )
    .unwrap();

    let mut ran = 0;
    for (line, shown_args) in &shown {
        let args = substitute(shown_args, model.path(), &tiny_config, work.path());
        let backend = flag_value(&args, "--backend");
        let env = match backend {
            Some("wgpu") if std::env::var_os("MISTRAL_SKIP_WGPU").is_some() => {
                eprintln!("skipped (MISTRAL_SKIP_WGPU): {line}");
                continue;
            }
            Some("cuda") => match cuda_emu::child_env() {
                Some(env) => env,
                None => {
                    eprintln!("skipped (no CUDA driver or emulator): {line}");
                    continue;
                }
            },
            _ => Vec::new(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_mistral"))
            .args(&args)
            .current_dir(work.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run mistral");
        // `chat` takes one turn; every other command ignores its stdin.
        let _ = child.stdin.take().unwrap().write_all(b"Hello\n");
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "README command failed: {line}\nran: mistral {}\n{stderr}",
            args.join(" ")
        );
        check_effect(
            line,
            &args,
            work.path(),
            &String::from_utf8_lossy(&out.stdout),
        );
        ran += 1;
    }
    assert!(ran >= 6, "only {ran} README commands ran");
}

/// What a command must have left behind, beyond a zero exit status.
fn check_effect(line: &str, args: &[String], work: &Path, stdout: &str) {
    match args[0].as_str() {
        "random-model" => {
            let out = Path::new(flag_value(args, "--out").unwrap());
            assert!(out.join("config.json").is_file(), "{line}: no config.json");
        }
        "logits" => {
            let out = work.join(flag_value(args, "--out").unwrap());
            assert!(out.is_file(), "{line}: no {}", out.display());
        }
        "tokenize" => {
            // `--json`: the ids of the chat, starting with BOS.
            let v: serde_json::Value = serde_json::from_str(stdout.trim())
                .unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {stdout}"));
            let ids = v.get("ids").unwrap_or(&v);
            assert_eq!(ids[0], 1, "{line}: {stdout}");
        }
        "generate"
            if flag_value(args, "--model").is_some_and(|m| m.ends_with(".gguf"))
                && flag_value(args, "--prompt") == Some("What is the capital of France?") =>
        {
            // The real model: transformers' greedy answer (tests/golden/smollm2/meta.json).
            assert_eq!(stdout.trim(), "The capital of France is Paris.", "{line}");
        }
        "quantize" => {
            let out = Path::new(flag_value(args, "--out").unwrap());
            let f = mistral_gguf::GgufFile::open(out).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(f.tensors().iter().any(|t| t.dtype.is_quantized()), "{line}");
        }
        "generate" if args.iter().any(|a| a == "--json") => {
            let v: serde_json::Value = serde_json::from_str(stdout.trim())
                .unwrap_or_else(|e| panic!("{line}: not JSON ({e}): {stdout}"));
            let n = v["generated_ids"].as_array().map_or(0, Vec::len);
            assert!(
                (1..=MAX_NEW_TOKENS).contains(&n),
                "{line}: {n} generated ids: {stdout}"
            );
        }
        _ => {}
    }
}

/// The shown arguments with the substitutions of the module docs.
fn substitute(shown: &[String], model: &Path, tiny_config: &Path, work: &Path) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(shown.len() + 2);
    let mut it = shown.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => {
                let shown_config = it.next().expect("--config takes a path");
                assert!(
                    workspace_root().join(shown_config).is_file(),
                    "the README's config {shown_config} is not in the repository"
                );
                out.extend(["--config".into(), path(tiny_config)]);
            }
            "--out" => {
                let target = it.next().expect("--out takes a path");
                let target = if Path::new(target).is_absolute() {
                    path(&work.join(Path::new(target).file_name().unwrap()))
                } else {
                    target.clone()
                };
                out.extend(["--out".into(), target]);
            }
            "--max-new-tokens" => {
                let n: usize = it.next().unwrap().parse().unwrap();
                out.extend(["--max-new-tokens".into(), n.min(MAX_NEW_TOKENS).to_string()]);
            }
            "DIR" => out.push(path(model)),
            // The real model of the quick start, from the cache `cargo xtask fetch` fills.
            a if a.starts_with(".cache/models/") => out.push(path(&smollm2_gguf())),
            _ => out.push(a.clone()),
        }
    }
    let generates = matches!(out[0].as_str(), "generate" | "chat");
    if generates && flag_value(&out, "--max-new-tokens").is_none() {
        out.extend(["--max-new-tokens".into(), MAX_NEW_TOKENS.to_string()]);
    }
    out
}

fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn the_readmes_install_path_builds_the_mistral_binary() {
    let installs = select(|c| match c {
        ReadmeCommand::Install(p) => Some(p),
        _ => None,
    });
    assert!(!installs.is_empty(), "the README shows no `cargo install`");
    for (_, p) in installs {
        let manifest = workspace_root().join(&p).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("README installs {p}: {}: {e}", manifest.display()));
        assert!(
            text.contains("[[bin]]\nname = \"mistral\""),
            "{p} does not build a `mistral` binary"
        );
    }
}
