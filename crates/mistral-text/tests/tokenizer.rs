//! Encoding and decoding against the real SentencePiece library, and the two loaders against
//! each other.

mod common;

use common::{both, hf, ids_of, model_dir, read_jsonl, sp, test_data, Rng};
use mistral_text::Tokenizer;

/// Ids from `sentencepiece` (tools/tokenizer/make_sp_golden.py): both loaders match them exactly.
#[test]
fn encode_matches_sentencepiece_golden() {
    let cases: Vec<_> = read_jsonl(&test_data("sp_golden.jsonl"))
        .into_iter()
        .filter(|c| c.get("ids").is_some())
        .collect();
    assert!(cases.len() >= 300, "golden file too small: {}", cases.len());
    for (name, tok) in both() {
        for c in &cases {
            let text = c["text"].as_str().unwrap();
            assert_eq!(
                tok.encode(text, false).unwrap(),
                ids_of(&c["ids"]),
                "{name}: encode({text:?})"
            );
        }
    }
}

/// Texts from `sentencepiece`'s decode of id sequences mixing byte pieces (valid and invalid
/// UTF-8), `<s>`, `</s>`, `<unk>` and ordinary pieces.
#[test]
fn decode_matches_sentencepiece_golden() {
    let cases: Vec<_> = read_jsonl(&test_data("sp_golden.jsonl"))
        .into_iter()
        .filter(|c| c.get("decode").is_some())
        .collect();
    assert!(cases.len() >= 200, "golden file too small: {}", cases.len());
    for (name, tok) in both() {
        for c in &cases {
            let ids = ids_of(&c["decode"]);
            assert_eq!(
                tok.decode(&ids).unwrap(),
                c["text"].as_str().unwrap(),
                "{name}: decode({ids:?})"
            );
        }
    }
}

/// The two loaders agree on hand-picked and on random strings (the golden file covers fewer).
#[test]
fn loaders_agree_on_many_strings() {
    let mut texts: Vec<String> = [
        "",
        " ",
        "\t",
        "\n\n\n",
        "  x  ",
        "<s>",
        "</s>",
        "<s>text</s>",
        "[INST] a [/INST]",
        "12345 67890",
        "日本語 と English 😀",
        "e\u{301}",
        "\u{feff}",
        "a\u{0}b",
        "🏳️‍🌈 flags 🇯🇵",
        "    def f():\n        pass",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rng = Rng(7);
    texts.extend((0..500).map(|_| rng.unicode_string(60)));
    texts.push(rng.unicode_string(3000));
    for t in &texts {
        assert_eq!(
            hf().encode(t, true).unwrap(),
            sp().encode(t, true).unwrap(),
            "encode({t:?})"
        );
    }
}

/// decode(encode(s)) == s for random unicode (U+2581 excluded: SentencePiece reads it as a space).
#[test]
fn decode_inverts_encode() {
    let mut rng = Rng(2024);
    for i in 0..400 {
        let s = rng.unicode_string(50);
        for (name, tok) in both() {
            let ids = tok.encode(&s, i % 2 == 0).unwrap();
            assert_eq!(
                tok.decode(&ids).unwrap(),
                s,
                "{name}: round trip of {s:?} via {ids:?}"
            );
        }
    }
}

#[test]
fn special_ids_and_sizes() {
    for (name, tok) in both() {
        assert_eq!(tok.vocab_size(), 32000, "{name}");
        assert_eq!((tok.bos_id(), tok.eos_id()), (1, 2), "{name}");
        assert_eq!(tok.piece(1), Some("<s>"), "{name}");
        assert_eq!(tok.piece(13), Some("<0x0A>"), "{name}");
        assert_eq!(tok.piece(22557), Some("▁Hello"), "{name}");
        assert_eq!(tok.piece(32000), None, "{name}");
        assert_eq!(tok.encode("Hello", true).unwrap(), [1, 22557], "{name}");
        assert_eq!(tok.encode("", true).unwrap(), [1], "{name}");
        assert_eq!(tok.encode("", false).unwrap(), Vec::<u32>::new(), "{name}");
        // BOS and EOS are skipped; the dummy-prefix space is removed once.
        assert_eq!(
            tok.decode(&[1, 22557, 1526, 2]).unwrap(),
            "Hello world",
            "{name}"
        );
        assert_eq!(tok.decode(&[]).unwrap(), "", "{name}");
    }
}

/// Control-token text is plain text, never the control id.
#[test]
fn control_token_text_is_plain_text() {
    for (name, tok) in both() {
        let ids = tok.encode("<s></s><unk>", false).unwrap();
        assert!(!ids.iter().any(|&id| id <= 2), "{name}: {ids:?}");
        assert_eq!(
            tok.encode("<s>", false).unwrap(),
            [523, 28713, 28767],
            "{name}"
        );
        assert_eq!(tok.decode(&ids).unwrap(), "<s></s><unk>", "{name}");
    }
}

#[test]
fn from_dir_and_embedded() {
    let dir_tok = Tokenizer::from_dir(&model_dir()).unwrap();
    assert!(
        dir_tok.source().ends_with("tokenizer.json"),
        "tokenizer.json is preferred: {dir_tok:?}"
    );
    let only_model =
        std::env::temp_dir().join(format!("mistral-text-only-model-{}", std::process::id()));
    std::fs::create_dir_all(&only_model).unwrap();
    std::fs::copy(
        model_dir().join("tokenizer.model"),
        only_model.join("tokenizer.model"),
    )
    .unwrap();
    let model_tok = Tokenizer::from_dir(&only_model).unwrap();
    std::fs::remove_dir_all(&only_model).unwrap();
    assert!(
        model_tok.source().ends_with("tokenizer.model"),
        "{model_tok:?}"
    );

    let embedded = Tokenizer::embedded().unwrap();
    let text = "Embedded: 東京 🚀 <s> ǅ\n\tdone";
    let want = sp().encode(text, true).unwrap();
    for tok in [&dir_tok, &model_tok, &embedded] {
        assert_eq!(tok.encode(text, true).unwrap(), want, "{tok:?}");
    }
}

#[test]
fn tokenizer_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Tokenizer>();
}
