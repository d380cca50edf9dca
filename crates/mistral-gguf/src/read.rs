//! Parsing and validating a GGUF v2/v3 file held in memory.
//!
//! Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64 metadata count, the
//! metadata key/values, the tensor infos, zero padding to `general.alignment`, then the data
//! section. Every count read from the file is bounded by the bytes left before anything is
//! allocated for it, so a corrupt count is an error and never a huge allocation.

use std::collections::HashMap;
use std::fmt::Display;

use crate::printable;
use crate::tensor::{dtype_of, tensor_bytes, MAX_DIMS};
use crate::value::{code, min_size};
use crate::{TensorInfo, Value};

/// The alignment of the data section and of each tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// How deep arrays may nest (an array of arrays is depth 2). Real files use 1.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// Smallest key/value: an empty key (u64 length), a u32 type and a one-byte value.
const MIN_KV_BYTES: u64 = 8 + 4 + 1;
/// Smallest tensor info: an empty name, u32 n_dims = 0, u32 type and u64 offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 4 + 8;

/// What a file holds, checked. Errors are one-line messages; the caller adds the path.
pub(crate) struct Parsed {
    pub version: u32,
    pub alignment: u64,
    pub data_offset: u64,
    pub metadata: Vec<(String, Value)>,
    pub keys: HashMap<String, usize>,
    pub tensors: Vec<TensorInfo>,
    pub names: HashMap<String, usize>,
}

/// A cursor over the file's bytes whose reads fail, naming what was being read, at the end.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn bytes(&mut self, n: u64, what: &dyn Display) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(format!(
                "truncated at offset {}: {what} needs {n} bytes, {} left",
                self.pos,
                self.left()
            ));
        }
        // n ≤ left ≤ usize::MAX.
        let out = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &dyn Display) -> Result<[u8; N], String> {
        let b = self.bytes(N as u64, what)?;
        Ok(b.try_into().expect("bytes() returned N bytes"))
    }

    fn u32(&mut self, what: &dyn Display) -> Result<u32, String> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Display) -> Result<u64, String> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A u64 count of items of at least `min_bytes` each, refused when the bytes left cannot
    /// hold that many: the check that keeps a corrupt count from becoming a huge allocation.
    fn count(&mut self, what: &dyn Display, min_bytes: u64) -> Result<usize, String> {
        let at = self.pos;
        let n = self.u64(what)?;
        if n > self.left() / min_bytes {
            return Err(format!(
                "{what} is {n} (at offset {at}), more than the {} bytes left can hold",
                self.left()
            ));
        }
        // n ≤ left ≤ usize::MAX.
        Ok(n as usize)
    }

    /// A u64 length and that many bytes of UTF-8.
    fn string(&mut self, what: &dyn Display) -> Result<String, String> {
        let at = self.pos;
        let len = self.u64(&format_args!("length of {what}"))?;
        let bytes = self.bytes(len, &format_args!("{what} (a string of {len} bytes)"))?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("{what} (string at offset {at}) is not valid UTF-8"))
    }

    /// A value of type `ty` for key `key`, arrays included; `depth` is the array nesting so far.
    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<Value, String> {
        let what = format_args!("value of key {key}");
        Ok(match ty {
            code::U8 => Value::U8(u8::from_le_bytes(self.array(&what)?)),
            code::I8 => Value::I8(i8::from_le_bytes(self.array(&what)?)),
            code::U16 => Value::U16(u16::from_le_bytes(self.array(&what)?)),
            code::I16 => Value::I16(i16::from_le_bytes(self.array(&what)?)),
            code::U32 => Value::U32(u32::from_le_bytes(self.array(&what)?)),
            code::I32 => Value::I32(i32::from_le_bytes(self.array(&what)?)),
            code::U64 => Value::U64(u64::from_le_bytes(self.array(&what)?)),
            code::I64 => Value::I64(i64::from_le_bytes(self.array(&what)?)),
            code::F32 => Value::F32(f32::from_le_bytes(self.array(&what)?)),
            code::F64 => Value::F64(f64::from_le_bytes(self.array(&what)?)),
            code::BOOL => {
                let at = self.pos;
                match self.array::<1>(&what)?[0] {
                    0 => Value::Bool(false),
                    1 => Value::Bool(true),
                    b => return Err(format!("key {key}: bool at offset {at} is {b}, not 0 or 1")),
                }
            }
            code::STRING => Value::String(self.string(&what)?),
            code::ARRAY => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(format!(
                        "key {key}: arrays nested deeper than {MAX_ARRAY_DEPTH}"
                    ));
                }
                let at = self.pos;
                let elem = self.u32(&format_args!("element type of key {key}"))?;
                let Some(min) = min_size(elem) else {
                    return Err(format!(
                        "key {key}: unknown array element type {elem} at offset {at}"
                    ));
                };
                let n = self.count(&format_args!("element count of key {key}"), min)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(elem, key, depth + 1)?);
                }
                Value::Array(items)
            }
            _ => {
                return Err(format!(
                    "key {key}: unknown value type {ty} at offset {}",
                    self.pos - 4
                ))
            }
        })
    }
}

/// Parses and checks the whole file: header, metadata, tensor infos and the tensors' ranges.
pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, String> {
    let mut r = Reader { buf, pos: 0 };
    let magic = r.array::<4>(&"the magic")?;
    if &magic != b"GGUF" {
        return Err(format!(
            "not a GGUF file: it starts with bytes {magic:02x?}, not \"GGUF\""
        ));
    }
    let version = r.u32(&"the version")?;
    match version {
        2 | 3 => {}
        1 => return Err("GGUF v1 is not supported (re-convert the file)".into()),
        v if matches!(v.swap_bytes(), 1..=3) => {
            return Err(format!(
                "big-endian GGUF (version {}) is not supported",
                v.swap_bytes()
            ))
        }
        v => return Err(format!("unsupported GGUF version {v}")),
    }
    // v2 and v3 share the layout (v3 only allowed big-endian files, refused above).
    let n_tensors = r.count(&"the tensor count", MIN_TENSOR_INFO_BYTES)?;
    let n_kv = r.count(&"the metadata count", MIN_KV_BYTES)?;

    let mut metadata = Vec::with_capacity(n_kv);
    let mut keys = HashMap::with_capacity(n_kv);
    for i in 0..n_kv {
        let key = r.string(&format_args!("metadata key #{i}"))?;
        let shown = printable(&key);
        if keys.contains_key(&key) {
            return Err(format!("duplicate metadata key {shown}"));
        }
        let ty = r.u32(&format_args!("type of key {shown}"))?;
        let value = r.value(ty, &shown, 0)?;
        keys.insert(key.clone(), metadata.len());
        metadata.push((key, value));
    }
    let alignment = match keys.get("general.alignment").map(|&i| &metadata[i].1) {
        None => DEFAULT_ALIGNMENT,
        Some(Value::U32(a)) if a.is_power_of_two() => u64::from(*a),
        Some(Value::U32(a)) => {
            return Err(format!(
                "general.alignment is {a}, which is not a positive power of two"
            ))
        }
        Some(v) => {
            return Err(format!(
                "general.alignment has type {}, expected u32",
                v.describe()
            ))
        }
    };

    let mut tensors = Vec::with_capacity(n_tensors);
    let mut names = HashMap::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let name = r.string(&format_args!("name of tensor #{i}"))?;
        let shown = printable(&name);
        if names.contains_key(&name) {
            return Err(format!("duplicate tensor name {shown}"));
        }
        let n_dims = r.u32(&format_args!("dimension count of tensor {shown}"))? as usize;
        // Checked before reading the dims, so a corrupt count cannot drive a long loop.
        if n_dims > MAX_DIMS {
            return Err(format!(
                "tensor {shown} has {n_dims} dimensions (GGML allows at most {MAX_DIMS})"
            ));
        }
        let mut dims = Vec::with_capacity(n_dims);
        for d in 0..n_dims {
            dims.push(r.u64(&format_args!("dimension {d} of tensor {shown}"))?);
        }
        let ty = r.u32(&format_args!("type of tensor {shown}"))?;
        let offset = r.u64(&format_args!("offset of tensor {shown}"))?;
        let dtype = dtype_of(&shown, ty)?;
        let n_bytes = tensor_bytes(&shown, &dims, dtype)?;
        if offset % alignment != 0 {
            return Err(format!(
                "tensor {shown}: offset {offset} is not a multiple of the alignment {alignment}"
            ));
        }
        names.insert(name.clone(), tensors.len());
        tensors.push(TensorInfo {
            name,
            dims,
            dtype,
            offset,
            n_bytes,
        });
    }

    let data_offset = (r.pos as u64).next_multiple_of(alignment);
    check_ranges(&tensors, data_offset, buf.len() as u64)?;
    Ok(Parsed {
        version,
        alignment,
        data_offset,
        metadata,
        keys,
        tensors,
        names,
    })
}

/// Every tensor lies inside the file, and no two tensors share a byte.
fn check_ranges(tensors: &[TensorInfo], data_offset: u64, file_len: u64) -> Result<(), String> {
    for t in tensors {
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.n_bytes));
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(format!(
                    "tensor {}: {} bytes at data offset {} (file offset {}) run past the end of \
                     the file ({file_len} bytes)",
                    printable(&t.name),
                    t.n_bytes,
                    t.offset,
                    data_offset as u128 + t.offset as u128
                ))
            }
        }
    }
    // Empty tensors hold no bytes, so they overlap nothing wherever their offset points.
    let mut by_offset: Vec<&TensorInfo> = tensors.iter().filter(|t| t.n_bytes > 0).collect();
    by_offset.sort_by_key(|t| t.offset);
    for w in by_offset.windows(2) {
        // Offsets are within the file (checked above), so the sum cannot overflow.
        let end = w[0].offset + w[0].n_bytes;
        if end > w[1].offset {
            let (a, b) = (printable(&w[0].name), printable(&w[1].name));
            return Err(format!(
                "tensors {a} and {b} overlap ({a} ends at data offset {end}, {b} starts at {})",
                w[1].offset
            ));
        }
    }
    Ok(())
}
