//! The real SmolLM2-135M-Instruct Q4_1 file (`cargo xtask fetch` downloads it) reads as llama.cpp's
//! gguf-py reads it. Every number asserted here was printed by `gguf.GGUFReader` (gguf-py 0.19)
//! on the same file; `data_offset` and the `file offset`s are gguf-py's absolute offsets.

use std::path::PathBuf;

use mistral_core::DType;
use mistral_gguf::GgufFile;

/// `$MISTRAL_CACHE_DIR/models/…`, else `<workspace>/.cache/models/…`.
fn model_path() -> PathBuf {
    let cache = std::env::var_os("MISTRAL_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache"));
    cache.join("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

#[test]
fn smollm2_q4_1_reads_as_gguf_py_reads_it() {
    let path = model_path();
    if !path.exists() {
        eprintln!(
            "skipped: {} is absent (run `cargo xtask fetch`)",
            path.display()
        );
        return;
    }
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.version(), 3);
    assert_eq!(f.architecture().unwrap(), "llama");
    assert_eq!((f.alignment(), f.data_offset()), (32, 1_785_664));
    assert_eq!(f.metadata().len(), 33);
    assert_eq!(f.tensors().len(), 272);

    // (name, dims in GGML order, dtype, file offset, bytes)
    let want = [
        (
            "token_embd.weight",
            vec![576, 49152],
            DType::Q8_0,
            1_785_664,
            30_081_024,
        ),
        (
            "blk.0.attn_q.weight",
            vec![576, 576],
            DType::Q4_1,
            33_806_656,
            207_360,
        ),
        (
            "output_norm.weight",
            vec![576],
            DType::F32,
            98_360_128,
            2_304,
        ),
    ];
    for (name, dims, dtype, file_offset, n_bytes) in want {
        let t = f.tensor(name).unwrap();
        assert_eq!((&t.dims, t.dtype), (&dims, dtype), "{name}");
        assert_eq!(
            (f.data_offset() + t.offset, t.n_bytes),
            (file_offset, n_bytes),
            "{name}"
        );
        let h = f.host_tensor(name).unwrap();
        assert_eq!(h.shape, t.shape());
        assert_eq!(h.bytes.len() as u64, n_bytes);
    }
    assert_eq!(
        f.tensor("token_embd.weight").unwrap().shape(),
        vec![49152, 576]
    );

    let tokens = f.get_str_array("tokenizer.ggml.tokens").unwrap().unwrap();
    assert_eq!((tokens.len(), tokens[0]), (49152, "<|endoftext|>"));
    assert_eq!(f.get_u64("llama.block_count").unwrap(), Some(30));
    assert_eq!(f.get_u64("llama.embedding_length").unwrap(), Some(576));

    // The first values of output_norm, as gguf-py prints them: the bytes are the right ones.
    let norm = f.host_tensor("output_norm.weight").unwrap().to_f32();
    assert_eq!(norm[..4], [1.7578125, 1.8203125, 1.78125, 1.6015625]);
}
