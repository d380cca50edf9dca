//! A Hugging Face model directory's SentencePiece tokenizer as GGUF `tokenizer.*` metadata, the
//! way llama.cpp's convert_hf_to_gguf.py writes it (`_set_vocab_sentencepiece`): model `llama`,
//! every piece with its score and type, the special ids from the trainer spec, `add_space_prefix`
//! from the normalizer, `add_bos_token`/`add_eos_token` and `chat_template` from
//! `tokenizer_config.json`.

use std::path::Path;

use mistral_core::{Error, Result};
use mistral_gguf::Value;

use crate::proto::Reader;

/// `ModelProto.SentencePiece.Type` numbers are llama.cpp's token types too (normal 1, unknown 2,
/// control 3, user-defined 4, unused 5, byte 6).
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const UNUSED: i32 = 5;

struct Piece {
    text: String,
    score: f32,
    kind: i32,
}

struct Spec {
    model_type: u64,
    unk: i32,
    bos: i32,
    eos: i32,
    pad: i32,
    add_dummy_prefix: bool,
}

fn parse(buf: &[u8]) -> std::result::Result<(Vec<Piece>, Spec), String> {
    let mut pieces = Vec::new();
    // proto2 defaults of TrainerSpec and NormalizerSpec.
    let mut s = Spec {
        model_type: 1,
        unk: 0,
        bos: 1,
        eos: 2,
        pad: -1,
        add_dummy_prefix: true,
    };
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field()? {
        match field {
            1 => {
                let mut p = Piece {
                    text: String::new(),
                    score: 0.0,
                    kind: 1,
                };
                let mut pr = Reader::new(v.as_bytes("pieces")?);
                while let Some((f, v)) = pr.next_field()? {
                    match f {
                        1 => p.text = v.as_str("piece")?.to_string(),
                        2 => p.score = v.as_f32("score")?,
                        3 => p.kind = v.as_i32("type")?,
                        _ => {}
                    }
                }
                pieces.push(p);
            }
            2 => {
                let mut t = Reader::new(v.as_bytes("trainer_spec")?);
                while let Some((f, v)) = t.next_field()? {
                    match f {
                        3 => s.model_type = v.as_varint("model_type")?,
                        40 => s.unk = v.as_i32("unk_id")?,
                        41 => s.bos = v.as_i32("bos_id")?,
                        42 => s.eos = v.as_i32("eos_id")?,
                        43 => s.pad = v.as_i32("pad_id")?,
                        _ => {}
                    }
                }
            }
            3 => {
                let mut n = Reader::new(v.as_bytes("normalizer_spec")?);
                while let Some((f, v)) = n.next_field()? {
                    if f == 3 {
                        s.add_dummy_prefix = v.as_bool("add_dummy_prefix")?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok((pieces, s))
}

/// The `tokenizer.*` metadata of the model in `dir`, from its `tokenizer.model` (SentencePiece
/// BPE) and `tokenizer_config.json` when present; `Ok(None)` when `dir` has no `tokenizer.model`.
/// The vocabulary is padded to `vocab_size` with unused `[PAD{i}]` tokens, as the converter does.
pub fn gguf_tokenizer_metadata(
    dir: &Path,
    vocab_size: usize,
) -> Result<Option<Vec<(String, Value)>>> {
    let path = dir.join("tokenizer.model");
    if !path.is_file() {
        return Ok(None);
    }
    let buf = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let (mut pieces, spec) =
        parse(&buf).map_err(|e| Error::model(&path, format!("not a SentencePiece model: {e}")))?;
    if spec.model_type != 2 {
        return Err(Error::model(
            &path,
            format!(
                "SentencePiece model type {} is not BPE (2), which llama.cpp's `llama` tokenizer needs",
                spec.model_type
            ),
        ));
    }
    if pieces.len() > vocab_size {
        return Err(Error::model(
            &path,
            format!(
                "{} pieces, more than the model's vocab_size {vocab_size}",
                pieces.len()
            ),
        ));
    }
    for i in pieces.len()..vocab_size {
        pieces.push(Piece {
            text: format!("[PAD{i}]"),
            score: -1000.0,
            kind: UNUSED,
        });
    }
    let cfg_path = dir.join("tokenizer_config.json");
    let cfg: serde_json::Value = match std::fs::read_to_string(&cfg_path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::model(&cfg_path, format!("invalid JSON: {e}")))?,
        Err(_) => serde_json::Value::Null,
    };
    add_tokens(dir, &cfg, &mut pieces)?;
    let id = |v: i32| u32::try_from(v).ok().map(Value::U32);
    let mut m: Vec<(&str, Value)> = vec![
        ("tokenizer.ggml.model", Value::String("llama".into())),
        ("tokenizer.ggml.pre", Value::String("default".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(
                pieces
                    .iter()
                    .map(|p| Value::String(p.text.clone()))
                    .collect(),
            ),
        ),
        (
            "tokenizer.ggml.scores",
            Value::Array(pieces.iter().map(|p| Value::F32(p.score)).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(pieces.iter().map(|p| Value::I32(p.kind)).collect()),
        ),
    ];
    for (key, v) in [
        ("tokenizer.ggml.bos_token_id", spec.bos),
        ("tokenizer.ggml.eos_token_id", spec.eos),
        ("tokenizer.ggml.unknown_token_id", spec.unk),
        ("tokenizer.ggml.padding_token_id", spec.pad),
    ] {
        if let Some(v) = id(v) {
            m.push((key, v));
        }
    }
    m.push((
        "tokenizer.ggml.add_space_prefix",
        Value::Bool(spec.add_dummy_prefix),
    ));

    // transformers' LlamaTokenizer defaults: add <s>, not </s>.
    let flag = |k: &str, default: bool| cfg.get(k).and_then(|v| v.as_bool()).unwrap_or(default);
    m.push((
        "tokenizer.ggml.add_bos_token",
        Value::Bool(flag("add_bos_token", true)),
    ));
    m.push((
        "tokenizer.ggml.add_eos_token",
        Value::Bool(flag("add_eos_token", false)),
    ));
    if let Some(t) = chat_template(dir, &cfg)? {
        m.push(("tokenizer.chat_template", Value::String(t)));
    }
    Ok(Some(
        m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    ))
}

/// Tokens added on top of `tokenizer.model` (a ChatML fine-tune's `<|im_start|>`), as
/// convert_hf_to_gguf.py's `_create_vocab_sentencepiece` takes them: `added_tokens.json` as
/// user-defined, then `tokenizer_config.json`'s `added_tokens_decoder` as control when `special`,
/// else user-defined; score -1000. Ids past the vocabulary are skipped, as the converter does.
fn add_tokens(dir: &Path, cfg: &serde_json::Value, pieces: &mut [Piece]) -> Result<()> {
    let mut set = |id: u64, text: &str, kind: i32| {
        if let Some(p) = usize::try_from(id).ok().and_then(|i| pieces.get_mut(i)) {
            *p = Piece {
                text: text.to_string(),
                score: -1000.0,
                kind,
            };
        }
    };
    let path = dir.join("added_tokens.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let added: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| Error::model(&path, format!("invalid JSON: {e}")))?;
        for (text, id) in &added {
            if let Some(id) = id.as_u64() {
                set(id, text, USER_DEFINED);
            }
        }
    }
    if let Some(dec) = cfg.get("added_tokens_decoder").and_then(|v| v.as_object()) {
        for (id, tok) in dec {
            let (Ok(id), Some(text)) = (
                id.parse::<u64>(),
                tok.get("content").and_then(|c| c.as_str()),
            ) else {
                continue;
            };
            let special = tok.get("special").and_then(|v| v.as_bool()) == Some(true);
            set(id, text, if special { CONTROL } else { USER_DEFINED });
        }
    }
    Ok(())
}

/// The chat template: `tokenizer_config.json`'s `chat_template` (a string, or the entry named
/// `default` of a list), else `chat_template.jinja` beside it.
fn chat_template(dir: &Path, cfg: &serde_json::Value) -> Result<Option<String>> {
    match cfg.get("chat_template") {
        Some(serde_json::Value::String(t)) => return Ok(Some(t.clone())),
        Some(serde_json::Value::Array(list)) => {
            let default = list
                .iter()
                .find(|e| e.get("name").and_then(|n| n.as_str()) == Some("default"));
            if let Some(t) = default
                .and_then(|e| e.get("template"))
                .and_then(|t| t.as_str())
            {
                return Ok(Some(t.to_string()));
            }
        }
        _ => {}
    }
    let path = dir.join("chat_template.jinja");
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistral_tokenizer_model_exports_its_pieces() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let m = gguf_tokenizer_metadata(&dir, 32000).unwrap().unwrap();
        let get = |k: &str| &m.iter().find(|(key, _)| key == k).unwrap().1;
        let tokens = get("tokenizer.ggml.tokens").as_array().unwrap();
        assert_eq!(tokens.len(), 32000);
        assert_eq!(tokens[0].as_str(), Some("<unk>"));
        assert_eq!(tokens[1].as_str(), Some("<s>"));
        assert_eq!(tokens[3].as_str(), Some("<0x00>"));
        let types = get("tokenizer.ggml.token_type").as_array().unwrap();
        // unknown, control, control, then bytes.
        assert_eq!(types[..4], [2, 3, 3, 6].map(Value::I32));
        assert_eq!(get("tokenizer.ggml.bos_token_id"), &Value::U32(1));
        assert_eq!(get("tokenizer.ggml.eos_token_id"), &Value::U32(2));
        assert_eq!(get("tokenizer.ggml.model"), &Value::String("llama".into()));
        assert_eq!(get("tokenizer.ggml.add_space_prefix"), &Value::Bool(true));
        assert!(m
            .iter()
            .all(|(k, _)| k != "tokenizer.ggml.padding_token_id"));
        // Padding to a larger vocabulary, as the converter does.
        let padded = gguf_tokenizer_metadata(&dir, 32002).unwrap().unwrap();
        let t = padded
            .iter()
            .find(|(k, _)| k == "tokenizer.ggml.tokens")
            .unwrap();
        assert_eq!(t.1.as_array().unwrap()[32001].as_str(), Some("[PAD32001]"));
        assert!(gguf_tokenizer_metadata(&dir, 100).is_err());
        // A ChatML fine-tune's added tokens (as OpenHermes-2.5-Mistral ships them).
        let tmp = std::env::temp_dir().join(format!("export-added-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::copy(dir.join("tokenizer.model"), tmp.join("tokenizer.model")).unwrap();
        std::fs::write(
            tmp.join("tokenizer_config.json"),
            r#"{"added_tokens_decoder": {"32000": {"content": "<|im_end|>", "special": true},
                "32001": {"content": "<|im_start|>", "special": false}},
                "chat_template": [{"name": "default", "template": "T"}]}"#,
        )
        .unwrap();
        let m = gguf_tokenizer_metadata(&tmp, 32002).unwrap().unwrap();
        let get = |k: &str| m.iter().find(|(key, _)| key == k).unwrap().1.clone();
        let tokens = get("tokenizer.ggml.tokens");
        let types = get("tokenizer.ggml.token_type");
        assert_eq!(
            tokens.as_array().unwrap()[32000].as_str(),
            Some("<|im_end|>")
        );
        assert_eq!(types.as_array().unwrap()[32000..], [3, 4].map(Value::I32));
        assert_eq!(get("tokenizer.chat_template"), Value::String("T".into()));
        std::fs::remove_dir_all(&tmp).unwrap();
        assert!(gguf_tokenizer_metadata(&dir.join("missing"), 1)
            .unwrap()
            .is_none());
    }
}
