//! Test models: tiny random ones written by our own writer, and the Hugging Face golden cases.

use std::path::{Path, PathBuf};

use mistral_core::DType;
use mistral_model::random::{write_random_model, RandomModel};

/// A tiny Mistral config: GQA ratio 4, window 8, vocab 100.
pub const TINY_CONFIG: &str = r#"{
  "architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 100,
  "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 8,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": 8,
  "max_position_embeddings": 32768, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2
}"#;

/// Writes a random model for `config` into a fresh temporary directory.
pub fn random_model(config: &str, dtype: DType, shards: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write_random_model(
        config,
        dir.path(),
        &RandomModel {
            dtype,
            shards,
            seed: 7,
        },
        &mut |_, _| {},
    )
    .expect("write random model");
    dir
}

/// `tests/golden`, made by `tools/golden/make_golden.py`.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Every golden case directory (each holds an HF model and `golden.safetensors`).
pub fn golden_cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists: run tools/golden/make_golden.py")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("golden.safetensors").is_file())
        .collect();
    v.sort();
    v
}
