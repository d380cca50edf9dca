//! GGUF, llama.cpp's model file format: a reader for v2 and v3 files and a streaming writer.
//!
//! [`GgufFile::open`] memory-maps a file and checks all of it up front (header, metadata, tensor
//! infos, every tensor's byte range), so that a malformed file is one error naming what is wrong
//! and never a panic or a huge allocation. Tensor bytes are then handed out without copying
//! ([`GgufFile::tensor_bytes`]). [`write_gguf`] writes a v3 file one tensor at a time.
//!
//! The format: <https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>. Dims are kept in
//! GGML's order (`dims[0]` is the row length); [`TensorInfo::shape`] and
//! [`GgufFile::host_tensor`] give PyTorch's order (outermost first).

mod read;
mod tensor;
mod value;
mod write;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use mistral_core::{Error, HostBytes, HostTensor, Result};

pub use read::{DEFAULT_ALIGNMENT, MAX_ARRAY_DEPTH};
pub use tensor::{TensorInfo, MAX_DIMS};
pub use value::Value;
pub use write::{write_gguf, TensorSpec};

/// A parsed, validated GGUF file whose bytes stay in memory (usually a memory map).
pub struct GgufFile {
    path: PathBuf,
    bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    version: u32,
    alignment: u64,
    data_offset: u64,
    metadata: Vec<(String, Value)>,
    keys: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    names: HashMap<String, usize>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Memory-maps and checks the file at `path`.
    pub fn open(path: &Path) -> Result<GgufFile> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len == 0 {
            // Some platforms refuse to map an empty file; parsing reports it as truncated.
            return GgufFile::from_bytes(Vec::new(), path);
        }
        // SAFETY: the map is read-only; the file must not be truncated while mapped, which is
        // the usual contract of memory-mapped model loading (llama.cpp and candle do the same).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        GgufFile::from_owner(Arc::new(map), path)
    }

    /// Checks a file already in memory; `origin` is the path errors name.
    pub fn from_bytes(bytes: Vec<u8>, origin: &Path) -> Result<GgufFile> {
        GgufFile::from_owner(Arc::new(bytes), origin)
    }

    fn from_owner(bytes: Arc<dyn AsRef<[u8]> + Send + Sync>, path: &Path) -> Result<GgufFile> {
        let p = read::parse((*bytes).as_ref()).map_err(|msg| Error::model(path, msg))?;
        Ok(GgufFile {
            path: path.to_path_buf(),
            bytes,
            version: p.version,
            alignment: p.alignment,
            data_offset: p.data_offset,
            metadata: p.metadata,
            keys: p.keys,
            tensors: p.tensors,
            names: p.names,
        })
    }

    /// The path given to [`GgufFile::open`] or [`GgufFile::from_bytes`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format version: 2 or 3.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// `general.alignment`, or [`DEFAULT_ALIGNMENT`] (32) when absent.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// The absolute file offset at which the tensor data section starts.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// All key/values, in file order.
    pub fn metadata(&self) -> &[(String, Value)] {
        &self.metadata
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.keys.get(key).map(|&i| &self.metadata[i].1)
    }

    /// `Ok(None)` when `key` is absent, the converted value when `conv` accepts it, and
    /// otherwise an error naming the key, the type expected and the type found.
    fn typed<'a, T>(
        &'a self,
        key: &str,
        expected: &str,
        conv: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        conv(v).map(Some).ok_or_else(|| {
            let found = match v {
                // A negative or too-large integer has the right kind but not the right value.
                v if v.as_i64().is_some() || v.as_u64().is_some() => {
                    format!("{} {}", v.type_name(), display_int(v))
                }
                v => v.describe(),
            };
            Error::model(
                &self.path,
                format!("metadata key {key} is {found}, expected {expected}"),
            )
        })
    }

    /// An integer of any width holding a non-negative value.
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        self.typed(key, "a non-negative integer", Value::as_u64)
    }

    /// A float or an integer.
    pub fn get_f64(&self, key: &str) -> Result<Option<f64>> {
        self.typed(key, "a number", Value::as_f64)
    }

    pub fn get_str(&self, key: &str) -> Result<Option<&str>> {
        self.typed(key, "a string", Value::as_str)
    }

    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.typed(key, "a bool", Value::as_bool)
    }

    /// An array of strings (an empty array gives an empty vector).
    pub fn get_str_array(&self, key: &str) -> Result<Option<Vec<&str>>> {
        self.typed(key, "an array of strings", |v| {
            v.as_array()?.iter().map(Value::as_str).collect()
        })
    }

    /// An array of numbers (floats or integers), each converted to f32.
    pub fn get_f32_array(&self, key: &str) -> Result<Option<Vec<f32>>> {
        self.typed(key, "an array of numbers", |v| {
            v.as_array()?
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect()
        })
    }

    /// An array of integers of any width, each fitting an i64.
    pub fn get_i64_array(&self, key: &str) -> Result<Option<Vec<i64>>> {
        self.typed(key, "an array of integers", |v| {
            v.as_array()?.iter().map(Value::as_i64).collect()
        })
    }

    /// `general.architecture` (`llama`, …); an error when absent.
    pub fn architecture(&self) -> Result<&str> {
        self.get_str("general.architecture")?
            .ok_or_else(|| Error::model(&self.path, "metadata key general.architecture is missing"))
    }

    /// All tensor infos, in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The info of tensor `name`, if present.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.names.get(name).map(|&i| &self.tensors[i])
    }

    /// The bytes of tensor `t`, without copying.
    ///
    /// # Panics
    /// If `t`'s range lies outside this file, which cannot happen for a `t` from
    /// [`GgufFile::tensors`] (every range was checked on open) but can for one from another file.
    pub fn tensor_bytes(&self, t: &TensorInfo) -> HostBytes {
        // Checked on open: data_offset + offset + n_bytes ≤ file length ≤ usize::MAX.
        let start = (self.data_offset + t.offset) as usize;
        HostBytes::slice(self.bytes.clone(), start, t.n_bytes as usize)
            .expect("tensor range lies inside the file")
    }

    /// Tensor `name` as a host tensor: dtype, shape in PyTorch order, bytes from the map.
    pub fn host_tensor(&self, name: &str) -> Option<HostTensor> {
        let t = self.tensor(name)?;
        Some(HostTensor {
            dtype: t.dtype,
            shape: t.shape(),
            bytes: self.tensor_bytes(t),
        })
    }
}

/// `s` as an error message may show it: control characters escaped (a name read from a corrupt
/// file may hold a newline), and cut after 200 characters.
pub(crate) fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    const MAX_CHARS: usize = 200;
    if !s.chars().any(char::is_control) && s.len() <= MAX_CHARS {
        return s.into();
    }
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out.into()
}

fn display_int(v: &Value) -> String {
    match (v.as_i64(), v.as_u64()) {
        (Some(i), _) => i.to_string(),
        (None, Some(u)) => u.to_string(),
        (None, None) => String::new(),
    }
}
