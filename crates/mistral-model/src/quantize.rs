//! Quantization: which format each tensor gets (llama.cpp's mixture rules), quantize-on-load in
//! memory, and `mistral quantize`'s GGUF writer.
//!
//! A [`Scheme`] is a llama.cpp file type (`LLAMA_FTYPE_MOSTLY_*`). [`Scheme::tensor_dtype`]
//! reimplements llama.cpp's `llama_tensor_get_type` (src/llama-quant.cpp) for dense Llama models
//! without an importance matrix, so a file written here has the tensor types `llama-quantize`
//! gives the same model:
//! - 1-D tensors (the norms) stay f32;
//! - `output.weight`, and `token_embd.weight` when the embeddings are tied, get Q6_K (Q8_0 for
//!   q8_0, or when the row length is not a multiple of the default type's block);
//! - Q4_K_M and Q5_K_M give `attn_v` and `ffn_down` Q6_K on the layers `use_more_bits` picks
//!   (the first and last eighth, and every third layer in between);
//! - `q4_k` is llama.cpp's Q4_K_S (`attn_v` of the first 4 layers and `ffn_down` of the first
//!   eighth at Q5_K); `q5_k` is Q5_K_S, `q6_k` is Q6_K. (llama-quantize's `Q4_K` alias means
//!   Q4_K_M; here `q4_k_m` says so.)
//! - A row length that is not a multiple of the chosen type's block falls back as llama.cpp's
//!   `tensor_type_fallback` does: Q4_K → Q5_0, Q6_K → Q8_0, Q5_K → Q5_0 (llama.cpp picks Q5_1,
//!   which this workspace does not have), and f16 when even 32 does not divide the row.
//!
//! Quantization is row-local (blocks never straddle rows), so tensors are converted in chunks of
//! whole rows in parallel, and a row permutation commutes with it: the GGUF writer permutes the
//! q and k rows of a Hugging Face source as `convert_hf_to_gguf.py` does after quantizing, and
//! keeps a GGUF source's rows as they are.

use std::path::Path;

use mistral_core::{DType, Error, HostBytes, HostTensor, Result};
use mistral_gguf::{write_gguf, GgufFile, TensorSpec, Value, DEFAULT_ALIGNMENT};
use rayon::prelude::*;

use crate::gguf::{config_from_gguf, gguf_name};
use crate::weights::{expected_tensors, Layer, Weights};
use crate::{HostWeights, MistralConfig};

/// The names [`Scheme::parse`] accepts.
pub const SCHEME_NAMES: &str = "q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k, q4_k_m, q5_k_m";

/// A quantization scheme: one of llama.cpp's file types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// llama.cpp's file type whose default is this block format (Q4_K → Q4_K_S, Q5_K → Q5_K_S):
    /// every matrix in it, but for the output rules in the module docs.
    Uniform(DType),
    /// `Q4_K_M`: Q4_K, with Q6_K for the output and for half of `attn_v` and `ffn_down`.
    Q4KM,
    /// `Q5_K_M`: Q5_K, with Q6_K for the output and for half of `attn_v` and `ffn_down`.
    Q5KM,
}

/// The type a scheme chose for one tensor, and the one its rule wanted before the row length
/// forced a fallback (equal when there was none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorChoice {
    pub dtype: DType,
    pub wanted: DType,
}

impl TensorChoice {
    pub fn fell_back(&self) -> bool {
        self.dtype != self.wanted
    }
}

/// What a tensor is, for the mixture rules (llama.cpp's `tensor_category`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    TokenEmbd,
    Output,
    AttnV,
    FfnDown,
    Other,
}

fn role(hf: &str) -> (Role, Option<usize>) {
    let layer = hf
        .strip_prefix("model.layers.")
        .and_then(|r| r.split('.').next())
        .and_then(|l| l.parse().ok());
    let role = match hf {
        "model.embed_tokens.weight" => Role::TokenEmbd,
        "lm_head.weight" => Role::Output,
        _ if hf.ends_with("self_attn.v_proj.weight") => Role::AttnV,
        _ if hf.ends_with("mlp.down_proj.weight") => Role::FfnDown,
        _ => Role::Other,
    };
    (role, layer)
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers, and every third between.
fn use_more_bits(i: usize, n: usize) -> bool {
    i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
}

/// llama.cpp's `tensor_type_fallback` for a row of `ncols` elements (Q5_K → Q5_0: see the module
/// docs), with f16 where no block format fits.
fn fallback(want: DType, ncols: usize) -> DType {
    if ncols.is_multiple_of(want.block_elems()) {
        return want;
    }
    let next = match want {
        DType::Q4K | DType::Q5K => DType::Q5_0,
        DType::Q6K => DType::Q8_0,
        _ => DType::F16,
    };
    if ncols.is_multiple_of(next.block_elems()) {
        next
    } else {
        DType::F16
    }
}

impl Scheme {
    /// Parses `q4_k_m` and the other names of [`SCHEME_NAMES`] (case-insensitive; `q4_k_s` and
    /// `q5_k_s` name `q4_k` and `q5_k`).
    pub fn parse(s: &str) -> Result<Scheme> {
        let scheme = match s.to_ascii_lowercase().as_str() {
            "q4_k_m" => Scheme::Q4KM,
            "q5_k_m" => Scheme::Q5KM,
            "q4_k_s" => Scheme::Uniform(DType::Q4K),
            "q5_k_s" => Scheme::Uniform(DType::Q5K),
            other => match DType::parse(other) {
                Some(d) if d.is_quantized() => Scheme::Uniform(d),
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "unknown quantization {s:?}: expected one of {SCHEME_NAMES}"
                    )))
                }
            },
        };
        Ok(scheme)
    }

    /// The name [`Scheme::parse`] reads back.
    pub fn name(&self) -> String {
        match self {
            Scheme::Uniform(d) => d.to_string(),
            Scheme::Q4KM => "q4_k_m".into(),
            Scheme::Q5KM => "q5_k_m".into(),
        }
    }

    /// The type of every tensor no rule singles out.
    pub fn default_dtype(&self) -> DType {
        match self {
            Scheme::Uniform(d) => *d,
            Scheme::Q4KM => DType::Q4K,
            Scheme::Q5KM => DType::Q5K,
        }
    }

    /// llama.cpp's `enum llama_ftype` number, for `general.file_type`.
    pub fn file_type(&self) -> u32 {
        match self {
            Scheme::Uniform(DType::Q4_0) => 2,
            Scheme::Uniform(DType::Q4_1) => 3,
            Scheme::Uniform(DType::Q8_0) => 7,
            Scheme::Uniform(DType::Q5_0) => 8,
            Scheme::Uniform(DType::Q4K) => 14, // Q4_K_S
            Scheme::Q4KM => 15,
            Scheme::Uniform(DType::Q5K) => 16, // Q5_K_S
            Scheme::Q5KM => 17,
            Scheme::Uniform(DType::Q6K) => 18,
            Scheme::Uniform(DType::F16) => 1,
            Scheme::Uniform(DType::BF16) => 32,
            Scheme::Uniform(DType::F32) => 0,
        }
    }

    /// The type of tensor `hf` (Hugging Face name, shape in PyTorch order) of a model `cfg`.
    pub fn tensor_dtype(&self, hf: &str, shape: &[usize], cfg: &MistralConfig) -> TensorChoice {
        if shape.len() < 2 {
            let f32 = DType::F32;
            return TensorChoice {
                dtype: f32,
                wanted: f32,
            };
        }
        let ncols = shape[shape.len() - 1];
        let default = self.default_dtype();
        let (role, layer) = role(hf);
        let n_layers = cfg.num_hidden_layers;
        let i = layer.unwrap_or(0);
        let wanted = match role {
            Role::Output | Role::TokenEmbd if role == Role::Output || cfg.tie_word_embeddings => {
                if !ncols.is_multiple_of(default.block_elems()) || default == DType::Q8_0 {
                    DType::Q8_0
                } else {
                    DType::Q6K
                }
            }
            Role::AttnV => match self {
                Scheme::Q4KM | Scheme::Q5KM if use_more_bits(i, n_layers) => DType::Q6K,
                Scheme::Uniform(DType::Q4K) if i < 4 => DType::Q5K,
                _ => default,
            },
            Role::FfnDown => match self {
                Scheme::Q4KM | Scheme::Q5KM if use_more_bits(i, n_layers) => DType::Q6K,
                Scheme::Uniform(DType::Q4K) if i < n_layers / 8 => DType::Q5K,
                _ => default,
            },
            _ => default,
        };
        TensorChoice {
            dtype: fallback(wanted, ncols),
            wanted,
        }
    }
}

/// Elements converted per task: whole rows, about this many.
const CHUNK_ELEMS: usize = 1 << 18;

/// Converts `t` (rows of its last dimension) to `dtype`: the same bytes when it already is,
/// otherwise each chunk of rows decoded to f32 and encoded, in parallel.
fn convert(t: &HostTensor, dtype: DType, name: &str) -> Result<Vec<u8>> {
    let ncols = t.shape.last().copied().unwrap_or(1).max(1);
    let rows = t.numel() / ncols;
    let bad = |what: DType| {
        Error::InvalidInput(format!(
            "tensor {name}: rows of {ncols} are not whole {what} blocks"
        ))
    };
    let in_row = t.dtype.bytes_for(ncols).ok_or_else(|| bad(t.dtype))?;
    let out_row = dtype.bytes_for(ncols).ok_or_else(|| bad(dtype))?;
    if t.dtype == dtype {
        return Ok(t.bytes.as_slice().to_vec());
    }
    let src = t.bytes.as_slice();
    if src.len() != in_row * rows {
        return Err(Error::InvalidInput(format!(
            "tensor {name}: {} bytes for {rows} rows of {ncols} {}",
            src.len(),
            t.dtype
        )));
    }
    let chunk_rows = (CHUNK_ELEMS / ncols).max(1);
    let mut out = vec![0u8; out_row * rows];
    out.par_chunks_mut(out_row * chunk_rows)
        .zip(src.par_chunks(in_row * chunk_rows))
        .for_each(|(o, i)| {
            let mut x = vec![0f32; i.len() / in_row * ncols];
            t.dtype.decode_into(i, &mut x);
            o.copy_from_slice(&dtype.encode(&x));
        });
    Ok(out)
}

/// Quantizes weights in memory (`--quant`): every tensor as [`Scheme::tensor_dtype`] says, the
/// same bytes [`write_quantized_gguf`] writes (rows in Hugging Face order). A tied lm_head shares
/// the embedding's bytes.
pub fn quantize_weights(
    host: &HostWeights,
    cfg: &MistralConfig,
    scheme: &Scheme,
) -> Result<HostWeights> {
    let q = |hf: String, t: &HostTensor| -> Result<HostTensor> {
        let dtype = scheme.tensor_dtype(&hf, &t.shape, cfg).dtype;
        Ok(HostTensor {
            dtype,
            shape: t.shape.clone(),
            bytes: HostBytes::from_vec(convert(t, dtype, &hf)?),
        })
    };
    let embed = q("model.embed_tokens.weight".into(), &host.embed)?;
    let mut layers = Vec::with_capacity(host.layers.len());
    for (i, l) in host.layers.iter().enumerate() {
        let n = |part: &str| format!("model.layers.{i}.{part}.weight");
        layers.push(Layer {
            attn_norm: q(n("input_layernorm"), &l.attn_norm)?,
            wq: q(n("self_attn.q_proj"), &l.wq)?,
            wk: q(n("self_attn.k_proj"), &l.wk)?,
            wv: q(n("self_attn.v_proj"), &l.wv)?,
            wo: q(n("self_attn.o_proj"), &l.wo)?,
            ffn_norm: q(n("post_attention_layernorm"), &l.ffn_norm)?,
            w_gate: q(n("mlp.gate_proj"), &l.w_gate)?,
            w_up: q(n("mlp.up_proj"), &l.w_up)?,
            w_down: q(n("mlp.down_proj"), &l.w_down)?,
        });
    }
    let norm = q("model.norm.weight".into(), &host.norm)?;
    let lm_head = if cfg.tie_word_embeddings {
        embed.clone()
    } else {
        q("lm_head.weight".into(), &host.lm_head)?
    };
    Ok(Weights {
        embed,
        layers,
        norm,
        lm_head,
    })
}

/// llama.cpp's `permute(w, n_head, n_head_kv)` on the rows of a `[heads * head_dim, k]` weight,
/// as convert_hf_to_gguf.py applies it to q and k: GGUF row `h·d + 2i + s` holds Hugging Face row
/// `h·d + s·d/2 + i`. The inverse of [`crate::gguf::unpermute_rows`].
pub fn permute_rows(bytes: &[u8], heads: usize, head_dim: usize, row_bytes: usize) -> Vec<u8> {
    let half = head_dim / 2;
    let mut out = vec![0u8; bytes.len()];
    for h in 0..heads {
        for s in 0..2 {
            for i in 0..half {
                let hf = h * head_dim + s * half + i;
                let gg = h * head_dim + 2 * i + s;
                out[gg * row_bytes..(gg + 1) * row_bytes]
                    .copy_from_slice(&bytes[hf * row_bytes..(hf + 1) * row_bytes]);
            }
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::unpermute_rows;

    #[test]
    fn permute_is_the_inverse_of_unpermute() {
        let (heads, head_dim, row) = (3, 8, 2);
        let bytes: Vec<u8> = (0..(heads * head_dim * row) as u8).collect();
        let p = permute_rows(&bytes, heads, head_dim, row);
        assert_ne!(p, bytes);
        assert_eq!(unpermute_rows(&p, heads, head_dim, row), bytes);
    }

    #[test]
    fn use_more_bits_matches_llama_cpp_for_32_layers() {
        // Q4_K_M Mistral-7B: attn_v/ffn_down at Q6_K on layers 0-3, 6, 9, ..., 27, 28-31.
        let more: Vec<usize> = (0..32).filter(|&i| use_more_bits(i, 32)).collect();
        assert_eq!(
            more,
            [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
        );
    }

    #[test]
    fn fallbacks_follow_llama_cpp() {
        assert_eq!(fallback(DType::Q4K, 576), DType::Q5_0);
        assert_eq!(fallback(DType::Q6K, 576), DType::Q8_0);
        assert_eq!(fallback(DType::Q5K, 576), DType::Q5_0);
        assert_eq!(fallback(DType::Q4K, 512), DType::Q4K);
        assert_eq!(fallback(DType::Q4K, 100), DType::F16);
        assert_eq!(fallback(DType::Q4_0, 100), DType::F16);
    }
}
