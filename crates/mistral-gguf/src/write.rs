//! Writing a GGUF v3 file, one tensor at a time.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mistral_core::{DType, Error, Result};

use crate::read::{DEFAULT_ALIGNMENT, MAX_ARRAY_DEPTH};
use crate::tensor::tensor_bytes;
use crate::value::code;
use crate::{printable, Value};

/// A tensor to write: its name, shape in PyTorch order (outermost first) and dtype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// Writes a little-endian GGUF v3 file at `path`: `metadata` in order, then the infos of
/// `tensors`, then each tensor's bytes as `data(i)` returns them for `tensors[i]`, in order.
///
/// Only one tensor's bytes are held at a time. The data section and every tensor start at a
/// multiple of `alignment` (a power of two; zero bytes pad), and `general.alignment` is added to
/// the metadata when `alignment` is not the default 32. Each `data(i)` must return exactly the
/// tensor's byte length. The file is written under a temporary name beside `path` and renamed
/// when complete, so a failure (including an error from `data`) leaves no partial file.
pub fn write_gguf(
    path: &Path,
    metadata: &[(String, Value)],
    tensors: &[TensorSpec],
    alignment: u64,
    data: &mut dyn FnMut(usize) -> Result<Vec<u8>>,
) -> Result<()> {
    let bad = |msg: String| Error::InvalidInput(format!("{}: {msg}", path.display()));
    let plan = plan(metadata, tensors, alignment).map_err(bad)?;
    let tmp = temp_path(path).ok_or_else(|| bad("not a file path".into()))?;
    let written = File::create(&tmp)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|file| write_all(file, &tmp, path, &plan, metadata, tensors, data));
    match written.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Best effort: the temporary file may not exist if creating it failed.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// What the header says about each tensor, computed and checked before anything is written.
struct Plan {
    alignment: u64,
    /// `general.alignment`, when it must be added to the caller's metadata.
    extra_alignment: Option<Value>,
    /// Per tensor: dims in GGML order, byte offset in the data section, byte length.
    infos: Vec<(Vec<u64>, u64, u64)>,
}

fn plan(
    metadata: &[(String, Value)],
    tensors: &[TensorSpec],
    alignment: u64,
) -> std::result::Result<Plan, String> {
    if !alignment.is_power_of_two() || alignment > u64::from(u32::MAX) {
        return Err(format!(
            "alignment {alignment} is not a power of two that fits a u32"
        ));
    }
    let mut keys = HashSet::new();
    for (key, value) in metadata {
        if !keys.insert(key.as_str()) {
            return Err(format!("duplicate metadata key {}", printable(key)));
        }
        check_value(&printable(key), value, 0)?;
    }
    let extra_alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        Some((_, Value::U32(a))) if u64::from(*a) == alignment => None,
        Some((_, Value::U32(a))) => {
            return Err(format!(
                "metadata general.alignment is {a}, but the alignment argument is {alignment}"
            ))
        }
        Some((_, v)) => {
            return Err(format!(
                "metadata general.alignment has type {}, expected u32",
                v.describe()
            ))
        }
        None if alignment == DEFAULT_ALIGNMENT => None,
        None => Some(Value::U32(alignment as u32)),
    };

    let mut names = HashSet::new();
    let mut infos = Vec::with_capacity(tensors.len());
    let mut offset = 0u64;
    for t in tensors {
        if !names.insert(t.name.as_str()) {
            return Err(format!("duplicate tensor name {}", printable(&t.name)));
        }
        let dims: Vec<u64> = t.shape.iter().rev().map(|&d| d as u64).collect();
        let n_bytes = tensor_bytes(&printable(&t.name), &dims, t.dtype)?;
        infos.push((dims, offset, n_bytes));
        offset = offset
            .checked_add(n_bytes)
            .and_then(|end| end.checked_next_multiple_of(alignment))
            .ok_or_else(|| format!("tensor {}: the data section overflows", printable(&t.name)))?;
    }
    Ok(Plan {
        alignment,
        extra_alignment,
        infos,
    })
}

/// Arrays must be homogeneous (GGUF stores one element type per array) and nest at most
/// [`MAX_ARRAY_DEPTH`] deep, so that the reader accepts what the writer writes.
fn check_value(key: &str, v: &Value, depth: usize) -> std::result::Result<(), String> {
    let Value::Array(items) = v else {
        return Ok(());
    };
    if depth >= MAX_ARRAY_DEPTH {
        return Err(format!(
            "metadata key {key}: arrays nested deeper than {MAX_ARRAY_DEPTH}"
        ));
    }
    if let Some(first) = items.first() {
        if let Some(other) = items.iter().find(|x| x.code() != first.code()) {
            return Err(format!(
                "metadata key {key}: array mixes {} and {} elements",
                first.type_name(),
                other.type_name()
            ));
        }
    }
    items
        .iter()
        .try_for_each(|x| check_value(key, x, depth + 1))
}

/// `.NAME.PID.tmp` in the directory of `path`.
fn temp_path(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy();
    Some(path.with_file_name(format!(".{name}.{}.tmp", std::process::id())))
}

/// A buffered file that counts the bytes written, for padding.
struct Out<'a> {
    w: BufWriter<File>,
    pos: u64,
    path: &'a Path,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.pos += bytes.len() as u64;
        self.w.write_all(bytes).map_err(|e| Error::io(self.path, e))
    }

    fn pad(&mut self, alignment: u64) -> Result<()> {
        let n = self.pos.next_multiple_of(alignment) - self.pos;
        self.put(&vec![0u8; n as usize])
    }

    fn string(&mut self, s: &str) -> Result<()> {
        self.put(&(s.len() as u64).to_le_bytes())?;
        self.put(s.as_bytes())
    }

    /// A value without its type tag (arrays carry their element type and count).
    fn value(&mut self, v: &Value) -> Result<()> {
        match v {
            Value::U8(x) => self.put(&x.to_le_bytes()),
            Value::I8(x) => self.put(&x.to_le_bytes()),
            Value::U16(x) => self.put(&x.to_le_bytes()),
            Value::I16(x) => self.put(&x.to_le_bytes()),
            Value::U32(x) => self.put(&x.to_le_bytes()),
            Value::I32(x) => self.put(&x.to_le_bytes()),
            Value::U64(x) => self.put(&x.to_le_bytes()),
            Value::I64(x) => self.put(&x.to_le_bytes()),
            Value::F32(x) => self.put(&x.to_le_bytes()),
            Value::F64(x) => self.put(&x.to_le_bytes()),
            Value::Bool(x) => self.put(&[u8::from(*x)]),
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                // An empty array has no element to take a type from: store it as u8, as gguf-py
                // does for `bytes`.
                let elem = items.first().map_or(code::U8, Value::code);
                self.put(&elem.to_le_bytes())?;
                self.put(&(items.len() as u64).to_le_bytes())?;
                items.iter().try_for_each(|x| self.value(x))
            }
        }
    }
}

/// Writes the file to `tmp`; errors about the caller's data name `target`, the path asked for.
fn write_all(
    file: File,
    tmp: &Path,
    target: &Path,
    plan: &Plan,
    metadata: &[(String, Value)],
    tensors: &[TensorSpec],
    data: &mut dyn FnMut(usize) -> Result<Vec<u8>>,
) -> Result<()> {
    let mut out = Out {
        w: BufWriter::with_capacity(1 << 20, file),
        pos: 0,
        path: tmp,
    };
    let extra = plan
        .extra_alignment
        .as_ref()
        .map(|v| ("general.alignment", v));
    let kvs: Vec<(&str, &Value)> = metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .chain(extra)
        .collect();

    out.put(b"GGUF")?;
    out.put(&3u32.to_le_bytes())?;
    out.put(&(tensors.len() as u64).to_le_bytes())?;
    out.put(&(kvs.len() as u64).to_le_bytes())?;
    for (key, value) in &kvs {
        out.string(key)?;
        out.put(&value.code().to_le_bytes())?;
        out.value(value)?;
    }
    for (t, (dims, offset, _)) in tensors.iter().zip(&plan.infos) {
        out.string(&t.name)?;
        out.put(&(dims.len() as u32).to_le_bytes())?;
        dims.iter().try_for_each(|d| out.put(&d.to_le_bytes()))?;
        out.put(&t.dtype.ggml_type().to_le_bytes())?;
        out.put(&offset.to_le_bytes())?;
    }
    out.pad(plan.alignment)?;

    let data_start = out.pos;
    for (i, (t, (_, offset, n_bytes))) in tensors.iter().zip(&plan.infos).enumerate() {
        debug_assert_eq!(out.pos - data_start, *offset);
        let bytes = data(i)?;
        if bytes.len() as u64 != *n_bytes {
            return Err(Error::InvalidInput(format!(
                "{}: tensor {}: data has {} bytes, expected {n_bytes} ({} of shape {:?})",
                target.display(),
                printable(&t.name),
                bytes.len(),
                t.dtype,
                t.shape
            )));
        }
        out.put(&bytes)?;
        out.pad(plan.alignment)?;
    }
    let file = out
        .w
        .into_inner()
        .map_err(|e| Error::io(tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(tmp, e))
}
