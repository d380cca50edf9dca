//! Text in, text out through the `mistral` binary: the chat template's ids, streamed text equal to
//! the decoded ids, sampling options, `tokenize`, `chat`, and bad input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use mistral_text::Tokenizer;

/// A tiny random model with the real 32000-token vocabulary and the real tokenizer beside it.
fn model_with_tokenizer() -> tempfile::TempDir {
    mistral_tests::fixtures::random_model_with_tokenizer()
}

fn mistral(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mistral"))
        .args(args)
        .output()
        .expect("run mistral")
}

/// Runs `mistral` with `input` on its standard input.
fn mistral_with_input(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mistral"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mistral");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(args: &[&str]) -> Output {
    let o = mistral(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn fails(args: &[&str]) -> String {
    let o = mistral(args);
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert!(!o.status.success(), "{args:?} should fail");
    assert!(
        !err.contains("panicked") && err.lines().count() == 1,
        "{args:?}: {err}"
    );
    err
}

fn p(d: &Path) -> &str {
    d.to_str().unwrap()
}

#[test]
fn generate_feeds_the_mistral_common_ids_and_streams_the_decoded_text() {
    let dir = model_with_tokenizer();
    let m = p(dir.path());
    // The first conversation of the chat fixtures (crates/mistral-text/tests/data/chat_template_v1.jsonl), ids from mistral-common.
    let fixture = std::fs::read_to_string(mistral_tests::fixtures::chat_fixtures()).unwrap();
    let first: serde_json::Value = serde_json::from_str(fixture.lines().next().unwrap()).unwrap();
    let prompt = first["messages"][0]["content"].as_str().unwrap();
    let args = [
        "generate",
        "--model",
        m,
        "--prompt",
        prompt,
        "--max-new-tokens",
        "12",
        "--json",
    ];
    let v: serde_json::Value = serde_json::from_slice(&ok(&args).stdout).unwrap();
    assert_eq!(v["prompt_ids"], first["ids"]);
    let ids: Vec<u32> = serde_json::from_value(v["generated_ids"].clone()).unwrap();
    assert!(!ids.is_empty());

    // Streaming: same ids (greedy), stdout is exactly their decoded text plus a newline.
    let streamed = ok(&[
        "generate",
        "--model",
        m,
        "--prompt",
        prompt,
        "--max-new-tokens",
        "12",
    ]);
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    let text = String::from_utf8(streamed.stdout).unwrap();
    assert_eq!(text, format!("{}\n", tok.decode(&ids).unwrap()));
    let summary = String::from_utf8_lossy(&streamed.stderr);
    assert!(
        summary.contains("prompt 18 tokens") && summary.contains("tokens/s"),
        "{summary}"
    );
}

#[test]
fn raw_system_and_sampling_options() {
    let dir = model_with_tokenizer();
    let m = p(dir.path());
    let raw: serde_json::Value = serde_json::from_slice(
        &ok(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "Hello",
            "--raw",
            "--max-new-tokens",
            "1",
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    assert_eq!(raw["prompt_ids"], serde_json::json!([1, 22557]));
    let sys: serde_json::Value = serde_json::from_slice(
        &ok(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "Hi",
            "--system",
            "You are terse.",
            "--max-new-tokens",
            "1",
            "--json",
        ])
        .stdout,
    )
    .unwrap();
    // crates/mistral-text/tests/data/chat_template_v1.jsonl, third conversation.
    assert_eq!(
        sys["prompt_ids"],
        serde_json::json!([
            1, 733, 16289, 28793, 995, 460, 3636, 331, 28723, 13, 13, 23809, 733, 28748, 16289,
            28793
        ])
    );
    // Sampling: the same seed repeats, and the options are validated.
    let sample = |seed: &str| {
        let o = ok(&[
            "generate",
            "--model",
            m,
            "--prompt",
            "Hi",
            "--temperature",
            "1.5",
            "--top-k",
            "50",
            "--top-p",
            "0.95",
            "--seed",
            seed,
            "--max-new-tokens",
            "8",
            "--json",
        ]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["generated_ids"].clone()
    };
    assert_eq!(sample("3"), sample("3"));
    assert!(fails(&["generate", "--model", m, "--prompt", "Hi", "--top-p", "0"]).contains("top-p"));
    assert!(
        fails(&["generate", "--model", m, "--prompt", "Hi", "--raw", "--system", "x"])
            .contains("--system")
    );
}

#[test]
fn tokenize_text_and_chat_files() {
    let dir = model_with_tokenizer();
    let m = p(dir.path());
    let o = ok(&["tokenize", "--model", m, "--text", "Hello", "--json"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        r#"{"ids":[1,22557]}"#
    );
    // A directory holding only the tokenizer works too.
    let only_tok = tempfile::tempdir().unwrap();
    std::fs::copy(
        mistral_tests::fixtures::mistral_tokenizer_dir().join("tokenizer.model"),
        only_tok.path().join("tokenizer.model"),
    )
    .unwrap();
    let fixture = std::fs::read_to_string(mistral_tests::fixtures::chat_fixtures()).unwrap();
    for line in fixture.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let chat = only_tok.path().join("chat.json");
        std::fs::write(
            &chat,
            serde_json::json!({"messages": v["messages"]}).to_string(),
        )
        .unwrap();
        let o = ok(&[
            "tokenize",
            "--model",
            p(only_tok.path()),
            "--chat",
            p(&chat),
            "--json",
        ]);
        let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(got["ids"], v["ids"], "{line}");
    }
}

#[test]
fn chat_keeps_the_conversation_and_survives_a_full_context() {
    let dir = model_with_tokenizer();
    let out = mistral_with_input(
        &[
            "chat",
            "--model",
            p(dir.path()),
            "--max-new-tokens",
            "6",
            "--context-limit",
            "48",
        ],
        "Hi\nTell me a joke.\nAnd another one please.\nOne more.\n",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        4,
        "one reply per turn"
    );
    assert!(err.contains("dropped the oldest turns"), "{err}");
}

#[test]
fn text_bad_input() {
    let dir = model_with_tokenizer();
    let m = p(dir.path());
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, [0x66, 0xff, 0xfe]).unwrap();
    assert!(fails(&["generate", "--model", m, "--prompt-file", p(&bad)]).contains("not UTF-8"));
    let chat = dir.path().join("chat.json");
    std::fs::write(
        &chat,
        r#"{"messages": [{"role": "robot", "content": "x"}]}"#,
    )
    .unwrap();
    assert!(fails(&["tokenize", "--model", m, "--chat", p(&chat)]).contains("robot"));
    std::fs::write(&chat, r#"{"messages": []}"#).unwrap();
    assert!(fails(&["tokenize", "--model", m, "--chat", p(&chat)]).contains("no messages"));
    std::fs::write(&chat, r#"{"messages": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}"#).unwrap();
    fails(&["tokenize", "--model", m, "--chat", p(&chat)]);
    std::fs::write(
        &chat,
        r#"{"messages": [{"role": "user", "content": "x"}, {"role": "user", "content": "y"}]}"#,
    )
    .unwrap();
    fails(&["tokenize", "--model", m, "--chat", p(&chat)]);
    let empty = tempfile::tempdir().unwrap();
    assert!(fails(&["tokenize", "--model", p(empty.path()), "--text", "x"]).contains("tokenizer"));
    std::fs::write(empty.path().join("tokenizer.json"), "{ not json").unwrap();
    assert!(
        fails(&["tokenize", "--model", p(empty.path()), "--text", "x"]).contains("tokenizer.json")
    );
    // The model directory without a tokenizer: text prompts need one, token ids do not.
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    assert!(fails(&["generate", "--model", m, "--prompt", "Hi"]).contains("tokenizer"));
    ok(&[
        "generate",
        "--model",
        m,
        "--tokens",
        "1,2,3",
        "--max-new-tokens",
        "2",
    ]);
}

#[test]
fn chat_keeps_the_history_when_a_message_is_refused() {
    let dir = model_with_tokenizer();
    let chat = |input: String| {
        let out = mistral_with_input(
            &[
                "chat",
                "--model",
                p(dir.path()),
                "--context-limit",
                "30",
                "--max-new-tokens",
                "4",
            ],
            &input,
        );
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let long = vec!["word"; 40].join(" ");
    let med = "one two three four five six seven eight";
    // The refused message must not take the earlier "hi" turn with it: the next message still has
    // to drop "hi" to fit, and says so.
    let err = chat(format!("hi\n{long}\n{med}\n"));
    assert!(
        err.contains("do not fit the context limit of 30 tokens"),
        "{err}"
    );
    assert!(err.contains("dropped the oldest turns"), "{err}");
    assert!(
        fails(&["chat", "--model", p(dir.path()), "--max-new-tokens", "0"]).contains("at least 1")
    );
}
