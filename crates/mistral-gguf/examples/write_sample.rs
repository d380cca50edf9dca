//! Writes a small GGUF file holding a key of every value type and a tensor of every dtype, for
//! `tools/gguf/check_writer.py` to read with llama.cpp's gguf-py:
//!
//! ```sh
//! cargo run -p mistral-gguf --example write_sample -- /tmp/sample.gguf [ALIGNMENT]
//! ```
//!
//! The path may also come from `$GGUF_SAMPLE_PATH`; the alignment defaults to 32. Prints one
//! `tensor` line per tensor in the format the script prints, so the two can be diffed. F32
//! tensors hold 0, 1, 2, …; the others hold seeded random bytes (dequantization is not checked).

use std::path::PathBuf;

use mistral_core::rng::Rng;
use mistral_core::{DType, Error, Result};
use mistral_gguf::{write_gguf, GgufFile, TensorSpec, Value};

fn metadata() -> Vec<(String, Value)> {
    let s = |x: &str| Value::String(x.into());
    let kv = |k: &str, v: Value| (k.to_string(), v);
    vec![
        kv("general.architecture", s("llama")),
        kv("general.name", s("write_sample ✓")),
        kv("sample.u8", Value::U8(200)),
        kv("sample.i8", Value::I8(-100)),
        kv("sample.u16", Value::U16(60_000)),
        kv("sample.i16", Value::I16(-30_000)),
        kv("sample.u32", Value::U32(4_000_000_000)),
        kv("sample.i32", Value::I32(-2_000_000_000)),
        kv("sample.u64", Value::U64(u64::MAX)),
        kv("sample.i64", Value::I64(i64::MIN)),
        kv("sample.f32", Value::F32(0.25)),
        kv("sample.f64", Value::F64(-2.5)),
        kv("sample.bool", Value::Bool(true)),
        kv("sample.strings", Value::Array(vec![s("a"), s(""), s("ç")])),
        kv(
            "sample.i32s",
            Value::Array(vec![Value::I32(-1), Value::I32(2)]),
        ),
        kv(
            "sample.f32s",
            Value::Array(vec![Value::F32(0.5), Value::F32(-1.0)]),
        ),
        kv("sample.empty", Value::Array(vec![])),
        kv(
            "sample.nested",
            Value::Array(vec![
                Value::Array(vec![Value::U32(1), Value::U32(2)]),
                Value::Array(vec![Value::U32(3)]),
            ]),
        ),
        kv("sample.after_nested", Value::U32(7)),
    ]
}

fn tensors() -> Vec<TensorSpec> {
    let shapes: [&[usize]; 4] = [&[2], &[3, 1], &[2, 1, 1], &[1, 2, 1, 1]];
    DType::ALL
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let mut shape = shapes[i % 4].to_vec();
            *shape.last_mut().unwrap() *= d.block_elems() * 2;
            TensorSpec {
                name: format!("t{i}.{d}"),
                shape,
                dtype: d,
            }
        })
        .collect()
}

fn usage(what: &str) -> Error {
    Error::InvalidInput(format!(
        "{what}: usage: write_sample PATH [ALIGNMENT] (or set GGUF_SAMPLE_PATH)"
    ))
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .or_else(|| std::env::var("GGUF_SAMPLE_PATH").ok())
        .map(PathBuf::from)
        .ok_or_else(|| usage("no PATH"))?;
    let alignment = match args.next() {
        None => 32,
        Some(a) => a
            .parse()
            .map_err(|_| usage(&format!("ALIGNMENT {a:?} is not a number")))?,
    };

    let tensors = tensors();
    let mut rng = Rng::new(7);
    write_gguf(&path, &metadata(), &tensors, alignment, &mut |i| {
        let t = &tensors[i];
        let n: usize = t.shape.iter().product();
        Ok(match t.dtype {
            DType::F32 => DType::F32.encode(&(0..n).map(|v| v as f32).collect::<Vec<_>>()),
            d => (0..d.bytes_for(n).unwrap())
                .map(|_| rng.next_u64() as u8)
                .collect(),
        })
    })?;

    // What was written, read back by this crate, in check_writer.py's format.
    let f = GgufFile::open(&path)?;
    println!(
        "version {} alignment {} data_offset {}",
        f.version(),
        f.alignment(),
        f.data_offset()
    );
    for t in f.tensors() {
        let ty = DType::ggml_type_name(t.dtype.ggml_type()).unwrap_or("?");
        println!(
            "tensor {} {ty} dims={:?} offset={} n_bytes={}",
            t.name, t.dims, t.offset, t.n_bytes
        );
    }
    Ok(())
}
