//! What `write_gguf` writes, `GgufFile` reads back equal; the typed getters; the writer's errors.

mod common;

use common::*;
use mistral_core::{DType, Error};
use mistral_gguf::{write_gguf, GgufFile, TensorSpec, Value};

/// A value of every type, arrays of each, nested arrays and empty arrays.
fn every_value() -> Vec<(String, Value)> {
    let s = |x: &str| Value::String(x.into());
    let scalars = vec![
        Value::U8(200),
        Value::I8(-100),
        Value::U16(60_000),
        Value::I16(-30_000),
        Value::U32(4_000_000_000),
        Value::I32(-2_000_000_000),
        Value::U64(u64::MAX),
        Value::I64(i64::MIN),
        Value::F32(-1.5e-7),
        Value::F64(std::f64::consts::PI),
        Value::Bool(true),
        Value::Bool(false),
        s("héllo ✓"),
        s(""),
    ];
    let mut md: Vec<(String, Value)> = scalars
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("scalar.{i}.{}", v.type_name()), v.clone()))
        .collect();
    for (i, v) in scalars.iter().enumerate() {
        md.push((
            format!("array.{i}"),
            Value::Array(vec![v.clone(), v.clone()]),
        ));
    }
    md.push(kv("array.empty", Value::Array(vec![])));
    md.push(kv(
        "array.of_arrays",
        Value::Array(vec![
            Value::Array(vec![Value::U32(1), Value::U32(2)]),
            Value::Array(vec![s("x")]),
            Value::Array(vec![]),
            Value::Array(vec![Value::Array(vec![Value::F64(0.25)])]),
        ]),
    ));
    md.push(kv("general.architecture", s("llama")));
    md
}

/// One tensor of every dtype, of 1 to 4 dims, plus an empty one.
fn every_dtype() -> Vec<TensorSpec> {
    let mut t: Vec<TensorSpec> = DType::ALL
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let row = d.block_elems() * 2;
            let shape = match i % 4 {
                0 => vec![row],
                1 => vec![3, row],
                2 => vec![2, 1, row],
                _ => vec![1, 2, 3, row],
            };
            spec(&format!("t{i}.{d}"), &shape, d)
        })
        .collect();
    t.push(spec("empty", &[0, 32], DType::Q4_0));
    t
}

fn tensor_data(t: &TensorSpec, i: usize) -> Vec<u8> {
    random_bytes(
        100 + i as u64,
        t.dtype.bytes_for(t.shape.iter().product()).unwrap(),
    )
}

#[test]
fn round_trip_every_value_and_dtype() {
    let md = every_value();
    let tensors = every_dtype();
    for alignment in [32, 64, 1, 4096] {
        let bytes = write_to_vec(&md, &tensors, alignment, |i| tensor_data(&tensors[i], i));
        let f = parse(bytes).unwrap();
        assert_eq!((f.version(), f.alignment()), (3, alignment));
        assert_eq!(f.data_offset() % alignment, 0);
        let mut want = md.clone();
        if alignment != 32 {
            want.push(kv("general.alignment", Value::U32(alignment as u32)));
        }
        assert_eq!(f.metadata(), &want[..]);
        assert_eq!(f.tensors().len(), tensors.len());
        for (i, (spec, info)) in tensors.iter().zip(f.tensors()).enumerate() {
            assert_eq!(info.name, spec.name);
            assert_eq!(info.dtype, spec.dtype);
            assert_eq!(info.shape(), spec.shape);
            let dims: Vec<u64> = spec.shape.iter().rev().map(|&d| d as u64).collect();
            assert_eq!(info.dims, dims);
            assert_eq!(info.offset % alignment, 0);
            let data = tensor_data(spec, i);
            assert_eq!(info.n_bytes, data.len() as u64);
            assert_eq!(f.tensor_bytes(info).as_slice(), &data[..], "{}", spec.name);
            let h = f.host_tensor(&spec.name).unwrap();
            assert_eq!((h.dtype, &h.shape), (spec.dtype, &spec.shape));
            assert_eq!(h.bytes.as_slice(), &data[..]);
        }
        assert!(f.tensor("missing").is_none() && f.host_tensor("missing").is_none());
    }
}

#[test]
fn open_maps_the_file_and_values_convert() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let tensors = every_dtype();
    let data = |i: usize| Ok(tensor_data(&tensors[i], i));
    write_gguf(&path, &every_value(), &tensors, 32, &mut |i| data(i)).unwrap();
    let f = GgufFile::open(&path).unwrap();
    assert_eq!(f.path(), path);
    assert_eq!(f.architecture().unwrap(), "llama");
    let t = f.tensor("t1.f16").unwrap();
    assert_eq!(
        f.tensor_bytes(t).as_slice(),
        &tensor_data(&tensors[1], 1)[..]
    );
    // Nothing but the file is left in the directory (the temporary file was renamed).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    assert_eq!(f.get_u64("scalar.4.u32").unwrap(), Some(4_000_000_000));
    assert_eq!(f.get_u64("scalar.0.u8").unwrap(), Some(200));
    assert_eq!(
        f.get_f64("scalar.9.f64").unwrap(),
        Some(std::f64::consts::PI)
    );
    assert_eq!(f.get_f64("scalar.2.u16").unwrap(), Some(60_000.0));
    assert_eq!(f.get_str("scalar.12.string").unwrap(), Some("héllo ✓"));
    assert_eq!(f.get_bool("scalar.10.bool").unwrap(), Some(true));
    assert_eq!(
        f.get_str_array("array.12").unwrap(),
        Some(vec!["héllo ✓"; 2])
    );
    assert_eq!(f.get_str_array("array.empty").unwrap(), Some(vec![]));
    assert_eq!(f.get_f32_array("array.8").unwrap(), Some(vec![-1.5e-7; 2]));
    assert_eq!(
        f.get_i64_array("array.5").unwrap(),
        Some(vec![-2_000_000_000; 2])
    );
    assert_eq!(f.get_u64("absent").unwrap(), None);
    assert_eq!(f.get_str_array("absent").unwrap(), None);
    assert_eq!(f.get("scalar.1.i8"), Some(&Value::I8(-100)));

    let wrong = |e: Error| e.to_string();
    let msg = wrong(f.get_u64("scalar.12.string").unwrap_err());
    assert!(
        msg.ends_with("metadata key scalar.12.string is string, expected a non-negative integer"),
        "{msg}"
    );
    let msg = wrong(f.get_u64("scalar.1.i8").unwrap_err());
    assert!(
        msg.ends_with("metadata key scalar.1.i8 is i8 -100, expected a non-negative integer"),
        "{msg}"
    );
    let msg = wrong(f.get_str_array("array.4").unwrap_err());
    assert!(
        msg.ends_with("metadata key array.4 is array of u32, expected an array of strings"),
        "{msg}"
    );
    let msg = wrong(f.get_i64_array("array.6").unwrap_err());
    assert!(
        msg.ends_with("array.6 is array of u64, expected an array of integers"),
        "{msg}"
    );
    let msg = wrong(f.get_bool("scalar.4.u32").unwrap_err());
    assert!(
        msg.ends_with("scalar.4.u32 is u32 4000000000, expected a bool"),
        "{msg}"
    );
}

#[test]
fn architecture_missing_is_an_error() {
    let bytes = write_to_vec(
        &[kv("general.name", Value::String("x".into()))],
        &[],
        32,
        |_| vec![],
    );
    let f = parse(bytes).unwrap();
    assert_eq!(
        f.architecture().unwrap_err().to_string(),
        "test.gguf: metadata key general.architecture is missing"
    );
    assert!(f.tensors().is_empty());
}

#[test]
fn version_2_files_read() {
    // v2 has v3's layout (v3 added only big-endian files): hand-build one.
    let kvs = [
        raw_kv("general.architecture", 8, B::default().str(b"llama")),
        raw_kv("general.alignment", 4, B::default().u32(64)),
    ];
    let infos = [raw_info("a", &[2, 2], 0, 0), raw_info("b", &[32], 8, 64)];
    let mut data = vec![0u8; 64 + 34];
    data[..16].copy_from_slice(&random_bytes(1, 16));
    let f = parse(raw_file(2, &kvs, &infos, 64, &data)).unwrap();
    assert_eq!(
        (f.version(), f.alignment(), f.data_offset() % 64),
        (2, 64, 0)
    );
    assert_eq!(f.architecture().unwrap(), "llama");
    assert_eq!(f.tensor("a").unwrap().shape(), vec![2, 2]);
    assert_eq!(f.host_tensor("a").unwrap().bytes.as_slice(), &data[..16]);
    assert_eq!(f.tensor("b").unwrap().dtype, DType::Q8_0);
}

/// `write_gguf`'s error for these arguments, checked to leave no file behind.
fn write_err(
    md: &[(String, Value)],
    tensors: &[TensorSpec],
    alignment: u64,
    data: &mut dyn FnMut(usize) -> mistral_core::Result<Vec<u8>>,
) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.gguf");
    let e = write_gguf(&path, md, tensors, alignment, data)
        .unwrap_err()
        .to_string();
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "left a file: {e}"
    );
    assert!(!e.contains('\n'), "{e}");
    e
}

#[test]
fn writer_refuses_bad_arguments() {
    let t = [
        spec("a", &[2, 32], DType::Q8_0),
        spec("b", &[4], DType::F32),
    ];
    let mut ok = |i: usize| Ok(vec![0u8; [68, 16][i]]);
    let e = write_err(&[], &t, 32, &mut |i| Ok(vec![0; [68, 15][i]]));
    assert!(
        e.ends_with("tensor b: data has 15 bytes, expected 16 (f32 of shape [4])"),
        "{e}"
    );
    let e = write_err(&[], &t, 32, &mut |i| match i {
        0 => Ok(vec![0; 68]),
        _ => Err(Error::InvalidInput("source failed".into())),
    });
    assert_eq!(e, "source failed");
    let e = write_err(&[], &t, 48, &mut ok);
    assert!(
        e.ends_with("alignment 48 is not a power of two that fits a u32"),
        "{e}"
    );
    // A power of two that general.alignment (a u32) cannot record.
    let e = write_err(&[], &t, 1 << 32, &mut ok);
    assert!(
        e.ends_with("alignment 4294967296 is not a power of two that fits a u32"),
        "{e}"
    );
    let dup = [kv("k", Value::U8(1)), kv("k", Value::U8(2))];
    assert!(write_err(&dup, &t, 32, &mut ok).ends_with("duplicate metadata key k"));
    let t2 = [spec("a", &[4], DType::F32), spec("a", &[4], DType::F32)];
    assert!(write_err(&[], &t2, 32, &mut ok).ends_with("duplicate tensor name a"));
    let mixed = [kv("k", Value::Array(vec![Value::U8(1), Value::I8(1)]))];
    assert!(write_err(&mixed, &t, 32, &mut ok)
        .ends_with("metadata key k: array mixes u8 and i8 elements"));
    let mut deep = Value::Array(vec![]);
    for _ in 0..8 {
        deep = Value::Array(vec![deep]);
    }
    let e = write_err(&[kv("k", deep)], &t, 32, &mut ok);
    assert!(
        e.ends_with("metadata key k: arrays nested deeper than 8"),
        "{e}"
    );
    let align = [kv("general.alignment", Value::U32(64))];
    let e = write_err(&align, &t, 32, &mut ok);
    assert!(
        e.ends_with("w.gguf: metadata general.alignment is 64, but the alignment argument is 32"),
        "{e}"
    );
    let e = write_err(&[kv("general.alignment", Value::U64(32))], &t, 32, &mut ok);
    assert!(
        e.ends_with("metadata general.alignment has type u64, expected u32"),
        "{e}"
    );
    let bad_row = [spec("q", &[2, 100], DType::Q4K)];
    let e = write_err(&[], &bad_row, 32, &mut ok);
    assert!(
        e.ends_with("tensor q: row length 100 is not a multiple of the Q4_K block (256)"),
        "{e}"
    );
    let five = [spec("x", &[1; 5], DType::F32)];
    assert!(write_err(&[], &five, 32, &mut ok).contains("5 dimensions"));
    // general.alignment given and matching is kept as it is, not repeated.
    let bytes = write_to_vec(&align, &[spec("b", &[4], DType::F32)], 64, |_| vec![0; 16]);
    assert_eq!(parse(bytes).unwrap().metadata(), &align[..]);
}
