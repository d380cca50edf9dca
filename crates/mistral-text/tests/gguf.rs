//! Tokenizers and chat formats from GGUF metadata, against Hugging Face transformers.
//!
//! - SmolLM2 (byte-level BPE, ChatML template): ids, rendered template text and decoded text equal
//!   transformers 5.24's on the real GGUF (`tests/data/smollm2_tokens.json`, written by
//!   `tools/tokenizer/make_gguf_tokenizer_golden.py`); needs the model that `cargo xtask fetch`
//!   downloads.
//! - Mistral (SentencePiece): metadata built from `tokenizer.model`'s pieces, as llama.cpp writes
//!   it into a Mistral GGUF, gives the ids of the `tokenizer.json` path.

mod common;

use std::path::Path;
use std::sync::OnceLock;

use common::{
    hf, ids_of, model_dir, read_jsonl, sentencepiece_pieces, smollm2_gguf, test_data, Rng,
};
use mistral_text::chat::{Message, Role};
use mistral_text::{ChatFormat, GgufVocab, TextModel, Tokenizer};
use serde_json::Value;

fn smollm2() -> &'static TextModel {
    static M: OnceLock<TextModel> = OnceLock::new();
    M.get_or_init(|| TextModel::from_gguf_path(&smollm2_gguf()).expect("load SmolLM2's tokenizer"))
}

fn golden() -> Value {
    let path = test_data("smollm2_tokens.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("golden JSON")
}

fn messages(v: &Value) -> Vec<Message> {
    v.as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            Message::new(
                m["role"].as_str().unwrap().parse::<Role>().unwrap(),
                m["content"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn smollm2_text_ids_match_transformers() {
    let m = smollm2();
    let g = golden();
    let texts = g["texts"].as_array().unwrap();
    assert!(texts.len() >= 15);
    for c in texts {
        let text = c["text"].as_str().unwrap();
        let ids = m.encode_text(text).unwrap();
        assert_eq!(ids, ids_of(&c["ids"]), "encode_text({text:?})");
        assert_eq!(
            m.tokenizer().decode(&ids).unwrap(),
            c["decoded"].as_str().unwrap(),
            "decode of {text:?}"
        );
    }
}

#[test]
fn smollm2_chat_ids_and_rendering_match_transformers() {
    let m = smollm2();
    assert!(matches!(m.chat_format(), ChatFormat::Jinja(_)));
    let g = golden();
    let chats = g["chats"].as_array().unwrap();
    assert!(chats.len() >= 10);
    for c in chats {
        let name = c["name"].as_str().unwrap();
        let msgs = messages(&c["messages"]);
        let gen = c["add_generation_prompt"].as_bool().unwrap();
        assert_eq!(
            m.render_chat(&msgs, gen).unwrap().as_deref(),
            c["rendered"].as_str(),
            "{name}: rendered text (add_generation_prompt={gen})"
        );
        assert_eq!(
            m.encode_chat(&msgs, gen).unwrap(),
            ids_of(&c["ids"]),
            "{name}: ids (add_generation_prompt={gen})"
        );
    }
}

/// A user typing `<|im_end|>` gets the control token, as transformers' default does.
#[test]
fn smollm2_special_text_in_a_message_is_the_control_token() {
    let m = smollm2();
    let im_end = m.tokenizer().token_id("<|im_end|>").unwrap();
    let ids = m
        .encode_chat(&[Message::user("a<|im_end|>b")], true)
        .unwrap();
    let count = ids.iter().filter(|&&id| id == im_end).count();
    // The system turn's, the typed one, the user turn's.
    assert_eq!(count, 3, "{ids:?}");
    // Plain `Tokenizer::encode` keeps it as text.
    let plain = m.tokenizer().encode("<|im_end|>", false).unwrap();
    assert!(!plain.contains(&im_end), "{plain:?}");
    assert_eq!(m.tokenizer().decode(&plain).unwrap(), "<|im_end|>");
}

#[test]
fn smollm2_stops_at_im_end() {
    let m = smollm2();
    let im_end = m.tokenizer().token_id("<|im_end|>").unwrap();
    assert_eq!(im_end, 2);
    assert!(m.stop_ids().contains(&im_end), "{:?}", m.stop_ids());
    assert!(m.stop_ids().contains(&m.tokenizer().eos_id()));
    assert!(!m.add_bos());
    assert!(m.tokenizer().is_byte_level());
}

/// Whether every UTF-8 byte of `c` has a token in SmolLM2's vocabulary. It lacks the bytes 0x04,
/// 0x06, 0x13, 0x14, 0x16, 0x1D, and the lead bytes 0xF1 and 0xF2 (U+40000..U+BFFFF, unassigned
/// planes); byte-level BPE has no unknown token, so transformers drops such bytes, and so do we.
fn has_all_bytes(c: char) -> bool {
    !matches!(
        c as u32,
        0x04 | 0x06 | 0x13 | 0x14 | 0x16 | 0x1D | 0x40000..=0xBFFFF
    )
}

#[test]
fn smollm2_drops_bytes_the_vocabulary_lacks_like_transformers() {
    let tok = smollm2().tokenizer();
    // transformers 5.24 on the same GGUF: tokenizer("Q\U00077361 x") == [65, 132, 231, 111, 1792].
    assert_eq!(
        tok.encode("Q\u{77361} x", false).unwrap(),
        [65, 132, 231, 111, 1792]
    );
}

#[test]
fn smollm2_stream_decoder_holds_split_characters() {
    let m = smollm2();
    let tok = m.tokenizer();
    let mut rng = Rng(11);
    for _ in 0..200 {
        let text: String = rng
            .unicode_string(40)
            .chars()
            .filter(|&c| has_all_bytes(c))
            .collect();
        let ids = tok.encode(&text, false).unwrap();
        let mut stream = tok.stream();
        let mut out = String::new();
        for &id in &ids {
            let piece = stream.push(id).unwrap();
            assert!(
                !piece.contains('\u{fffd}') || text.contains('\u{fffd}'),
                "{text:?}"
            );
            out.push_str(&piece);
        }
        out.push_str(&stream.finish());
        assert_eq!(out, text);
        assert_eq!(tok.decode(&ids).unwrap(), text);
    }
    // An emoji is four bytes over several pieces: nothing comes out before the last one.
    let ids = tok.encode("😀", false).unwrap();
    assert!(ids.len() > 1, "{ids:?}");
    let mut stream = tok.stream();
    for &id in &ids[..ids.len() - 1] {
        assert_eq!(stream.push(id).unwrap(), "");
    }
    assert_eq!(stream.push(ids[ids.len() - 1]).unwrap(), "😀");
    assert_eq!(tok.piece(ids[0]).map(|p| p.is_empty()), Some(false));
}

/// Invalid UTF-8 decodes as `String::from_utf8_lossy` (what `tokenizers` does): one U+FFFD per
/// maximal invalid sequence.
#[test]
fn smollm2_invalid_utf8_decodes_like_tokenizers() {
    let tok = smollm2().tokenizer();
    // Two bytes of a three-byte character, then ASCII.
    let e6 = tok.token_id("æ").unwrap();
    let x9d = tok.token_id("Ŀ").unwrap();
    let a = tok.token_id("a").unwrap();
    let decoded = tok.decode(&[e6, x9d, a]).unwrap();
    assert_eq!(decoded, String::from_utf8_lossy(&[0xE6, 0x9D, b'a']));
    let mut stream = tok.stream();
    let mut out = String::new();
    for id in [e6, x9d, a] {
        out.push_str(&stream.push(id).unwrap());
    }
    out.push_str(&stream.finish());
    assert_eq!(out, decoded);
}

mod roundtrip {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        /// Byte-level BPE loses nothing: decode(encode(x)) == x for any text of assigned,
        /// non-control characters (see `has_all_bytes` for what SmolLM2 cannot spell).
        #[test]
        fn byte_level_decode_inverts_encode(text in "\\PC{0,48}") {
            let tok = smollm2().tokenizer();
            let ids = tok.encode(&text, false).unwrap();
            prop_assert_eq!(tok.decode(&ids).unwrap(), text);
        }
    }
}

/// Mistral's `tokenizer.model` as the metadata llama.cpp writes into a Mistral GGUF.
fn mistral_gguf_vocab() -> GgufVocab {
    let bytes = std::fs::read(model_dir().join("tokenizer.model")).unwrap();
    let pieces = sentencepiece_pieces(&bytes);
    assert_eq!(pieces.len(), 32000);
    GgufVocab {
        model: "llama".into(),
        tokens: pieces.iter().map(|p| p.0.clone()).collect(),
        scores: Some(pieces.iter().map(|p| p.1).collect()),
        token_types: Some(pieces.iter().map(|p| p.2).collect()),
        bos_id: Some(1),
        eos_id: Some(2),
        unk_id: Some(0),
        add_bos: Some(true),
        add_eos: Some(false),
        ..GgufVocab::default()
    }
}

fn mistral_from_metadata() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        Tokenizer::from_gguf_vocab(&mistral_gguf_vocab(), Path::new("<mistral metadata>"))
            .expect("SentencePiece from metadata")
    })
}

#[test]
fn mistral_sentencepiece_from_metadata_equals_tokenizer_json() {
    let gguf = mistral_from_metadata();
    let mut texts: Vec<String> = read_jsonl(&test_data("sp_golden.jsonl"))
        .iter()
        .filter_map(|c| c.get("ids").and(c["text"].as_str()).map(Into::into))
        .collect();
    for c in read_jsonl(&test_data("chat_template_v1.jsonl")) {
        if let Some(list) = c.get("messages").and_then(Value::as_array) {
            texts.extend(
                list.iter()
                    .filter_map(|m| m["content"].as_str().map(Into::into)),
            );
        }
    }
    let mut rng = Rng(5);
    texts.extend((0..400).map(|_| rng.unicode_string(60)));
    assert!(texts.len() > 700);
    for t in &texts {
        let ids = hf().encode(t, true).unwrap();
        assert_eq!(gguf.encode(t, true).unwrap(), ids, "encode({t:?})");
        assert_eq!(
            gguf.decode(&ids).unwrap(),
            hf().decode(&ids).unwrap(),
            "decode({t:?})"
        );
    }
    for id in 0..32000 {
        assert_eq!(gguf.piece(id), hf().piece(id));
    }
}

#[test]
fn mistral_metadata_without_template_is_mistral_v1() {
    let m =
        TextModel::from_gguf_vocab(&mistral_gguf_vocab(), Path::new("<mistral metadata>")).unwrap();
    assert!(matches!(m.chat_format(), ChatFormat::MistralV1));
    assert_eq!(m.stop_ids(), [2]);
    let msgs = [Message::user("Hi")];
    assert_eq!(
        m.encode_chat(&msgs, true).unwrap(),
        [1, 733, 16289, 28793, 15359, 733, 28748, 16289, 28793]
    );
    // Special-token text stays text on the Mistral path.
    assert_eq!(
        m.encode_text("<s>").unwrap(),
        hf().encode("<s>", true).unwrap()
    );
}

/// A Mistral GGUF carrying the Hub's `[INST]` template still takes the mistral-common path.
#[test]
fn mistral_metadata_with_inst_template_is_mistral_v1() {
    let mut v = mistral_gguf_vocab();
    v.chat_template = Some(
        "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}".into(),
    );
    let m = TextModel::from_gguf_vocab(&v, Path::new("<mistral metadata>")).unwrap();
    assert!(matches!(m.chat_format(), ChatFormat::MistralV1));
}

/// `encode_special` on SentencePiece: `<s>` written in the text is BOS, and text after a special
/// token gets no dummy prefix (transformers' Metaspace `prepend_scheme: first`).
#[test]
fn sentencepiece_encode_special_splits_at_control_tokens() {
    let tok = mistral_from_metadata();
    let ids = tok.encode_special("Hi</s><s>Hi", false).unwrap();
    let hi = tok.encode("Hi", false).unwrap();
    let mut want = hi.clone();
    want.extend([2, 1]);
    let tail = &ids[want.len()..];
    assert_eq!(&ids[..want.len()], want.as_slice(), "{ids:?}");
    // "Hi" without the dummy prefix: not `▁Hi`.
    assert_ne!(tail, hi.as_slice());
    assert_eq!(tok.decode(tail).unwrap(), "Hi");
}

#[test]
fn unknown_pre_tokenizer_is_named() {
    let v = GgufVocab {
        model: "gpt2".into(),
        pre: Some("no-such-pre".into()),
        tokens: vec!["a".into(), "b".into()],
        merges: Some(vec![]),
        eos_id: Some(0),
        ..GgufVocab::default()
    };
    let e = Tokenizer::from_gguf_vocab(&v, Path::new("x.gguf")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("\"no-such-pre\"") && msg.contains("smollm"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
    let v = GgufVocab {
        model: "rwkv".into(),
        ..v
    };
    let msg = Tokenizer::from_gguf_vocab(&v, Path::new("x.gguf"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("\"rwkv\""), "{msg}");
}

/// The `mistral_gguf` adapter reads what llama.cpp writes.
#[test]
fn gguf_file_adapter_reads_the_tokenizer_keys() {
    let f = mistral_gguf::GgufFile::open(&smollm2_gguf()).unwrap();
    let v = GgufVocab::from_gguf(&f).unwrap();
    assert_eq!(v.model, "gpt2");
    assert_eq!(v.pre.as_deref(), Some("smollm"));
    assert_eq!(v.tokens.len(), 49152);
    assert_eq!(v.merges.as_ref().map(Vec::len), Some(48900));
    assert_eq!(
        (v.bos_id, v.eos_id, v.unk_id, v.pad_id),
        (Some(1), Some(2), Some(0), Some(2))
    );
    assert_eq!(v.add_bos, Some(false));
    assert!(v.chat_template.as_deref().unwrap().contains("<|im_start|>"));
}
