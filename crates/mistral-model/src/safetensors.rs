//! Memory-mapped safetensors checkpoints: one `model.safetensors`, or shards named by
//! `model.safetensors.index.json`. Headers are validated by the `safetensors` crate (length, JSON,
//! offsets in range, contiguous and non-overlapping, byte size matching dtype × shape); every
//! error names the file and, where there is one, the tensor.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::safetensors::tensor::{Dtype, SafeTensorError};
use ::safetensors::SafeTensors;
use memmap2::Mmap;
use mistral_core::{DType, Error, HostBytes, HostTensor, Result};
use serde::Deserialize;

/// Where a tensor lives.
#[derive(Clone, Debug)]
pub struct Entry {
    pub file: PathBuf,
    pub tensor: HostTensor,
}

/// All tensors of a checkpoint, by name, backed by memory maps.
#[derive(Debug, Default)]
pub struct Checkpoint {
    pub tensors: BTreeMap<String, Entry>,
    /// Tensors of a dtype no backend takes (e.g. integer buffers of old checkpoints), with their
    /// file and dtype: an error only if the model needs them.
    pub unsupported: BTreeMap<String, (PathBuf, String)>,
}

#[derive(Deserialize)]
struct Index {
    weight_map: HashMap<String, String>,
}

/// Names of the index and single-file checkpoints inside a model directory.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
pub const SINGLE_FILE: &str = "model.safetensors";

impl Checkpoint {
    /// Opens the checkpoint of a Hugging Face model directory.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        let index = dir.join(INDEX_FILE);
        if index.is_file() {
            return Self::open_index(&index);
        }
        let single = dir.join(SINGLE_FILE);
        if single.is_file() {
            let mut c = Checkpoint::default();
            c.add_file(&single)?;
            return Ok(c);
        }
        Err(Error::model(
            dir,
            format!("no {SINGLE_FILE} or {INDEX_FILE} in the model directory"),
        ))
    }

    /// Opens every shard named by an index and checks each mapped tensor is in its shard.
    pub fn open_index(index_path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(index_path).map_err(|e| Error::io(index_path, e))?;
        let index: Index = serde_json::from_str(&text)
            .map_err(|e| Error::model(index_path, format!("invalid index: {e}")))?;
        let dir = index_path.parent().unwrap_or(Path::new("."));
        let mut files: Vec<&String> = index.weight_map.values().collect();
        files.sort();
        files.dedup();
        let mut c = Checkpoint::default();
        for f in files {
            if f.contains('/') || f.contains('\\') {
                return Err(Error::model(
                    index_path,
                    format!("shard name {f:?} must be a plain file name"),
                ));
            }
            c.add_file(&dir.join(f))?;
        }
        for (name, f) in &index.weight_map {
            match c.tensors.get(name) {
                Some(e) if e.file.file_name().is_some_and(|n| n == f.as_str()) => {}
                Some(e) => {
                    return Err(Error::model(
                        index_path,
                        format!(
                            "tensor {name} is mapped to {f} but found in {}",
                            e.file.display()
                        ),
                    ))
                }
                None => {
                    return Err(Error::model(
                        dir.join(f),
                        format!("tensor {name} listed in the index is missing"),
                    ))
                }
            }
        }
        Ok(c)
    }

    /// Maps one safetensors file and adds its tensors.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: the map is read-only; the file must not be truncated while mapped, which is the
        // usual contract of memory-mapped model loading (transformers and candle do the same).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let map: Arc<Mmap> = Arc::new(map);
        let (header_len, meta) =
            SafeTensors::read_metadata(&map[..]).map_err(|e| Error::model(path, describe(&e)))?;
        let data_start = 8 + header_len;
        for (name, info) in meta.tensors() {
            let dtype = match info.dtype {
                Dtype::F32 => DType::F32,
                Dtype::F16 => DType::F16,
                Dtype::BF16 => DType::BF16,
                other => {
                    self.unsupported
                        .insert(name, (path.to_path_buf(), format!("{other:?}")));
                    continue;
                }
            };
            let (start, end) = info.data_offsets;
            let bytes = HostBytes::slice(map.clone(), data_start + start, end - start).ok_or_else(
                || Error::model(path, format!("tensor {name}: data offsets out of range")),
            )?;
            if self.tensors.contains_key(&name) {
                return Err(Error::model(
                    path,
                    format!("tensor {name} appears in more than one file"),
                ));
            }
            let tensor = HostTensor {
                dtype,
                shape: info.shape.clone(),
                bytes,
            };
            self.tensors.insert(
                name,
                Entry {
                    file: path.to_path_buf(),
                    tensor,
                },
            );
        }
        Ok(())
    }
}

/// One line describing a safetensors parse error.
fn describe(e: &SafeTensorError) -> String {
    match e {
        SafeTensorError::HeaderTooSmall => "file too small for a safetensors header".into(),
        SafeTensorError::HeaderTooLarge => {
            "bad header length (larger than the format allows)".into()
        }
        SafeTensorError::InvalidHeaderLength => {
            "bad header length (past the end of the file)".into()
        }
        SafeTensorError::InvalidHeader => "header is not valid UTF-8".into(),
        SafeTensorError::InvalidHeaderStart => "header is not a JSON object".into(),
        SafeTensorError::InvalidHeaderDeserialization => "header is not valid JSON".into(),
        SafeTensorError::InvalidOffset(name) => {
            format!("tensor {name}: data offsets out of range, overlapping or leaving gaps")
        }
        SafeTensorError::TensorInvalidInfo => {
            "a tensor's byte size does not match its dtype and shape".into()
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            "data section is shorter than the header says (truncated?)".into()
        }
        SafeTensorError::ValidationOverflow => "tensor shape overflows".into(),
        other => format!("invalid safetensors file: {other:?}"),
    }
}

/// Writes f32 tensors to a safetensors file (used for `mistral logits --out`).
pub fn write_f32(path: &Path, tensors: &[(&str, Vec<usize>, &[f32])]) -> Result<()> {
    let views = tensors
        .iter()
        .map(|(name, shape, data)| {
            let view = ::safetensors::tensor::TensorView::new(
                Dtype::F32,
                shape.clone(),
                bytemuck::cast_slice(data),
            )
            .map_err(|e| Error::model(path, describe(&e)))?;
            Ok((name.to_string(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    ::safetensors::serialize_to_file(views, &None, path).map_err(|e| match e {
        SafeTensorError::IoError(io) => Error::io(path, io),
        other => Error::model(path, describe(&other)),
    })
}
