//! The executor: one `forward(tokens, start_pos)` for prefill and decode, written once over any
//! [`Backend`]. Activation buffers are allocated once for `max_batch` rows and reused; a longer
//! prompt is processed in blocks of `max_batch` tokens.

use mistral_core::ops::{AttentionParams, MatmulParams, Projection, RmsNormParams, RopeParams};
use mistral_core::{Backend, DType, Error, Result};

use crate::capture::Capture;
use crate::kv_cache::KvCache;
use crate::weights::{HostWeights, Weights};
use crate::MistralConfig;

/// Default context limit for Mistral-7B-Instruct-v0.1: its config says 32768 positions, but the
/// model was trained with 8k context (4096-token window).
pub const DEFAULT_CONTEXT_LIMIT: usize = 8192;

/// Run-time options of a model instance.
#[derive(Clone, Copy, Debug)]
pub struct ModelOptions {
    /// Largest number of tokens processed per block (prefill chunk); sizes the activation buffers.
    pub max_batch: usize,
    /// Positions past this are refused with a clear error.
    pub context_limit: usize,
    /// The KV cache's dtype (f32, f16 or bf16); `None` takes the backend's
    /// [`Backend::default_kv_dtype`] (f32 on the CPU reference).
    pub kv_dtype: Option<DType>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            max_batch: 256,
            context_limit: DEFAULT_CONTEXT_LIMIT,
            kv_dtype: None,
        }
    }
}

/// Which logits a forward pass returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only the last token's `[vocab]` (generation).
    Last,
    /// Every token's, `[tokens, vocab]` (teacher-forced scoring).
    All,
}

/// Records a named intermediate (the first `n` values of `t`) when capturing.
fn save<B: Backend>(
    b: &B,
    cap: &mut Option<Capture>,
    name: impl FnOnce() -> String,
    t: &B::Tensor,
    n: usize,
) -> Result<()> {
    if let Some(cap) = cap {
        let mut v = b.download_f32(t)?;
        v.truncate(n);
        cap.append(name(), &v);
    }
    Ok(())
}

/// Receives `(backend, logits buffer, rows, vocab)` after each block that produced logits.
type LogitsSink<'a, B> = dyn FnMut(&B, &<B as Backend>::Tensor, usize, usize) -> Result<()> + 'a;

/// Preallocated activations for up to `max_batch` rows.
struct Scratch<T> {
    x: T,      // [B, hidden] residual stream
    xn: T,     // [B, hidden] normed input of attention / MLP
    q: T,      // [B, heads * head_dim]
    k: T,      // [B, kv_heads * head_dim]
    v: T,      // [B, kv_heads * head_dim]
    attn: T,   // [B, heads * head_dim]
    out: T,    // [B, hidden] output of o_proj or down_proj, added to the residual
    gate: T,   // [B, ffn]
    up: T,     // [B, ffn]
    act: T,    // [B, ffn]
    logits: T, // [B, vocab]
}

/// A Mistral model on a backend, with its KV cache.
pub struct Model<B: Backend> {
    pub backend: B,
    pub cfg: MistralConfig,
    opts: ModelOptions,
    weights: Weights<B::Tensor>,
    cache: KvCache<B::Tensor>,
    s: Scratch<B::Tensor>,
    /// Next position the cache expects (positions `< next_pos` are cached).
    next_pos: usize,
    /// When set, every named intermediate is downloaded into it.
    pub capture: Option<Capture>,
}

impl<B: Backend> Model<B> {
    /// Uploads `host` weights to `backend` and allocates the cache and activations.
    pub fn new(
        backend: B,
        cfg: MistralConfig,
        host: &HostWeights,
        opts: ModelOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Self> {
        let weights = host.upload(&backend, progress)?;
        Self::from_weights(backend, cfg, weights, opts)
    }

    /// Builds a model around weights already on the device (e.g. generated there by a benchmark).
    pub fn from_weights(
        backend: B,
        cfg: MistralConfig,
        weights: Weights<B::Tensor>,
        opts: ModelOptions,
    ) -> Result<Self> {
        if opts.max_batch == 0 || opts.context_limit == 0 {
            return Err(Error::InvalidInput(
                "max batch and context limit must be positive".into(),
            ));
        }
        // The cache needs no more rows than positions that can exist.
        let slots = cfg.window().unwrap_or(usize::MAX).min(opts.context_limit);
        let kv_dtype = opts.kv_dtype.unwrap_or_else(|| backend.default_kv_dtype());
        let cache = KvCache::new(
            &backend,
            cfg.num_hidden_layers,
            slots,
            cfg.kv_dim(),
            kv_dtype,
        )?;
        let b = opts.max_batch;
        let z = |n: usize| backend.zeros(b * n);
        let s = Scratch {
            x: z(cfg.hidden_size)?,
            xn: z(cfg.hidden_size)?,
            q: z(cfg.q_dim())?,
            k: z(cfg.kv_dim())?,
            v: z(cfg.kv_dim())?,
            attn: z(cfg.q_dim())?,
            out: z(cfg.hidden_size)?,
            gate: z(cfg.intermediate_size)?,
            up: z(cfg.intermediate_size)?,
            act: z(cfg.intermediate_size)?,
            logits: z(cfg.vocab_size)?,
        };
        Ok(Model {
            backend,
            cfg,
            opts,
            weights,
            cache,
            s,
            next_pos: 0,
            capture: None,
        })
    }

    /// The options the model was built with (they size its buffers and cache).
    pub fn opts(&self) -> ModelOptions {
        self.opts
    }

    /// The dtype the KV cache is stored in (the option's, or the backend's default).
    pub fn kv_dtype(&self) -> DType {
        self.cache.dtype
    }

    /// The backend the model runs on.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend's name.
    pub fn backend_name(&self) -> String {
        self.backend.name()
    }

    /// Next position the cache expects.
    pub fn next_pos(&self) -> usize {
        self.next_pos
    }

    /// Checks that `n` more tokens from `start_pos` fit the context limit.
    pub fn check_fits(&self, start_pos: usize, n: usize) -> Result<()> {
        let limit = self.opts.context_limit;
        match start_pos.checked_add(n) {
            Some(total) if total <= limit => Ok(()),
            Some(total) => Err(Error::InvalidInput(format!(
                "{total} tokens exceed the context limit of {limit} tokens"
            ))),
            None => Err(Error::InvalidInput(format!(
                "{start_pos} + {n} tokens exceed the context limit of {limit} tokens"
            ))),
        }
    }

    /// Runs `tokens` at positions `start_pos..`, appending them to the cache, and returns logits
    /// on the host (`[vocab]` for [`Logits::Last`], `[tokens, vocab]` for [`Logits::All`]).
    ///
    /// `start_pos` must be 0 (start over) or [`Model::next_pos`] (continue).
    pub fn forward(&mut self, tokens: &[u32], start_pos: usize, want: Logits) -> Result<Vec<f32>> {
        let mut logits = Vec::new();
        self.run(tokens, start_pos, want, &mut |b, buf, rows, vocab| {
            let v = b.download_f32(buf)?;
            logits.extend_from_slice(&v[..rows * vocab]);
            Ok(())
        })?;
        Ok(logits)
    }

    /// Like [`Model::forward`] with [`Logits::Last`], but only the argmax id leaves the device.
    pub fn forward_argmax(&mut self, tokens: &[u32], start_pos: usize) -> Result<u32> {
        let mut id = 0;
        self.run(tokens, start_pos, Logits::Last, &mut |b, buf, _, vocab| {
            id = b.argmax(buf, 1, vocab)?[0];
            Ok(())
        })?;
        Ok(id)
    }

    fn run(
        &mut self,
        tokens: &[u32],
        start_pos: usize,
        want: Logits,
        sink: &mut LogitsSink<B>,
    ) -> Result<()> {
        if tokens.is_empty() {
            return Err(Error::InvalidInput(
                "no tokens to run (empty prompt)".into(),
            ));
        }
        if start_pos != 0 && start_pos != self.next_pos {
            return Err(Error::InvalidInput(format!(
                "forward at position {start_pos}, but the cache holds positions up to {}",
                self.next_pos
            )));
        }
        self.check_fits(start_pos, tokens.len())?;
        let vocab = self.cfg.vocab_size;
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::InvalidInput(format!(
                "token id {bad} is out of range (vocab size {vocab})"
            )));
        }
        self.next_pos = start_pos;
        let chunks: Vec<&[u32]> = tokens.chunks(self.opts.max_batch).collect();
        let last = chunks.len() - 1;
        for (c, chunk) in chunks.into_iter().enumerate() {
            let pos = self.next_pos;
            self.block(chunk, pos)?;
            self.next_pos += chunk.len();
            let rows = match want {
                Logits::All => chunk.len(),
                Logits::Last if c == last => 1,
                Logits::Last => continue,
            };
            self.lm_head(chunk.len(), rows)?;
            sink(&self.backend, &self.s.logits, rows, vocab)?;
        }
        Ok(())
    }

    /// All layers for one block of `n <= max_batch` tokens at `start_pos..`; leaves the final
    /// normed hidden states in `xn`.
    fn block(&mut self, tokens: &[u32], start_pos: usize) -> Result<()> {
        let (c, n) = (self.cfg.clone(), tokens.len());
        let (h, f, qd, kvd, hd) = (
            c.hidden_size,
            c.intermediate_size,
            c.q_dim(),
            c.kv_dim(),
            c.head_dim(),
        );
        let norm = RmsNormParams {
            rows: n,
            dim: h,
            eps: c.rms_norm_eps as f32,
        };
        let theta = c.rope_theta() as f32;
        let attn = AttentionParams {
            n,
            start_pos,
            n_heads: c.num_attention_heads,
            n_kv_heads: c.n_kv_heads(),
            head_dim: hd,
            window: c.window().unwrap_or(usize::MAX),
            slots: self.cache.slots,
        };
        let layers = c.num_hidden_layers;
        let (b, s, cap) = (&self.backend, &mut self.s, &mut self.capture);
        b.embedding(&self.weights.embed, tokens, h, &mut s.x)?;
        save(b, cap, || "embed".into(), &s.x, n * h)?;
        for l in 0..layers {
            let w = &self.weights.layers[l];
            // Attention: xn = norm(x); q, k, v = xn·Wᵀ; RoPE; attend over cache + block; x += attn·Woᵀ.
            if l == 0 {
                b.rms_norm(&s.x, &w.attn_norm, &mut s.xn, &norm)?;
            } else {
                b.add_rms_norm(&mut s.x, &s.out, &w.attn_norm, &mut s.xn, &norm)?;
            }
            let mut qkv = [
                Projection {
                    w: &w.wq,
                    y: &mut s.q,
                    n: qd,
                },
                Projection {
                    w: &w.wk,
                    y: &mut s.k,
                    n: kvd,
                },
                Projection {
                    w: &w.wv,
                    y: &mut s.v,
                    n: kvd,
                },
            ];
            b.matmul_multi(&s.xn, &mut qkv, n, h)?;
            b.rope(
                &mut s.q,
                &RopeParams::new(n, c.num_attention_heads, hd, start_pos, theta),
            )?;
            b.rope(
                &mut s.k,
                &RopeParams::new(n, c.n_kv_heads(), hd, start_pos, theta),
            )?;
            b.attention(
                &s.q,
                &s.k,
                &s.v,
                &self.cache.k[l],
                &self.cache.v[l],
                &mut s.attn,
                &attn,
            )?;
            self.cache.write(b, l, &s.k, &s.v, start_pos, n)?;
            b.matmul(&s.attn, &w.wo, &mut s.out, &MatmulParams::new(n, h, qd))?;
            save(b, cap, || format!("layer.{l}.attn_norm"), &s.xn, n * h)?;
            save(b, cap, || format!("layer.{l}.q"), &s.q, n * qd)?;
            save(b, cap, || format!("layer.{l}.k"), &s.k, n * kvd)?;
            save(b, cap, || format!("layer.{l}.v"), &s.v, n * kvd)?;
            save(b, cap, || format!("layer.{l}.attn"), &s.attn, n * qd)?;
            save(b, cap, || format!("layer.{l}.attn_out"), &s.out, n * h)?;

            // MLP: xn = norm(x += attn_out); x += (silu(xn·Wgᵀ) * xn·Wuᵀ)·Wdᵀ (added by the next norm).
            b.add_rms_norm(&mut s.x, &s.out, &w.ffn_norm, &mut s.xn, &norm)?;
            b.gate_up_swiglu(
                &s.xn,
                &w.w_gate,
                &w.w_up,
                &mut s.gate,
                &mut s.up,
                &mut s.act,
                &MatmulParams::new(n, f, h),
            )?;
            b.matmul(&s.act, &w.w_down, &mut s.out, &MatmulParams::new(n, h, f))?;
            save(b, cap, || format!("layer.{l}.ffn_norm"), &s.xn, n * h)?;
            save(b, cap, || format!("layer.{l}.mlp_act"), &s.act, n * f)?;
            save(b, cap, || format!("layer.{l}.mlp_out"), &s.out, n * h)?;
        }
        b.add_rms_norm(&mut s.x, &s.out, &self.weights.norm, &mut s.xn, &norm)?;
        save(b, cap, || "final_norm".into(), &s.xn, n * h)
    }

    /// Logits of the last `rows` of the `n` rows in `xn`, into `logits`.
    fn lm_head(&mut self, n: usize, rows: usize) -> Result<()> {
        let (h, v) = (self.cfg.hidden_size, self.cfg.vocab_size);
        let p = MatmulParams {
            m: rows,
            n: v,
            k: h,
            x_row: n - rows,
        };
        self.backend
            .matmul(&self.s.xn, &self.weights.lm_head, &mut self.s.logits, &p)?;
        save(
            &self.backend,
            &mut self.capture,
            || "logits".into(),
            &self.s.logits,
            rows * v,
        )
    }
}
