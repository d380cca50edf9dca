//! Bad files and bad input give one-line errors, never panics.

mod common;

use std::path::{Path, PathBuf};

use common::{model_dir, Rng};
use mistral_core::Error;
use mistral_text::Tokenizer;

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mistral-text-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn one_line(e: &Error) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "error spans lines: {s:?}");
    s
}

#[test]
fn missing_files() {
    let d = scratch("missing");
    let e = Tokenizer::from_tokenizer_json(&d.join("tokenizer.json")).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && one_line(&e).contains("tokenizer.json"),
        "{e}"
    );
    let e = Tokenizer::from_sentencepiece(&d.join("tokenizer.model")).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && one_line(&e).contains("tokenizer.model"),
        "{e}"
    );
    let e = Tokenizer::from_dir(&d).unwrap_err();
    assert!(
        one_line(&e).contains("neither tokenizer.json nor tokenizer.model"),
        "{e}"
    );
    let e = Tokenizer::from_dir(&d.join("nope")).unwrap_err();
    assert!(one_line(&e).contains("not a directory"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

fn json_error(bytes: &[u8]) -> String {
    let e =
        Tokenizer::from_tokenizer_json_bytes(bytes, Path::new("bad/tokenizer.json")).unwrap_err();
    assert!(matches!(e, Error::Model { .. }), "{e:?}");
    one_line(&e)
}

#[test]
fn corrupt_tokenizer_json() {
    assert!(json_error(b"this is not json").contains("not a valid tokenizer.json"));
    assert!(json_error(b"{}").contains("bad/tokenizer.json"));
    let real = std::fs::read(model_dir().join("tokenizer.json")).unwrap();
    assert!(json_error(&real[..real.len() / 2]).contains("not a valid tokenizer.json"));
    // Valid JSON without the special tokens this crate needs.
    let no_bos = r#"{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}"#;
    assert!(json_error(no_bos.as_bytes()).contains("has no <s> token"));
    // Through a file too.
    let d = scratch("json");
    std::fs::write(d.join("tokenizer.json"), &real[..1000]).unwrap();
    let e = Tokenizer::from_dir(&d).unwrap_err();
    assert!(one_line(&e).contains("tokenizer.json"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

fn model_error(bytes: &[u8]) -> String {
    let e =
        Tokenizer::from_sentencepiece_bytes(bytes, Path::new("bad/tokenizer.model")).unwrap_err();
    assert!(matches!(e, Error::Model { .. }), "{e:?}");
    one_line(&e)
}

#[test]
fn corrupt_tokenizer_model() {
    let real = std::fs::read(model_dir().join("tokenizer.model")).unwrap();
    assert!(model_error(b"").contains("no pieces"));
    assert!(model_error(&real[..real.len() / 3]).contains("not a SentencePiece model"));
    assert!(model_error(br#"{"version": "1.0"}"#).contains("bad/tokenizer.model"));
    // Random bytes of many lengths and seeds: always an error, never a panic.
    let mut rng = Rng(5);
    for _ in 0..300 {
        let bytes: Vec<u8> = (0..rng.range(0, 3000))
            .map(|_| rng.next_u64() as u8)
            .collect();
        model_error(&bytes);
    }
    // The real file with random bytes overwritten: an error or a working tokenizer, no panic.
    for _ in 0..100 {
        let mut bytes = real.clone();
        for _ in 0..rng.range(1, 8) {
            let i = rng.range(0, bytes.len() as u64 - 1) as usize;
            bytes[i] = rng.next_u64() as u8;
        }
        if let Ok(t) = Tokenizer::from_sentencepiece_bytes(&bytes, Path::new("x")) {
            let ids = t.encode("still works? 東京", true).unwrap();
            t.decode(&ids).unwrap();
        }
    }
}

/// A hand-built model that is valid protobuf but not one this crate can run.
#[test]
fn unsupported_sentencepiece_models() {
    fn piece(text: &str, kind: u8) -> Vec<u8> {
        let mut p = vec![0x0a, text.len() as u8];
        p.extend_from_slice(text.as_bytes());
        p.extend_from_slice(&[0x15, 0, 0, 0, 0, 0x18, kind]);
        let mut out = vec![0x0a, p.len() as u8];
        out.extend(p);
        out
    }
    let mut base = piece("<unk>", 2);
    base.extend(piece("<s>", 3));
    base.extend(piece("</s>", 3));
    base.extend(piece("a", 1));
    // trainer_spec { model_type: BPE }
    let bpe = [0x12, 0x02, 0x18, 0x02];
    let unigram = [0x12, 0x02, 0x18, 0x01];
    let mut ok = base.clone();
    ok.extend(bpe);
    let t = Tokenizer::from_sentencepiece_bytes(&ok, Path::new("tiny.model")).unwrap();
    assert_eq!(
        t.encode("aa", true).unwrap(),
        [1, 0, 3, 3],
        "▁ is unknown here and there is no byte fallback"
    );

    let mut m = base.clone();
    m.extend(unigram);
    assert!(model_error(&m).contains("only BPE"));
    let mut m = base.clone();
    m.extend(bpe);
    m.extend([0x1a, 0x03, 0x12, 0x01, 0xff]); // normalizer_spec { precompiled_charsmap: "\xff" }
    assert!(model_error(&m).contains("identity normalizer"));
    let mut m = base.clone();
    m.extend([0x12, 0x05, 0x18, 0x02, 0x98, 0x02, 0x01]); // byte_fallback without byte pieces
    assert!(model_error(&m).contains("byte fallback"));
    let mut m = piece("<s>", 3);
    m.extend(piece("<unk>", 2));
    m.extend(bpe);
    assert!(model_error(&m).contains("unk_id 0"));
    let mut m = base.clone();
    m.extend(piece("a", 1));
    m.extend(bpe);
    assert!(model_error(&m).contains("appears twice"));
}

#[test]
fn out_of_range_ids() {
    let tok = common::sp();
    let e = tok.decode(&[22557, 32000]).unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput(_)) && one_line(&e).contains("token id 32000"),
        "{e}"
    );
    assert!(common::hf().decode(&[u32::MAX]).is_err());
}
