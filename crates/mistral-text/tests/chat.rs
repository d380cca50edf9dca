//! The v1 chat template against ids produced by mistral-common itself.

mod common;

use common::{both, ids_of, read_jsonl, test_data};
use mistral_core::Error;
use mistral_text::chat::{encode_chat, parse_messages_json, validate_strict, Message, Role};
use serde_json::Value;

fn messages_of(case: &Value) -> Vec<Message> {
    let json = serde_json::json!({ "messages": case["messages"] }).to_string();
    parse_messages_json(&json).unwrap()
}

/// The four conversations of `shared/fixtures/chat_template_v1.jsonl` (copied to `tests/data/`).
#[test]
fn shared_fixtures_match_exactly() {
    let cases = read_jsonl(&test_data("chat_template_v1.jsonl"));
    assert_eq!(cases.len(), 4);
    for (name, tok) in both() {
        for c in &cases {
            let msgs = messages_of(c);
            assert_eq!(
                encode_chat(tok, &msgs).unwrap(),
                ids_of(&c["ids"]),
                "{name}: {msgs:?}"
            );
        }
    }
}

/// Edge cases (system placement, merging, empty and whitespace content, control-token text) and
/// rejected conversations, from tools/tokenizer/make_chat_golden.py.
#[test]
fn mistral_common_golden_cases() {
    let cases = read_jsonl(&test_data("chat_mistral_common.jsonl"));
    assert!(cases.len() >= 25, "{}", cases.len());
    for (name, tok) in both() {
        for c in &cases {
            let case = c["name"].as_str().unwrap();
            let msgs = messages_of(c);
            let got = encode_chat(tok, &msgs);
            match c.get("ids") {
                Some(ids) => assert_eq!(got.unwrap(), ids_of(ids), "{name}: {case}"),
                None => {
                    let err = got.expect_err(case);
                    assert!(matches!(err, Error::InvalidInput(_)), "{case}: {err:?}");
                    assert!(!err.to_string().contains('\n'), "{case}: {err}");
                }
            }
        }
    }
}

#[test]
fn readable_forms() {
    let tok = common::sp();
    let ids = encode_chat(
        tok,
        &[
            Message::system("S"),
            Message::user("Hi"),
            Message::assistant("Yo"),
            Message::user("Q"),
        ],
    )
    .unwrap();
    let text: Vec<&str> = ids.iter().map(|&id| tok.piece(id).unwrap()).collect();
    let joined = text.concat();
    assert_eq!(
        joined,
        "<s>▁[INST]▁S<0x0A><0x0A>Hi▁[/INST]▁Yo</s>▁[INST]▁Q▁[/INST]"
    );
}

#[test]
fn error_messages() {
    let tok = common::sp();
    let err = |msgs: &[Message]| encode_chat(tok, msgs).unwrap_err().to_string();
    assert!(err(&[]).contains("no messages"));
    assert!(err(&[Message::assistant("x")]).contains("must start with a user or system"));
    assert!(
        err(&[Message::user("a"), Message::assistant("x")]).contains("last message must be a user")
    );
    assert!(err(&[
        Message::user("a"),
        Message::assistant(""),
        Message::user("b")
    ])
    .contains("must have content"));
    assert!(err(&[
        Message::user("a"),
        Message::assistant("x"),
        Message::system("s"),
        Message::user("b")
    ])
    .contains("cannot follow an assistant"));
}

#[test]
fn strict_validation() {
    let ok = [
        Message::system("s"),
        Message::user("a"),
        Message::assistant("b"),
        Message::user("c"),
    ];
    validate_strict(&ok).unwrap();
    validate_strict(&ok[1..]).unwrap();
    let bad: [&[Message]; 6] = [
        &[Message::user("a"), Message::user("b")],
        &[
            Message::user("a"),
            Message::assistant("b"),
            Message::assistant("c"),
            Message::user("d"),
        ],
        &[Message::user("a"), Message::system("s"), Message::user("b")],
        &[Message::assistant("a"), Message::user("b")],
        &[Message::system("s")],
        &[Message::user("")],
    ];
    for msgs in bad {
        let e = validate_strict(msgs).expect_err(&format!("{msgs:?}"));
        assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    }
}

#[test]
fn parse_json_shapes() {
    let m = parse_messages_json(r#"{"model": "x", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": ""}, {"type": "text", "text": "b"}], "name": "n"}]}"#).unwrap();
    assert_eq!(m, [Message::system("s"), Message::user("a\n\nb")]);
    let bare = parse_messages_json(r#"[{"role": "assistant", "content": "x"}]"#).unwrap();
    assert_eq!(bare[0].role, Role::Assistant);
    assert_eq!("user".parse::<Role>().unwrap(), Role::User);
    assert_eq!(Role::System.to_string(), "system");
}

#[test]
fn parse_json_errors() {
    let cases = [
        ("not json", "invalid chat JSON"),
        (
            r#"{"messages": [{"role": "user", "content": "a"}"#,
            "invalid chat JSON",
        ),
        (r#"{"msgs": []}"#, "no \"messages\""),
        (r#"{"messages": {}}"#, "must be an array"),
        (r#"42"#, "must be an object"),
        (
            r#"{"messages": [{"role": "tool", "content": "a"}]}"#,
            "unknown message role \"tool\"",
        ),
        (
            r#"{"messages": [{"role": "User", "content": "a"}]}"#,
            "unknown message role",
        ),
        (r#"{"messages": [{"content": "a"}]}"#, "no \"role\""),
        (r#"{"messages": [{"role": "user"}]}"#, "no \"content\""),
        (
            r#"{"messages": [{"role": "user", "content": null}]}"#,
            "no \"content\"",
        ),
        (
            r#"{"messages": [{"role": "user", "content": 5}]}"#,
            "must be a string",
        ),
        (
            r#"{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}"#,
            "only text",
        ),
        (r#"{"messages": ["hi"]}"#, "not a JSON object"),
    ];
    for (json, want) in cases {
        let e = parse_messages_json(json).expect_err(json);
        let msg = e.to_string();
        assert!(
            matches!(e, Error::InvalidInput(_)) && msg.contains(want),
            "{json}: {msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
    // An empty list parses; encoding it is the error.
    let empty = parse_messages_json(r#"{"messages": []}"#).unwrap();
    assert!(encode_chat(common::sp(), &empty)
        .unwrap_err()
        .to_string()
        .contains("no messages"));
}
