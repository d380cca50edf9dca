//! Bad model directories and files: each gives one clear line naming the file (and tensor), never
//! a panic. Corrupt files are made by editing a valid tiny checkpoint written by our own writer.

use std::path::Path;

use mistral_core::DType;
use mistral_model::HostWeights;
use mistral_tests::fixtures::{random_model, TINY_CONFIG};
use serde_json::Value;

fn load_err(dir: &Path) -> String {
    let err = HostWeights::load_dir(dir)
        .expect_err("load must fail")
        .to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    err
}

/// Splits a safetensors file into (header JSON, data).
fn split(path: &Path) -> (Value, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (
        serde_json::from_slice(&bytes[8..8 + n]).unwrap(),
        bytes[8 + n..].to_vec(),
    )
}

fn join(path: &Path, header: &[u8], data: &[u8]) {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    std::fs::write(path, out).unwrap();
}

/// A fresh valid tiny model with its single safetensors file edited by `edit`.
fn edited(edit: impl FnOnce(&mut Value, &mut Vec<u8>)) -> tempfile::TempDir {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let file = dir.path().join("model.safetensors");
    let (mut header, mut data) = split(&file);
    edit(&mut header, &mut data);
    join(&file, &serde_json::to_vec(&header).unwrap(), &data);
    dir
}

const EMBED: &str = "model.embed_tokens.weight";

#[test]
fn a_valid_directory_loads() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 3);
    let (cfg, w) = HostWeights::load_dir(dir.path()).unwrap();
    assert_eq!(w.layers.len(), cfg.num_hidden_layers);
    assert_eq!(w.embed.shape, vec![100, 64]);
    assert_eq!(w.dtype(), DType::BF16);
}

#[test]
fn missing_or_unreadable_directory_and_files() {
    assert!(load_err(Path::new("/nonexistent/model")).contains("does not exist"));
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    assert!(load_err(dir.path()).contains("no model.safetensors or model.safetensors.index.json"));
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    assert!(load_err(dir.path()).contains("config.json"));
}

#[test]
fn bad_configs() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("\"mistral\"", "\"gpt2\"")).unwrap();
    assert!(load_err(dir.path()).contains("unsupported model_type \"gpt2\""));
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("vocab_size");
    std::fs::write(&cfg, v.to_string()).unwrap();
    assert!(load_err(dir.path()).contains("missing field `vocab_size`"));
}

#[test]
fn truncated_file() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let file = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("model.safetensors") && err.contains("truncated"),
        "{err}"
    );
    std::fs::write(&file, &bytes[..5]).unwrap();
    assert!(load_err(dir.path()).contains("too small"));
}

#[test]
fn bad_header_length() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let file = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&file).unwrap();
    let len = bytes.len() as u64;
    bytes[..8].copy_from_slice(&(len * 2).to_le_bytes());
    std::fs::write(&file, &bytes).unwrap();
    assert!(load_err(dir.path()).contains("bad header length"));
}

#[test]
fn header_not_json() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let file = dir.path().join("model.safetensors");
    let (header, data) = split(&file);
    let mut h = serde_json::to_vec(&header).unwrap();
    h[1..10].copy_from_slice(b"!notjson!");
    join(&file, &h, &data);
    assert!(load_err(dir.path()).contains("header is not valid JSON"));
}

#[test]
fn offsets_out_of_range_or_overlapping() {
    // Move the last tensor past the end of the data, keeping its size.
    let dir = edited(|h, _| {
        let o = &h["lm_head.weight"]["data_offsets"];
        let (start, end) = (o[0].as_u64().unwrap(), o[1].as_u64().unwrap());
        h["lm_head.weight"]["data_offsets"] =
            serde_json::json!([start + 1_000_000, end + 1_000_000]);
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("model.safetensors: tensor lm_head.weight: data offsets out of range"),
        "{err}"
    );
    // Make the second tensor start inside the first (overlap), keeping sizes.
    let dir = edited(|h, _| {
        let name = "model.layers.0.input_layernorm.weight";
        let start = h[name]["data_offsets"][0].as_u64().unwrap() - 2;
        let end = h[name]["data_offsets"][1].as_u64().unwrap() - 2;
        h[name]["data_offsets"] = serde_json::json!([start, end]);
    });
    assert!(load_err(dir.path()).contains("overlapping"));
}

#[test]
fn dtype_shape_mismatch_and_unsupported_dtype() {
    let dir = edited(|h, _| h[EMBED]["shape"] = serde_json::json!([100, 65]));
    assert!(load_err(dir.path()).contains("does not match its dtype and shape"));
    let dir = edited(|h, _| {
        h[EMBED]["dtype"] = "I16".into();
    });
    let err = load_err(dir.path());
    assert!(
        err.contains(EMBED) && err.contains("unsupported dtype"),
        "{err}"
    );
}

#[test]
fn missing_tensor_and_wrong_shape() {
    // Drop lm_head (the last tensor) and its bytes.
    let dir = edited(|h, data| {
        let start = h["lm_head.weight"]["data_offsets"][0].as_u64().unwrap() as usize;
        h.as_object_mut().unwrap().remove("lm_head.weight");
        data.truncate(start);
    });
    assert!(load_err(dir.path()).contains("missing tensor lm_head.weight"));
    // A config whose FFN width disagrees with the file.
    let dir = random_model(TINY_CONFIG, DType::BF16, 1);
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("\"intermediate_size\": 96", "\"intermediate_size\": 80"),
    )
    .unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("model.layers.0.mlp.gate_proj.weight has shape [96, 64], expected [80, 64]"),
        "{err}"
    );
}

#[test]
fn shard_index_problems() {
    let dir = random_model(TINY_CONFIG, DType::BF16, 2);
    std::fs::remove_file(dir.path().join("model-00002-of-00002.safetensors")).unwrap();
    assert!(load_err(dir.path()).contains("model-00002-of-00002.safetensors"));
    let dir = random_model(TINY_CONFIG, DType::BF16, 2);
    let index = dir.path().join("model.safetensors.index.json");
    std::fs::write(&index, "{\"weight_map\": 3}").unwrap();
    assert!(load_err(dir.path()).contains("invalid index"));
}

#[test]
fn tensors_the_model_does_not_use_may_have_any_dtype() {
    // Old checkpoints carry integer buffers such as rotary position ids; they are not weights.
    let dir = edited(|h, data| {
        let start = data.len();
        data.extend_from_slice(&7i64.to_le_bytes());
        h["model.layers.0.self_attn.rotary_emb.position_ids"] =
            serde_json::json!({"dtype": "I64", "shape": [1], "data_offsets": [start, start + 8]});
    });
    let (_, w) = HostWeights::load_dir(dir.path()).expect("an unused I64 tensor is ignored");
    assert_eq!(w.layers.len(), 2);
}
