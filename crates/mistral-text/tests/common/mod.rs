//! Shared helpers of the integration tests: where the real tokenizer files are, loading them once,
//! reading the jsonl fixtures, and a seeded generator.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mistral_text::Tokenizer;
use serde_json::Value;

/// The real Mistral-7B-Instruct-v0.1 tokenizer files kept in this crate (`data/`, see its NOTICE):
/// `tokenizer.json` and `tokenizer.model`.
pub fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// The tokenizer.json loader (the `tokenizers` crate), loaded once per test binary.
pub fn hf() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        Tokenizer::from_tokenizer_json(&model_dir().join("tokenizer.json"))
            .expect("load tokenizer.json")
    })
}

/// This crate's own SentencePiece loader on the real tokenizer.model, loaded once.
pub fn sp() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| {
        Tokenizer::from_sentencepiece(&model_dir().join("tokenizer.model"))
            .expect("load tokenizer.model")
    })
}

/// Both loaders with a name for failure messages.
pub fn both() -> [(&'static str, &'static Tokenizer); 2] {
    [("tokenizer.json", hf()), ("tokenizer.model", sp())]
}

/// The JSON lines of `path`.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// A fixture of this crate's `tests/data/`.
pub fn test_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("ids array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

/// SplitMix64: a seeded generator for test inputs.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A random string of up to `max_len` characters from ASCII, Latin, Greek/Cyrillic, CJK, emoji,
    /// private-use, supplementary planes and control characters, with space runs. Never U+2581,
    /// which SentencePiece treats as a space.
    pub fn unicode_string(&mut self, max_len: u64) -> String {
        const RANGES: [(u32, u32); 10] = [
            (0x20, 0x7e),
            (0x20, 0x7e),
            (0x00, 0x1f),
            (0xa0, 0x24f),
            (0x370, 0x4ff),
            (0x3040, 0x30ff),
            (0x4e00, 0x9fff),
            (0x1f300, 0x1faff),
            (0xe000, 0xf8ff),
            (0x10000, 0x10ffff),
        ];
        let mut s = String::new();
        for _ in 0..self.range(0, max_len) {
            let (lo, hi) = RANGES[self.range(0, RANGES.len() as u64 - 1) as usize];
            let c = char::from_u32(self.range(lo as u64, hi as u64) as u32).unwrap_or('?');
            s.push(if c == '\u{2581}' { '_' } else { c });
            if self.range(0, 9) == 0 {
                s.push_str(&" ".repeat(self.range(1, 3) as usize));
            }
        }
        s
    }
}

/// The project's download cache: `$MISTRAL_CACHE_DIR`, else the workspace's `.cache/` (the same
/// lookup as `tests/src/fixtures.rs`).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("MISTRAL_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"))
}

/// The real SmolLM2-135M-Instruct GGUF that `cargo xtask fetch` downloads. Panics naming that
/// command when it is absent.
pub fn smollm2_gguf() -> PathBuf {
    let path = cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        path.is_file(),
        "the real test model is not in the cache ({}): run `cargo xtask fetch`",
        path.display()
    );
    path
}

/// Pieces of a SentencePiece `tokenizer.model`: `(piece, score, type)` in id order. A minimal
/// protobuf walk (field 1 of `ModelProto`, fields 1–3 of each piece), independent of the crate's.
pub fn sentencepiece_pieces(bytes: &[u8]) -> Vec<(String, f32, i64)> {
    fn varint(b: &[u8], pos: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*pos];
            *pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return v;
            }
            shift += 7;
        }
    }
    /// `(field, wire type, payload)` of each field of a message.
    fn fields(b: &[u8]) -> Vec<(u64, u64, &[u8], u64)> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < b.len() {
            let key = varint(b, &mut pos);
            let (field, wire) = (key >> 3, key & 7);
            match wire {
                0 => {
                    let v = varint(b, &mut pos);
                    out.push((field, wire, &b[0..0], v));
                }
                1 => {
                    out.push((field, wire, &b[pos..pos + 8], 0));
                    pos += 8;
                }
                2 => {
                    let len = varint(b, &mut pos) as usize;
                    out.push((field, wire, &b[pos..pos + len], 0));
                    pos += len;
                }
                5 => {
                    out.push((field, wire, &b[pos..pos + 4], 0));
                    pos += 4;
                }
                w => panic!("wire type {w}"),
            }
        }
        out
    }
    fields(bytes)
        .into_iter()
        .filter(|f| f.0 == 1 && f.1 == 2)
        .map(|(_, _, piece, _)| {
            let (mut text, mut score, mut kind) = (String::new(), 0.0f32, 1i64);
            for (f, _, payload, v) in fields(piece) {
                match f {
                    1 => text = String::from_utf8(payload.to_vec()).expect("utf-8 piece"),
                    2 => score = f32::from_le_bytes(payload.try_into().expect("f32")),
                    3 => kind = v as i64,
                    _ => {}
                }
            }
            (text, score, kind)
        })
        .collect()
}
