//! Shared by the integration tests: a valid sample file written by `write_gguf`, and a
//! hand-rolled byte builder for files the writer refuses to make (corrupt, v2, odd layouts).
#![allow(dead_code)]

use std::path::Path;

use mistral_core::rng::Rng;
use mistral_core::{DType, Result};
use mistral_gguf::{write_gguf, GgufFile, TensorSpec, Value};

/// Writes a file with `write_gguf` into a temporary directory and returns its bytes.
pub fn write_to_vec(
    metadata: &[(String, Value)],
    tensors: &[TensorSpec],
    alignment: u64,
    data: impl Fn(usize) -> Vec<u8>,
) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.gguf");
    write_gguf(&path, metadata, tensors, alignment, &mut |i| Ok(data(i))).unwrap();
    std::fs::read(&path).unwrap()
}

/// `n` seeded random bytes.
pub fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

pub fn spec(name: &str, shape: &[usize], dtype: DType) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        shape: shape.to_vec(),
        dtype,
    }
}

pub fn kv(key: &str, v: Value) -> (String, Value) {
    (key.to_string(), v)
}

/// The tensors of [`sample_file`]: a float, a legacy block format and a K-quant.
pub fn sample_tensors() -> Vec<TensorSpec> {
    vec![
        spec("token_embd.weight", &[3, 64], DType::Q8_0),
        spec("blk.0.attn_norm.weight", &[5], DType::F32),
        spec("blk.0.ffn_down.weight", &[2, 256], DType::Q4K),
    ]
}

/// A small valid file: a few keys of common types and [`sample_tensors`] of random bytes.
pub fn sample_file() -> Vec<u8> {
    let metadata = vec![
        kv("general.architecture", Value::String("llama".into())),
        kv("llama.block_count", Value::U32(1)),
        kv(
            "tokenizer.ggml.tokens",
            Value::Array(vec![Value::String("a".into()), Value::String("bc".into())]),
        ),
        kv(
            "tokenizer.ggml.scores",
            Value::Array(vec![Value::F32(0.5), Value::F32(-1.0)]),
        ),
    ];
    let tensors = sample_tensors();
    write_to_vec(&metadata, &tensors, 32, |i| {
        let n = tensors[i]
            .dtype
            .bytes_for(tensors[i].shape.iter().product());
        random_bytes(i as u64, n.unwrap())
    })
}

pub fn parse(bytes: Vec<u8>) -> Result<GgufFile> {
    GgufFile::from_bytes(bytes, Path::new("test.gguf"))
}

/// The error `bytes` gives, checked to be one line naming the file.
#[track_caller]
pub fn err(bytes: Vec<u8>) -> String {
    let msg = match parse(bytes) {
        Ok(_) => panic!("expected an error, the file parsed"),
        Err(e) => e.to_string(),
    };
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert!(
        msg.starts_with("test.gguf: "),
        "does not name the file: {msg}"
    );
    msg
}

/// Asserts `bytes` fails with a message containing `want`.
#[track_caller]
pub fn assert_err(bytes: Vec<u8>, want: &str) {
    let msg = err(bytes);
    assert!(msg.contains(want), "expected {want:?} in: {msg}");
}

/// Little-endian byte builder for hand-made files.
#[derive(Clone, Default)]
pub struct B(pub Vec<u8>);

impl B {
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    pub fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    /// A GGUF string: u64 length and the bytes.
    pub fn str(self, s: &[u8]) -> Self {
        self.u64(s.len() as u64).raw(s)
    }
}

/// One key/value: key, type code and the already-encoded value.
pub fn raw_kv(key: &str, ty: u32, value: B) -> Vec<u8> {
    B::default().str(key.as_bytes()).u32(ty).raw(&value.0).0
}

/// One tensor info: name, dims (GGML order), GGML type id and data offset.
pub fn raw_info(name: &str, dims: &[u64], ty: u32, offset: u64) -> Vec<u8> {
    let mut b = B::default().str(name.as_bytes()).u32(dims.len() as u32);
    for &d in dims {
        b = b.u64(d);
    }
    b.u32(ty).u64(offset).0
}

/// A whole file: header with the counts of `kvs` and `infos`, padding to `alignment`, `data`.
pub fn raw_file(
    version: u32,
    kvs: &[Vec<u8>],
    infos: &[Vec<u8>],
    alignment: usize,
    data: &[u8],
) -> Vec<u8> {
    let mut b = B::default()
        .raw(b"GGUF")
        .u32(version)
        .u64(infos.len() as u64)
        .u64(kvs.len() as u64);
    for x in kvs.iter().chain(infos) {
        b = b.raw(x);
    }
    let mut out = b.0;
    out.resize(out.len().next_multiple_of(alignment), 0);
    out.extend_from_slice(data);
    out
}

/// A file holding one f32 tensor `t` of 4 elements at offset 0, and the given key/values.
pub fn raw_one_tensor(kvs: &[Vec<u8>]) -> Vec<u8> {
    raw_file(3, kvs, &[raw_info("t", &[4], 0, 0)], 32, &[0; 16])
}
