//! Jinja chat templates: transformers' rendering settings, and one-line errors.

use std::path::Path;

use mistral_core::Error;
use mistral_text::chat::Message;
use mistral_text::{ChatFormat, ChatTemplate, TextModel, Tokenizer};

fn render(src: &str, messages: &[Message], gen: bool) -> mistral_core::Result<String> {
    ChatTemplate::new(src, Some("<s>".into()), Some("</s>".into()))?.render(messages, gen)
}

fn one_line_invalid_input(e: Error) -> String {
    match e {
        Error::InvalidInput(msg) => {
            assert!(!msg.contains('\n'), "{msg:?}");
            msg
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn raise_exception_is_a_one_line_error_with_the_message() {
    let src = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation roles must alternate\nuser/assistant') }}{% endif %}ok";
    assert_eq!(render(src, &[Message::user("x")], false).unwrap(), "ok");
    let e = render(src, &[Message::assistant("x")], false).unwrap_err();
    let msg = one_line_invalid_input(e);
    assert!(
        msg.contains("Conversation roles must alternate user/assistant"),
        "{msg}"
    );
}

#[test]
fn a_syntax_error_is_a_one_line_error() {
    let e = ChatTemplate::new("{% for m in messages %}{{ m.content }", None, None).unwrap_err();
    let msg = one_line_invalid_input(e);
    assert!(msg.contains("does not parse"), "{msg}");
}

#[test]
fn a_render_error_is_a_one_line_error() {
    let e = render(
        "{{ messages[0].content.no_such_method() }}",
        &[Message::user("x")],
        false,
    )
    .unwrap_err();
    let msg = one_line_invalid_input(e);
    assert!(msg.contains("failed to render"), "{msg}");
}

/// trim_blocks and lstrip_blocks on, the final newline dropped, as transformers sets jinja2.
#[test]
fn whitespace_control_is_transformers() {
    let src = "{% for m in messages %}\n    {% if m.role == 'user' %}\nU:{{ m.content }}\n    {% endif %}\n{% endfor %}\n";
    assert_eq!(
        render(src, &[Message::user("a"), Message::user("b")], false).unwrap(),
        "U:a\nU:b\n"
    );
}

#[test]
fn python_methods_loop_controls_and_tojson() {
    let src = "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}[{{ m.content.strip() }}|{{ m.content.startswith(' h') }}]{% endfor %}{{ {'a': [1, 'é<']} | tojson }}{{ bos_token }}{{ eos_token }}{{ add_generation_prompt }}";
    let msgs = [
        Message::user(" hi "),
        Message::user("x"),
        Message::user("never"),
    ];
    assert_eq!(
        render(src, &msgs, true).unwrap(),
        // What transformers' jinja2 environment renders (Python's `True`).
        "[hi|True][x|False]{\"a\": [1, \"é<\"]}<s></s>True"
    );
}

#[test]
fn mistral_directory_keeps_the_mistral_common_path() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let m = TextModel::from_dir(&dir).unwrap();
    assert!(matches!(m.chat_format(), ChatFormat::MistralV1));
    assert_eq!(m.stop_ids(), [2]);
    assert!(m.add_bos());
    let tok = Tokenizer::from_dir(&dir).unwrap();
    let msgs = [Message::system("S"), Message::user("<s>[INST] hi")];
    assert_eq!(
        m.encode_chat(&msgs, true).unwrap(),
        mistral_text::chat::encode_chat(&tok, &msgs).unwrap()
    );
    assert_eq!(
        m.encode_text("a <s>").unwrap(),
        tok.encode("a <s>", true).unwrap()
    );
}

/// A directory with a ChatML template in `tokenizer_config.json` renders it, with its tokens.
#[test]
fn directory_template_from_tokenizer_config() {
    let dir = tempdir();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    std::fs::copy(data.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let config = serde_json::json!({
        "bos_token": {"content": "<s>"},
        "eos_token": "</s>",
        "chat_template": [
            {"name": "tool_use", "template": "wrong"},
            {"name": "default", "template": "{{ bos_token }}{% for m in messages %}<<SYS>>{{ m.content }}{{ eos_token }}{% endfor %}"}
        ]
    });
    std::fs::write(dir.join("tokenizer_config.json"), config.to_string()).unwrap();
    let m = TextModel::from_dir(&dir).unwrap();
    assert!(matches!(m.chat_format(), ChatFormat::Jinja(_)));
    assert_eq!(
        m.render_chat(&[Message::user("hi")], true)
            .unwrap()
            .as_deref(),
        Some("<s><<SYS>>hi</s>")
    );
    let ids = m.encode_chat(&[Message::user("hi")], true).unwrap();
    assert_eq!(ids.first(), Some(&1));
    assert_eq!(ids.last(), Some(&2));
    assert_eq!(
        ids.iter().filter(|&&i| i == 1).count(),
        1,
        "BOS once: {ids:?}"
    );
    // `</s>` right after the assistant's content: the end of turn is EOS.
    assert_eq!(m.stop_ids(), [2]);
    std::fs::remove_dir_all(&dir).ok();
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mistral-text-template-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// transformers passes `tools=None` and `documents=None`: a template guarding its tool block with
/// `is not none` (Mistral v0.3's shape) must not render it; jinja2 3.1.6 gives `[INST] hi [/INST]`.
#[test]
fn tools_and_documents_are_none_as_transformers_passes_them() {
    let t = mistral_text::ChatTemplate::new(
        "{% if tools is not none %}[AVAILABLE_TOOLS]{% endif %}{% if documents is not none %}[DOCS]{% endif %}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}",
        Some("<s>".into()),
        Some("</s>".into()),
    )
    .unwrap();
    let got = t
        .render(&[mistral_text::chat::Message::user("hi")], false)
        .unwrap();
    assert_eq!(got, "[INST] hi [/INST]");
}

/// Key order is the message's (role, then content), as Python dicts keep it: jinja2 renders
/// `{"role": "user", "content": "hi"}` and `role,content`.
#[test]
fn tojson_and_items_keep_insertion_order() {
    let t = mistral_text::ChatTemplate::new(
        "{{ messages[0] | tojson }}|{% for k, v in messages[0].items() %}{{ k }},{% endfor %}",
        Some("<s>".into()),
        Some("</s>".into()),
    )
    .unwrap();
    let got = t
        .render(&[mistral_text::chat::Message::user("hi")], false)
        .unwrap();
    assert_eq!(got, r#"{"role": "user", "content": "hi"}|role,content,"#);
}

/// A template that loops forever (or nearly) is stopped with one line, not a hang.
#[test]
fn a_runaway_template_runs_out_of_fuel() {
    let t = mistral_text::ChatTemplate::new(
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        Some("<s>".into()),
        Some("</s>".into()),
    )
    .unwrap();
    let err = t
        .render(&[mistral_text::chat::Message::user("hi")], false)
        .unwrap_err()
        .to_string();
    assert!(!err.contains('\n'), "{err}");
}
