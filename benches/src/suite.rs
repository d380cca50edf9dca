//! The benchmarks, written once over any [`Backend`]: the card's ceilings, kernels at Mistral-7B
//! shapes, and the whole model end to end. Weights are random, generated tensor by tensor and
//! uploaded (never the whole model in host RAM), unless a model directory is given.

use std::path::PathBuf;

use mistral_core::ops::{AttentionParams, CopyParams, MatmulParams, RmsNormParams, RopeParams};
use mistral_core::testutil::Rng;
use mistral_core::{DType, HostTensor, Result};
use mistral_model::quantize::Scheme;
use mistral_model::MistralConfig;
use rayon::prelude::*;

use crate::arith;
use crate::report::Row;
use crate::timing::time;
use crate::weights::RandomWeights;

/// The true Mistral-7B-Instruct-v0.1 config.
pub const MISTRAL_7B: &str = include_str!("../../tests/data/mistral-7b-config.json");

/// A reduced Mistral shape for software devices (the CPU backend, lavapipe): same structure (GQA
/// 4, SwiGLU, window smaller than the longest context), about 1/50 of the work per token.
pub const REDUCED: &str = r#"{"architectures": ["MistralForCausalLM"], "model_type": "mistral",
  "vocab_size": 4000, "hidden_size": 512, "intermediate_size": 1792, "num_hidden_layers": 4,
  "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 64, "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0, "sliding_window": 256, "max_position_embeddings": 32768,
  "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2}"#;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub quick: bool,
    /// Substring of `group/name` keys to run.
    pub filter: Option<String>,
    /// Real weights instead of random ones.
    pub model_dir: Option<PathBuf>,
    /// Use [`REDUCED`] instead of the 7B shape.
    pub reduced: bool,
    pub dtype: DType,
    /// A llama.cpp quantization mixture (`--quant q4_k_m`): each tensor of the random model gets
    /// the type llama.cpp's rules give it, and kernel rows run every type a shape gets.
    pub scheme: Option<Scheme>,
    /// Decode steps timed per end-to-end run, instead of the plan's.
    pub decode_tokens: Option<usize>,
}

impl Options {
    /// The type of tensor `name` (Hugging Face name) of the random model: the scheme's choice, or
    /// `dtype`. Norm weights of block-format models stay f32, as in GGUF files.
    pub fn tensor_dtype(&self, cfg: &MistralConfig, name: &str, shape: &[usize]) -> DType {
        match &self.scheme {
            Some(s) => s.tensor_dtype(name, shape, cfg).dtype,
            None if shape.len() < 2 && self.dtype.is_quantized() => DType::F32,
            None => self.dtype,
        }
    }

    /// Every type the tensors named `model.layers.{i}.{suffix}` (or `suffix` itself, for
    /// `lm_head.weight`) get over the layers, in first-use order: one kernel row each.
    pub fn dtypes_of(&self, cfg: &MistralConfig, suffix: &str, shape: &[usize]) -> Vec<DType> {
        let names: Vec<String> = if suffix.contains('.') && !suffix.starts_with("lm_head") {
            (0..cfg.num_hidden_layers)
                .map(|l| format!("model.layers.{l}.{suffix}"))
                .collect()
        } else {
            vec![suffix.to_string()]
        };
        let mut out = Vec::new();
        for n in names {
            let d = self.tensor_dtype(cfg, &n, shape);
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// What the rows are labelled with: the scheme's name or the dtype.
    pub fn weights_label(&self) -> String {
        match &self.scheme {
            Some(s) => s.name(),
            None => self.dtype.to_string(),
        }
    }
}

/// Sizes of each benchmark family for one run.
pub(crate) struct Plan {
    pub(crate) gemm_m: Vec<usize>,
    pub(crate) attn_seq: Vec<usize>,
    pub(crate) decode_ctx: Vec<usize>,
    pub(crate) prompts: Vec<usize>,
    pub(crate) decode_from: Vec<usize>,
    pub(crate) decode_tokens: usize,
    pub(crate) copy_bytes: usize,
    pub(crate) iters: usize,
}

fn plan(o: &Options, window: usize) -> Plan {
    match (o.reduced, o.quick) {
        (false, false) => Plan {
            gemm_m: vec![128, 512, 4096],
            attn_seq: vec![512, 1024, 2048, 4096, 8192],
            decode_ctx: vec![1, 512, 2048, 4096, 8192],
            prompts: vec![128, 512, 2048, 4096],
            decode_from: vec![0, 2048, 8000],
            decode_tokens: 256,
            copy_bytes: 1 << 30,
            iters: 10,
        },
        (false, true) => Plan {
            gemm_m: vec![512],
            attn_seq: vec![4096],
            decode_ctx: vec![4096],
            prompts: vec![512],
            decode_from: vec![0],
            decode_tokens: 64,
            copy_bytes: 1 << 28,
            iters: 5,
        },
        (true, quick) => Plan {
            gemm_m: if quick { vec![16] } else { vec![16, 64] },
            attn_seq: if quick {
                vec![window]
            } else {
                vec![64, window, 2 * window]
            },
            decode_ctx: if quick {
                vec![window]
            } else {
                vec![1, window, 2 * window]
            },
            prompts: if quick { vec![16] } else { vec![16, 64] },
            decode_from: if quick { vec![0] } else { vec![0, window + 20] },
            decode_tokens: if quick { 4 } else { 16 },
            copy_bytes: 1 << 26,
            iters: 3,
        },
    }
}

/// Uniform random values of `shape` in `[lo, hi)`, rounded to `dtype`, generated in parallel.
pub(crate) fn random_host(
    shape: &[usize],
    dtype: DType,
    seed: u64,
    lo: f32,
    hi: f32,
) -> HostTensor {
    const CHUNK: usize = 1 << 20;
    let n: usize = shape.iter().product();
    if dtype.is_quantized() {
        // Block formats: one chunk is quantized and its blocks repeated. Speed does not depend on
        // the values, and the K-quant scale search over 7B weights would take minutes on 2 cores.
        let first = Rng::new(seed).vec(CHUNK.min(n), lo, hi);
        let block = dtype.encode(&first);
        let total = dtype
            .bytes_for(n)
            .expect("benchmark shapes are whole blocks");
        let bytes: Vec<u8> = block.iter().copied().cycle().take(total).collect();
        return HostTensor {
            dtype,
            shape: shape.to_vec(),
            bytes: mistral_core::HostBytes::from_vec(bytes),
        };
    }
    let bytes: Vec<u8> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .flat_map_iter(|c| {
            dtype.encode(&Rng::new(seed ^ (c as u64) << 20).vec(CHUNK.min(n - c * CHUNK), lo, hi))
        })
        .collect();
    HostTensor {
        dtype,
        shape: shape.to_vec(),
        bytes: mistral_core::HostBytes::from_vec(bytes),
    }
}

fn random<B: RandomWeights>(b: &B, shape: &[usize], dtype: DType, seed: u64) -> Result<B::Tensor> {
    b.random_weights(shape, dtype, seed, -0.035, 0.035)
}

fn f32s<B: RandomWeights>(b: &B, n: usize, seed: u64) -> Result<B::Tensor> {
    random(b, &[n], DType::F32, seed)
}

/// Runs every benchmark on `b`, calling `emit` per row as soon as it is measured.
///
/// `make` opens another instance of the backend for the end-to-end model (which owns its backend).
pub fn run<B: RandomWeights>(
    b: &B,
    make: &dyn Fn() -> Result<B>,
    o: &Options,
    emit: &mut dyn FnMut(Row),
) -> Result<Option<String>> {
    let cfg = match &o.model_dir {
        Some(path) => mistral_model::HostWeights::load(path)?.0,
        None => MistralConfig::from_json(if o.reduced { REDUCED } else { MISTRAL_7B })
            .map_err(mistral_core::Error::InvalidInput)?,
    };
    let window = cfg.window().unwrap_or(4096);
    let mut p = plan(o, window);
    if let Some(n) = o.decode_tokens {
        p.decode_tokens = n;
    }
    let wanted = |key: &str| o.filter.as_ref().is_none_or(|f| key.contains(f.as_str()));
    let mut emit = |row: Row| {
        if wanted(&row.key()) {
            emit(row)
        }
    };

    // Ceilings: copy bandwidth (bytes read + written) is every memory-bound figure's limit.
    // Devices that bind less than the planned buffer (128 MiB on many laptops) get the largest
    // power-of-two size they accept, down to 32 MiB (still larger than any L2).
    let mut bytes = p.copy_bytes;
    let (t, bytes) = loop {
        let n = bytes / 4;
        let cp = CopyParams {
            src_offset: 0,
            dst_offset: 0,
            len: n,
        };
        let attempt = f32s(b, n, 1).and_then(|src| {
            let mut dst = b.zeros(n)?;
            time(b, 2, p.iters, |_| b.copy(&src, &mut dst, &cp))
        });
        match attempt {
            Ok(t) => break (t, bytes),
            Err(_) if bytes > 32 << 20 => bytes /= 2,
            Err(e) => return Err(e),
        }
    };
    let bw = 2.0 * bytes as f64 / t.median / 1e9;
    emit(Row::new(
        "ceiling",
        "copy bandwidth (read + write)",
        bw,
        "GB/s",
        t,
    ));

    let (h, f, q, kv, v) = (
        cfg.hidden_size,
        cfg.intermediate_size,
        cfg.q_dim(),
        cfg.kv_dim(),
        cfg.vocab_size,
    );
    // Decode GEMV: weight bytes over time, against copy bandwidth. Several copies of each weight
    // are rotated so that no run is served from L2.
    // A mixture (q4_k_m) gives one shape several types (v_proj and down_proj: Q6_K in some
    // layers): one row per type.
    let gemv = [
        ("q_proj", "self_attn.q_proj.weight", q, h),
        ("k_proj/v_proj", "self_attn.k_proj.weight", kv, h),
        ("k_proj/v_proj", "self_attn.v_proj.weight", kv, h),
        ("o_proj", "self_attn.o_proj.weight", h, q),
        ("gate/up_proj", "mlp.gate_proj.weight", f, h),
        ("down_proj", "mlp.down_proj.weight", h, f),
        ("lm_head", "lm_head.weight", v, h),
    ];
    let mut done = Vec::new();
    for (name, tensor, n_out, k) in gemv {
        for dtype in o.dtypes_of(&cfg, tensor, &[n_out, k]) {
            let key = format!("gemv/{name} {n_out}x{k} {dtype}");
            if !wanted(&key) || done.contains(&key) {
                continue;
            }
            done.push(key);
            let bytes = arith::gemv_bytes(n_out, k, dtype);
            let copies = (256usize << 20)
                .div_ceil(dtype.bytes_for(n_out * k).unwrap_or(n_out * k))
                .clamp(1, 8);
            let ws = (0..copies)
                .map(|i| random(b, &[n_out, k], dtype, 10 + i as u64))
                .collect::<Result<Vec<_>>>()?;
            let (x, mut y) = (f32s(b, k, 2)?, b.zeros(n_out)?);
            let mp = MatmulParams::new(1, n_out, k);
            let t = time(b, 3, p.iters.max(copies), |i| {
                b.matmul(&x, &ws[i % copies], &mut y, &mp)
            })?;
            let gbs = bytes as f64 / t.median / 1e9;
            emit(
                Row::new(
                    "gemv",
                    format!("{name} {n_out}x{k} {dtype}"),
                    gbs,
                    "GB/s",
                    t,
                )
                .against(bw, "copy bandwidth"),
            );
        }
    }

    // Prefill GEMM: TFLOP/s; the best of them is our measured matrix rate.
    let mut gemm_rows = Vec::new();
    for &m in &p.gemm_m {
        for (name, tensor, n_out, k) in [
            ("o_proj", "self_attn.o_proj.weight", h, q),
            ("gate/up_proj", "mlp.gate_proj.weight", f, h),
            ("down_proj", "mlp.down_proj.weight", h, f),
        ] {
            for dtype in o.dtypes_of(&cfg, tensor, &[n_out, k]) {
                let key = format!("gemm/{name} M={m} {n_out}x{k} {dtype}");
                if !wanted(&key) {
                    continue;
                }
                let w = random(b, &[n_out, k], dtype, 20)?;
                let (x, mut y) = (f32s(b, m * k, 3)?, b.zeros(m * n_out)?);
                let mp = MatmulParams::new(m, n_out, k);
                let t = time(b, 1, p.iters.min(5), |_| b.matmul(&x, &w, &mut y, &mp))?;
                let tf = arith::matmul_flops(m, n_out, k) as f64 / t.median / 1e12;
                gemm_rows.push(Row::new(
                    "gemm",
                    format!("{name} M={m} {n_out}x{k} {dtype}"),
                    tf,
                    "TFLOP/s",
                    t,
                ));
            }
        }
    }
    let peak = gemm_rows.iter().map(|r| r.value).fold(0.0, f64::max);
    if peak > 0.0 {
        let best = gemm_rows
            .iter()
            .find(|r| r.value == peak)
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let t = crate::timing::Stats {
            median: 0.0,
            min: 0.0,
            max: 0.0,
            runs: 0,
        };
        emit(
            Row::new(
                "ceiling",
                "matrix rate (best of our GEMMs)",
                peak,
                "TFLOP/s",
                t,
            )
            .note(best),
        );
    }
    for r in gemm_rows {
        emit(r.against(peak, "our best GEMM"));
    }

    // Attention prefill over S tokens with the window, counting in-window FLOPs only.
    let (nh, nkv, hd) = (cfg.num_attention_heads, cfg.n_kv_heads(), cfg.head_dim());
    for &s in &p.attn_seq {
        let key = format!("attention/prefill S={s} W={window}");
        if !wanted(&key) {
            continue;
        }
        let ap = AttentionParams {
            n: s,
            start_pos: 0,
            n_heads: nh,
            n_kv_heads: nkv,
            head_dim: hd,
            window,
            slots: window,
        };
        let (qt, kt, vt) = (
            f32s(b, s * nh * hd, 4)?,
            f32s(b, s * nkv * hd, 5)?,
            f32s(b, s * nkv * hd, 6)?,
        );
        let (kc, vc, mut out) = (
            b.zeros(window * nkv * hd)?,
            b.zeros(window * nkv * hd)?,
            b.zeros(s * nh * hd)?,
        );
        let t = time(b, 1, p.iters.min(5), |_| {
            b.attention(&qt, &kt, &vt, &kc, &vc, &mut out, &ap)
        })?;
        let tf = arith::attention_flops(s, window, nh, hd) as f64 / t.median / 1e12;
        emit(
            Row::new(
                "attention",
                format!("prefill S={s} W={window}"),
                tf,
                "TFLOP/s",
                t,
            )
            .against(peak, "our best GEMM"),
        );
    }
    // Decode attention: one query against `ctx` cached tokens (window-limited), bytes read.
    for &ctx in &p.decode_ctx {
        let key = format!("decode-attention/ctx={ctx}");
        if !wanted(&key) {
            continue;
        }
        let ap = AttentionParams {
            n: 1,
            start_pos: ctx - 1,
            n_heads: nh,
            n_kv_heads: nkv,
            head_dim: hd,
            window,
            slots: window,
        };
        let (qt, kt, vt) = (
            f32s(b, nh * hd, 7)?,
            f32s(b, nkv * hd, 8)?,
            f32s(b, nkv * hd, 9)?,
        );
        let (kc, vc, mut out) = (
            f32s(b, window * nkv * hd, 10)?,
            f32s(b, window * nkv * hd, 11)?,
            b.zeros(nh * hd)?,
        );
        let t = time(b, 3, p.iters, |_| {
            b.attention(&qt, &kt, &vt, &kc, &vc, &mut out, &ap)
        })?;
        let bytes = arith::decode_attention_bytes(ctx.min(window), nkv, nh, hd);
        let gbs = bytes as f64 / t.median / 1e9;
        emit(
            Row::new("decode-attention", format!("ctx={ctx}"), gbs, "GB/s", t)
                .against(bw, "copy bandwidth"),
        );
    }
    // Elementwise ops over a 512-token prefill block: bytes moved.
    let rows = if o.reduced { 64 } else { 512 };
    // Each figure is gated on its own key so `--filter rms_norm` finds it.
    if wanted(&format!("elementwise/rms_norm {rows}x{h}")) {
        let (x, w, mut out) = (
            f32s(b, rows * h, 12)?,
            random(b, &[h], o.tensor_dtype(&cfg, "model.norm.weight", &[h]), 13)?,
            b.zeros(rows * h)?,
        );
        let np = RmsNormParams {
            rows,
            dim: h,
            eps: 1e-5,
        };
        let t = time(b, 3, p.iters, |_| b.rms_norm(&x, &w, &mut out, &np))?;
        let gbs = (2 * rows * h * 4) as f64 / t.median / 1e9;
        emit(
            Row::new(
                "elementwise",
                format!("rms_norm {rows}x{h}"),
                gbs,
                "GB/s",
                t,
            )
            .against(bw, "copy bandwidth"),
        );
    }
    if wanted(&format!("elementwise/rope {rows}x{nh}x{hd}")) {
        let mut qt = f32s(b, rows * q, 14)?;
        let rp = RopeParams::new(rows, nh, hd, 100, cfg.rope_theta() as f32);
        let t = time(b, 3, p.iters, |_| b.rope(&mut qt, &rp))?;
        let gbs = (2 * rows * q * 4) as f64 / t.median / 1e9;
        emit(
            Row::new(
                "elementwise",
                format!("rope {rows}x{nh}x{hd}"),
                gbs,
                "GB/s",
                t,
            )
            .against(bw, "copy bandwidth"),
        );
    }
    if wanted(&format!("elementwise/swiglu {rows}x{f}")) {
        let (g, u, mut a) = (
            f32s(b, rows * f, 15)?,
            f32s(b, rows * f, 16)?,
            b.zeros(rows * f)?,
        );
        let t = time(b, 3, p.iters, |_| b.swiglu(&g, &u, &mut a, rows * f))?;
        let gbs = (3 * rows * f * 4) as f64 / t.median / 1e9;
        emit(
            Row::new("elementwise", format!("swiglu {rows}x{f}"), gbs, "GB/s", t)
                .against(bw, "copy bandwidth"),
        );
    }

    let limits = crate::e2e::Limits {
        copy_gbs: bw,
        gemm_tflops: peak,
    };
    crate::e2e::end_to_end(b, make, o, &cfg, &p, limits, &wanted, &mut emit)
}
