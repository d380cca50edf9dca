//! A GGUF file that parses but does not describe a model we can run gets one clear line naming
//! what is wrong (the parser's own corrupt-file cases are in crates/mistral-gguf/tests). Each case
//! rewrites the tiny Q8_0 golden model with one thing changed.

use mistral_core::Result;
use mistral_gguf::{write_gguf, GgufFile, TensorSpec, Value};
use mistral_model::HostWeights;
use mistral_tests::fixtures::golden_dir;

/// Writes the golden q8_0 model with `edit` applied to its metadata and tensor list, and returns
/// the loader's error.
fn load_err(edit: impl FnOnce(&mut Vec<(String, Value)>, &mut Vec<TensorSpec>)) -> String {
    let src = GgufFile::open(&golden_dir().join("gguf/q8_0/model.gguf")).unwrap();
    let mut meta = src.metadata().to_vec();
    let mut specs: Vec<TensorSpec> = src
        .tensors()
        .iter()
        .map(|t| TensorSpec {
            name: t.name.clone(),
            shape: t.shape(),
            dtype: t.dtype,
        })
        .collect();
    edit(&mut meta, &mut specs);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    let mut data = |i: usize| -> Result<Vec<u8>> {
        let s = &specs[i];
        // A renamed or reshaped tensor gets bytes of its new size; the rest keep theirs.
        Ok(match src.tensor(&s.name).filter(|t| t.shape() == s.shape) {
            Some(t) => src.tensor_bytes(t).as_slice().to_vec(),
            None => vec![0; s.dtype.bytes_for(s.shape.iter().product()).unwrap()],
        })
    };
    let specs2 = specs.clone();
    write_gguf(&path, &meta, &specs2, 32, &mut data).unwrap();
    let err = HostWeights::load(&path).unwrap_err().to_string();
    assert!(!err.contains('\n'), "{err}");
    assert!(err.contains("model.gguf"), "names the file: {err}");
    err
}

fn set(meta: &mut [(String, Value)], key: &str, v: Value) {
    meta.iter_mut().find(|(k, _)| k == key).unwrap().1 = v;
}

#[test]
fn the_golden_file_itself_loads() {
    HostWeights::load(&golden_dir().join("gguf/q8_0/model.gguf")).unwrap();
}

#[test]
fn a_missing_tensor_is_named() {
    let err = load_err(|_, t| t.retain(|s| s.name != "blk.1.ffn_up.weight"));
    assert!(err.contains("missing tensor blk.1.ffn_up.weight"), "{err}");
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    let err = load_err(|m, _| set(m, "llama.feed_forward_length", Value::U32(1024)));
    assert!(
        err.contains("ffn_gate.weight has shape [512, 256], expected [1024, 256]"),
        "{err}"
    );
}

#[test]
fn an_unknown_architecture_is_named() {
    let err = load_err(|m, _| set(m, "general.architecture", Value::String("gpt2".into())));
    assert!(err.contains("unsupported architecture \"gpt2\""), "{err}");
}

#[test]
fn rope_scaling_and_experts_are_refused_by_name() {
    let err = load_err(|m, _| {
        m.push((
            "llama.rope.scaling.type".into(),
            Value::String("yarn".into()),
        ))
    });
    assert!(err.contains("RoPE scaling \"yarn\""), "{err}");
    let err = load_err(|m, _| m.push(("llama.expert_count".into(), Value::U32(8))));
    assert!(err.contains("8 experts"), "{err}");
}

#[test]
fn a_missing_or_mistyped_key_is_named() {
    let err = load_err(|m, _| m.retain(|(k, _)| k != "llama.block_count"));
    assert!(
        err.contains("missing metadata key llama.block_count"),
        "{err}"
    );
    let err = load_err(|m, _| set(m, "llama.block_count", Value::String("2".into())));
    assert!(err.contains("llama.block_count"), "{err}");
}

#[test]
fn a_sliding_window_in_the_metadata_is_read() {
    let src = golden_dir().join("gguf/q8_0/model.gguf");
    let (cfg, _) = HostWeights::load(&src).unwrap();
    assert_eq!(cfg.window(), None);
    // The same file with a window recorded (as a Mistral GGUF may have it).
    let f = GgufFile::open(&src).unwrap();
    let mut meta = f.metadata().to_vec();
    meta.push(("llama.attention.sliding_window".into(), Value::U32(16)));
    let specs: Vec<TensorSpec> = f
        .tensors()
        .iter()
        .map(|t| TensorSpec {
            name: t.name.clone(),
            shape: t.shape(),
            dtype: t.dtype,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.gguf");
    write_gguf(&path, &meta, &specs, 32, &mut |i| {
        Ok(f.tensor_bytes(&f.tensors()[i]).as_slice().to_vec())
    })
    .unwrap();
    let (cfg, _) = HostWeights::load(&path).unwrap();
    assert_eq!(cfg.window(), Some(16));
}

#[test]
fn hostile_sizes_are_refused_before_anything_is_allocated() {
    // 2^40 layers would list 9 x 2^40 tensor names; the file has 20 tensors.
    let err = load_err(|m, _| set(m, "llama.block_count", Value::U64(1 << 40)));
    assert!(err.contains("does not fit the file's"), "{err}");
    // heads x head_dim overflows.
    let err = load_err(|m, _| {
        set(m, "llama.attention.head_count", Value::U64(1 << 33));
        m.push(("llama.attention.key_length".into(), Value::U64(1 << 32)));
        set(m, "llama.rope.dimension_count", Value::U64(1 << 32));
    });
    assert!(err.contains("implausible sizes"), "{err}");
}

#[test]
fn llama_3_rope_frequency_factors_are_refused() {
    let err = load_err(|_, t| {
        t.push(TensorSpec {
            name: "rope_freqs.weight".into(),
            shape: vec![32],
            dtype: mistral_core::DType::F32,
        })
    });
    assert!(err.contains("rope_freqs.weight"), "{err}");
}
