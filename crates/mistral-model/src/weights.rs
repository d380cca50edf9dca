//! The tensors of a Mistral checkpoint: names and shapes expected from the config, checked on load,
//! and their upload to a backend.

use std::path::Path;

use mistral_core::{Backend, DType, Error, HostTensor, Result};

use crate::safetensors::Checkpoint;
use crate::MistralConfig;

/// Weights of one decoder layer (Hugging Face names in comments; shapes are `[out, in]`).
#[derive(Debug)]
pub struct Layer<T> {
    pub attn_norm: T, // input_layernorm.weight            [hidden]
    pub wq: T,        // self_attn.q_proj.weight           [heads * head_dim, hidden]
    pub wk: T,        // self_attn.k_proj.weight           [kv_heads * head_dim, hidden]
    pub wv: T,        // self_attn.v_proj.weight           [kv_heads * head_dim, hidden]
    pub wo: T,        // self_attn.o_proj.weight           [hidden, heads * head_dim]
    pub ffn_norm: T,  // post_attention_layernorm.weight   [hidden]
    pub w_gate: T,    // mlp.gate_proj.weight              [ffn, hidden]
    pub w_up: T,      // mlp.up_proj.weight                [ffn, hidden]
    pub w_down: T,    // mlp.down_proj.weight              [hidden, ffn]
}

/// All weights of the model, generic over where they live (host memory map or a device).
#[derive(Debug)]
pub struct Weights<T> {
    pub embed: T, // model.embed_tokens.weight  [vocab, hidden]
    pub layers: Vec<Layer<T>>,
    pub norm: T,    // model.norm.weight          [hidden]
    pub lm_head: T, // lm_head.weight             [vocab, hidden] (the embedding when tied)
}

impl<T> Weights<T> {
    /// Builds every weight of `cfg` with `make(name, shape)`, in file order. A tied lm_head is
    /// made from the embedding's name again.
    pub fn from_fn(
        cfg: &MistralConfig,
        mut make: impl FnMut(&str, &[usize]) -> Result<T>,
    ) -> Result<Self> {
        let mut all = expected_tensors(cfg).into_iter();
        let mut next = || {
            let (name, shape) = all.next().expect("expected_tensors yields every weight");
            make(&name, &shape)
        };
        let embed = next()?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for _ in 0..cfg.num_hidden_layers {
            layers.push(Layer {
                attn_norm: next()?,
                wq: next()?,
                wk: next()?,
                wv: next()?,
                wo: next()?,
                ffn_norm: next()?,
                w_gate: next()?,
                w_up: next()?,
                w_down: next()?,
            });
        }
        let norm = next()?;
        let lm_head = if cfg.tie_word_embeddings {
            make(
                "model.embed_tokens.weight",
                &[cfg.vocab_size, cfg.hidden_size],
            )?
        } else {
            next()?
        };
        Ok(Weights {
            embed,
            layers,
            norm,
            lm_head,
        })
    }
}

/// Weights on the host, still in their memory maps.
pub type HostWeights = Weights<HostTensor>;

/// Every tensor name a checkpoint for `cfg` must hold, with its shape, in file order.
pub fn expected_tensors(cfg: &MistralConfig) -> Vec<(String, Vec<usize>)> {
    let (h, f, q, kv, v) = (
        cfg.hidden_size,
        cfg.intermediate_size,
        cfg.q_dim(),
        cfg.kv_dim(),
        cfg.vocab_size,
    );
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, h])];
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        out.extend([
            (format!("{p}.input_layernorm.weight"), vec![h]),
            (format!("{p}.self_attn.q_proj.weight"), vec![q, h]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.o_proj.weight"), vec![h, q]),
            (format!("{p}.post_attention_layernorm.weight"), vec![h]),
            (format!("{p}.mlp.gate_proj.weight"), vec![f, h]),
            (format!("{p}.mlp.up_proj.weight"), vec![f, h]),
            (format!("{p}.mlp.down_proj.weight"), vec![h, f]),
        ]);
    }
    out.push(("model.norm.weight".to_string(), vec![h]));
    if !cfg.tie_word_embeddings {
        out.push(("lm_head.weight".to_string(), vec![v, h]));
    }
    out
}

impl HostWeights {
    /// Takes the expected tensors out of a checkpoint, checking presence and shape.
    pub fn from_checkpoint(cfg: &MistralConfig, ck: &Checkpoint, dir: &Path) -> Result<Self> {
        Weights::from_fn(cfg, |name, shape| {
            if let Some((file, dtype)) = ck.unsupported.get(name) {
                return Err(Error::model(
                    file,
                    format!("tensor {name} has unsupported dtype {dtype} (f32, f16, bf16)"),
                ));
            }
            let e = ck
                .tensors
                .get(name)
                .ok_or_else(|| Error::model(dir, format!("missing tensor {name}")))?;
            if e.tensor.shape != shape {
                return Err(Error::model(
                    &e.file,
                    format!(
                        "tensor {name} has shape {:?}, expected {shape:?}",
                        e.tensor.shape
                    ),
                ));
            }
            Ok(e.tensor.clone())
        })
    }

    /// Opens `dir/config.json` and the checkpoint beside it.
    pub fn load_dir(dir: &Path) -> Result<(MistralConfig, Self)> {
        if !dir.is_dir() {
            return Err(Error::model(
                dir,
                "model directory does not exist or is not a directory",
            ));
        }
        let cfg = MistralConfig::from_file(&dir.join("config.json"))?;
        let ck = Checkpoint::open_dir(dir)?;
        let w = Self::from_checkpoint(&cfg, &ck, dir)?;
        Ok((cfg, w))
    }

    /// Every tensor, in upload order.
    pub fn iter(&self) -> impl Iterator<Item = &HostTensor> {
        std::iter::once(&self.embed)
            .chain(self.layers.iter().flat_map(|l| {
                [
                    &l.attn_norm,
                    &l.wq,
                    &l.wk,
                    &l.wv,
                    &l.wo,
                    &l.ffn_norm,
                    &l.w_gate,
                    &l.w_up,
                    &l.w_down,
                ]
            }))
            .chain([&self.norm, &self.lm_head])
    }

    /// Bytes [`HostWeights::upload`] puts on a device (a tied lm_head is uploaded as a second
    /// copy of the embedding, so it counts twice).
    pub fn bytes(&self) -> u64 {
        self.iter().map(|t| t.bytes.len() as u64).sum()
    }

    /// Uploads every tensor to `b`, keeping its dtype. `progress(done, total)` is called in bytes.
    pub fn upload<B: Backend>(
        &self,
        b: &B,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Weights<B::Tensor>> {
        if let Some(t) = self.iter().find(|t| !b.supports(t.dtype)) {
            return Err(Error::Unsupported(format!(
                "backend {} cannot use {} weights",
                b.name(),
                t.dtype
            )));
        }
        let total: u64 = self.iter().map(|t| t.bytes.len() as u64).sum();
        let mut done = 0u64;
        let mut up = |t: &HostTensor| -> Result<B::Tensor> {
            let r = b.upload(t)?;
            done += t.bytes.len() as u64;
            progress(done, total);
            Ok(r)
        };
        let embed = up(&self.embed)?;
        let mut layers = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            layers.push(Layer {
                attn_norm: up(&l.attn_norm)?,
                wq: up(&l.wq)?,
                wk: up(&l.wk)?,
                wv: up(&l.wv)?,
                wo: up(&l.wo)?,
                ffn_norm: up(&l.ffn_norm)?,
                w_gate: up(&l.w_gate)?,
                w_up: up(&l.w_up)?,
                w_down: up(&l.w_down)?,
            });
        }
        Ok(Weights {
            embed,
            layers,
            norm: up(&self.norm)?,
            lm_head: up(&self.lm_head)?,
        })
    }

    /// The storage dtype of the projection weights.
    pub fn dtype(&self) -> DType {
        self.layers.first().map_or(self.embed.dtype, |l| l.wq.dtype)
    }
}
