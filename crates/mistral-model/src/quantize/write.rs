//! `mistral quantize`: a GGUF file written one tensor at a time, with llama.cpp's metadata.

use std::path::Path;

use mistral_core::{DType, Error, HostTensor, Result};
use mistral_gguf::{write_gguf, GgufFile, TensorSpec, Value, DEFAULT_ALIGNMENT};

use super::memory::convert;
use super::Scheme;
use crate::gguf::{config_from_gguf, gguf_name, permute_rows};
use crate::weights::{expected_tensors, Weights};
use crate::{HostWeights, MistralConfig};

/// One tensor of a written file.
#[derive(Clone, Debug)]
pub struct TensorReport {
    /// GGUF name.
    pub name: String,
    /// PyTorch order.
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// What the scheme's rule wanted; differs from `dtype` when the row length forced a fallback.
    pub wanted: DType,
    pub bytes: u64,
}

/// What [`write_quantized_gguf`] wrote.
#[derive(Clone, Debug)]
pub struct QuantizeReport {
    pub scheme: Scheme,
    pub tensors: Vec<TensorReport>,
    /// Size of the output file.
    pub file_bytes: u64,
    /// Things the user should know (e.g. no tokenizer was found).
    pub notes: Vec<String>,
}

impl QuantizeReport {
    /// Number of weights.
    pub fn params(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.shape.iter().product::<usize>() as u64)
            .sum()
    }

    /// Bytes of tensor data.
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.bytes).sum()
    }

    /// Bits per weight over all tensors, scales included.
    pub fn bits_per_weight(&self) -> f64 {
        self.tensor_bytes() as f64 * 8.0 / self.params().max(1) as f64
    }

    /// Tensors whose row length forced a type other than the rule's.
    pub fn fallbacks(&self) -> Vec<&TensorReport> {
        self.tensors
            .iter()
            .filter(|t| t.dtype != t.wanted)
            .collect()
    }

    /// `name → dtype` counts, e.g. `q4_k ×154, q6_k ×71, f32 ×65`.
    pub fn dtype_counts(&self) -> String {
        let mut counts: Vec<(DType, usize)> = Vec::new();
        for t in &self.tensors {
            match counts.iter_mut().find(|(d, _)| *d == t.dtype) {
                Some((_, n)) => *n += 1,
                None => counts.push((t.dtype, 1)),
            }
        }
        counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let parts: Vec<String> = counts.iter().map(|(d, n)| format!("{d} ×{n}")).collect();
        parts.join(", ")
    }
}

/// The source of `write_quantized_gguf`: the config, the weights as stored (rows in the file's
/// order), whether q/k rows are in Hugging Face order, and the metadata to carry over.
struct Source {
    cfg: MistralConfig,
    weights: HostWeights,
    hf_rows: bool,
    metadata: Vec<(String, Value)>,
    // Keeps the GGUF map alive for the weights' lifetime (they share its bytes anyway).
    _gguf: Option<GgufFile>,
}

fn open_source(src: &Path) -> Result<Source> {
    if src.is_file() {
        let f = GgufFile::open(src)?;
        let cfg = config_from_gguf(&f)?;
        // Rows stay in the file's (permuted) order: quantization is row-local.
        let weights = Weights::from_fn(&cfg, |hf, shape| {
            let name = gguf_name(hf);
            let t = f
                .host_tensor(&name)
                .ok_or_else(|| Error::model(src, format!("missing tensor {name}")))?;
            if t.shape != shape {
                return Err(Error::model(
                    src,
                    format!("tensor {name} has shape {:?}, expected {shape:?}", t.shape),
                ));
            }
            Ok(t)
        })?;
        let skip = [
            "general.alignment",
            "general.file_type",
            "general.quantization_version",
        ];
        let metadata = f
            .metadata()
            .iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .cloned()
            .collect();
        Ok(Source {
            cfg,
            weights,
            hf_rows: false,
            metadata,
            _gguf: Some(f),
        })
    } else {
        let (cfg, weights) = HostWeights::load_dir(src)?;
        let metadata = hf_metadata(src, &cfg);
        Ok(Source {
            cfg,
            weights,
            hf_rows: true,
            metadata,
            _gguf: None,
        })
    }
}

/// The `general.*` and `llama.*` keys of a Hugging Face model, as convert_hf_to_gguf.py writes
/// them (the sliding window is added by [`write_quantized_gguf`]).
fn hf_metadata(dir: &Path, cfg: &MistralConfig) -> Vec<(String, Value)> {
    let u = |v: usize| Value::U32(v as u32);
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "model".into());
    let mut m = vec![
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String(name)),
        ("llama.vocab_size", u(cfg.vocab_size)),
        ("llama.context_length", u(cfg.max_position_embeddings)),
        ("llama.embedding_length", u(cfg.hidden_size)),
        ("llama.block_count", u(cfg.num_hidden_layers)),
        ("llama.feed_forward_length", u(cfg.intermediate_size)),
        ("llama.rope.dimension_count", u(cfg.head_dim())),
        ("llama.attention.head_count", u(cfg.num_attention_heads)),
        ("llama.attention.head_count_kv", u(cfg.n_kv_heads())),
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::F32(cfg.rms_norm_eps as f32),
        ),
        ("llama.rope.freq_base", Value::F32(cfg.rope_theta() as f32)),
    ];
    if cfg.head_dim() * cfg.num_attention_heads != cfg.hidden_size {
        m.push(("llama.attention.key_length", u(cfg.head_dim())));
        m.push(("llama.attention.value_length", u(cfg.head_dim())));
    }
    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Writes `src` (a Hugging Face directory or a GGUF file) quantized with `scheme` to `out`, a GGUF
/// v3 file llama.cpp loads (architecture `llama`, q/k rows permuted as its converter does).
///
/// - `window`: `None` keeps the source's sliding window, `Some(None)` records none,
///   `Some(Some(n))` records `n` (`llama.attention.sliding_window`).
/// - `tokenizer`: `tokenizer.*` metadata for a Hugging Face source (see
///   `mistral_text::gguf_tokenizer_metadata`); a GGUF source's metadata is copied as it is and
///   this is ignored.
/// - `progress(done, total)`: bytes of tensor data written.
///
/// One tensor is converted at a time (rows in parallel), so memory stays at about one output
/// tensor plus a chunk of f32 rows per thread, whatever the model's size.
pub fn write_quantized_gguf(
    src: &Path,
    out: &Path,
    scheme: &Scheme,
    window: Option<Option<usize>>,
    tokenizer: &[(String, Value)],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<QuantizeReport> {
    check_out_path(out)?;
    if !src.exists() {
        return Err(Error::model(src, "no such file or directory"));
    }
    let s = open_source(src)?;
    let cfg = &s.cfg;
    let mut notes = Vec::new();

    let mut metadata = s.metadata.clone();
    if s.hf_rows {
        if tokenizer.is_empty() {
            notes.push(
                "no tokenizer.model in the source: the file has no tokenizer metadata, so \
                 llama.cpp will not load it"
                    .to_string(),
            );
        }
        metadata.extend(tokenizer.iter().cloned());
    }
    let key = "llama.attention.sliding_window";
    let window = window.unwrap_or(cfg.sliding_window);
    metadata.retain(|(k, _)| k != key);
    if let Some(w) = window {
        metadata.push((key.into(), Value::U32(w as u32)));
    }
    metadata.push(("general.file_type".into(), Value::U32(scheme.file_type())));
    metadata.push(("general.quantization_version".into(), Value::U32(2)));

    let expected = expected_tensors(cfg);
    // HostWeights::iter yields the tensors in expected_tensors' order (then a tied lm_head).
    let sources: Vec<&HostTensor> = s.weights.iter().take(expected.len()).collect();
    let mut specs = Vec::with_capacity(expected.len());
    let mut reports = Vec::with_capacity(expected.len());
    for (hf, shape) in &expected {
        let choice = scheme.tensor_dtype(hf, shape, cfg);
        let name = gguf_name(hf);
        let bytes = choice
            .dtype
            .bytes_for(shape.iter().product())
            .ok_or_else(|| Error::InvalidInput(format!("tensor {name}: size overflows")))?;
        specs.push(TensorSpec {
            name: name.clone(),
            shape: shape.clone(),
            dtype: choice.dtype,
        });
        reports.push(TensorReport {
            name,
            shape: shape.clone(),
            dtype: choice.dtype,
            wanted: choice.wanted,
            bytes: bytes as u64,
        });
    }
    let total: u64 = reports.iter().map(|r| r.bytes).sum();
    let mut done = 0u64;
    let mut data = |i: usize| -> Result<Vec<u8>> {
        let (hf, shape) = &expected[i];
        let dtype = specs[i].dtype;
        let bytes = convert(sources[i], dtype, &specs[i].name)?;
        let heads = if hf.ends_with("q_proj.weight") {
            cfg.num_attention_heads
        } else if hf.ends_with("k_proj.weight") {
            cfg.n_kv_heads()
        } else {
            0
        };
        let bytes = if s.hf_rows && heads > 0 {
            let row = bytes.len() / shape[0];
            permute_rows(&bytes, heads, cfg.head_dim(), row)
        } else {
            bytes
        };
        done += bytes.len() as u64;
        progress(done, total);
        Ok(bytes)
    };
    write_gguf(out, &metadata, &specs, DEFAULT_ALIGNMENT, &mut data)?;
    let file_bytes = std::fs::metadata(out).map_err(|e| Error::io(out, e))?.len();
    Ok(QuantizeReport {
        scheme: *scheme,
        tensors: reports,
        file_bytes,
        notes,
    })
}

/// Refuses an output path whose directory does not exist, before any work is done.
fn check_out_path(out: &Path) -> Result<()> {
    if out.is_dir() {
        return Err(Error::InvalidInput(format!(
            "{}: is a directory; give a .gguf file path",
            out.display()
        )));
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::InvalidInput(format!(
            "{}: directory {} does not exist",
            out.display(),
            dir.display()
        )));
    }
    Ok(())
}
