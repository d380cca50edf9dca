//! End to end on the whole model: time to first token, prefill and decode tokens/s, against the
//! copy-bandwidth and GEMM-rate ceilings. Weights are random, generated tensor by tensor and uploaded
//! (never the whole model in host RAM), unless a model directory is given; when the device lacks
//! memory the layer count is halved until it fits and figures are scaled to all layers.

use mistral_core::testutil::Rng;
use mistral_core::Result;
use mistral_model::weights::Weights;
use mistral_model::{HostWeights, MistralConfig, Model, ModelOptions};

use crate::arith;
use crate::report::Row;
use crate::suite::{Options, Plan};
use crate::timing::time;
use crate::weights::RandomWeights;

/// The measured ceilings end-to-end figures are judged against.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// Device copy bandwidth, bytes read + written, GB/s.
    pub(crate) copy_gbs: f64,
    /// Our best GEMM's rate, TFLOP/s (0 when no GEMM ran).
    pub(crate) gemm_tflops: f64,
}

/// Loads or generates the model, halving the layer count until it fits; returns the model and a
/// note when layers were dropped.
fn build_model<B: RandomWeights>(
    make: &dyn Fn() -> Result<B>,
    o: &Options,
    cfg: &MistralConfig,
    max_batch: usize,
    context_limit: usize,
) -> Result<(Model<B>, Option<String>)> {
    let opts = ModelOptions {
        max_batch,
        context_limit,
        ..ModelOptions::default()
    };
    let mut layers = cfg.num_hidden_layers;
    loop {
        let mut c = cfg.clone();
        c.num_hidden_layers = layers;
        let made = match &o.model_dir {
            Some(dir) => HostWeights::load(dir).and_then(|(_, host)| {
                let mut host = host;
                host.layers.truncate(layers);
                Model::new(make()?, c.clone(), &host, opts, &mut |_, _| {})
            }),
            None => {
                let b = make()?;
                let mut seed = 100;
                Weights::from_fn(&c, |name, shape| {
                    seed += 1;
                    let (lo, hi) = if name.ends_with("norm.weight") {
                        (0.9, 1.1)
                    } else {
                        (-0.035, 0.035)
                    };
                    b.random_weights(shape, o.tensor_dtype(&c, name, shape), seed, lo, hi)
                })
                .and_then(|w| Model::from_weights(b, c.clone(), w, opts))
            }
        };
        match made {
            Ok(m) => {
                let note = (layers < cfg.num_hidden_layers).then(|| {
                    format!("{layers} of {} layers fit in device memory; e2e figures are scaled to all layers by weight bytes", cfg.num_hidden_layers)
                });
                return Ok((m, note));
            }
            Err(mistral_core::Error::OutOfMemory { .. }) if layers > 1 => layers /= 2,
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn end_to_end<B: RandomWeights>(
    b: &B,
    make: &dyn Fn() -> Result<B>,
    o: &Options,
    cfg: &MistralConfig,
    p: &Plan,
    limits: Limits,
    wanted: &dyn Fn(&str) -> bool,
    emit: &mut dyn FnMut(Row),
) -> Result<Option<String>> {
    let bw = limits.copy_gbs;
    // Only the figures `--filter` asks for; no model at all when none is.
    let prompts: Vec<usize> = p
        .prompts
        .iter()
        .copied()
        .filter(|n| {
            wanted(&format!("e2e/time to first token, prompt {n}"))
                || wanted(&format!("e2e/prefill, prompt {n}"))
        })
        .collect();
    let decode_key =
        |from: usize| format!("e2e/decode from context {from}, {} tokens", p.decode_tokens);
    let decodes: Vec<usize> = p
        .decode_from
        .iter()
        .copied()
        .filter(|&f| wanted(&decode_key(f)))
        .collect();
    // Positions the runs reach: the longest prompt, or a context plus warm-up and timed steps.
    let Some(context) = prompts
        .iter()
        .copied()
        .chain(decodes.iter().map(|&f| f.max(1) + 2 + p.decode_tokens))
        .max()
    else {
        return Ok(None);
    };
    let (mut model, note) = build_model(make, o, cfg, 512, context)?;
    let run_layers = model.cfg.num_hidden_layers;
    let bytes_of =
        |c: &MistralConfig| arith::decode_weight_bytes_by(c, &|n, s| o.tensor_dtype(c, n, s));
    let full_bytes = bytes_of(cfg) as f64;
    let scale = full_bytes / bytes_of(&model.cfg) as f64;
    let mut rng = Rng::new(5);
    let mut ids = |n: usize| {
        (0..n)
            .map(|_| 3 + rng.below(cfg.vocab_size as u64 - 3) as u32)
            .collect::<Vec<u32>>()
    };
    let scaled = if run_layers < cfg.num_hidden_layers {
        " (scaled)"
    } else {
        ""
    };
    for &n in &prompts {
        let prompt = ids(n);
        let t = time(b, 1, p.iters.min(3), |_| {
            model.forward_argmax(&prompt, 0).map(|_| ())
        })?;
        let secs = t.median * scale;
        let tps = n as f64 / secs;
        emit(Row::new(
            "e2e",
            format!("time to first token, prompt {n}{scaled}"),
            secs * 1e3,
            "ms",
            t,
        ));
        emit(
            Row::new(
                "e2e",
                format!("prefill, prompt {n}{scaled}"),
                tps,
                "tokens/s",
                t,
            )
            .note(format!(
                "{:.3} TFLOP/s",
                arith::prefill_flops(cfg, n) as f64 / secs / 1e12
            ))
            // Compute-bound: prompt tokens per second if every FLOP ran at our best GEMM's rate.
            .against(
                n as f64 * limits.gemm_tflops * 1e12 / arith::prefill_flops(cfg, n) as f64,
                "best GEMM rate / FLOPs per prompt",
            ),
        );
    }
    for &from in &decodes {
        let ctx = ids(from.max(1));
        let mut next = model.forward_argmax(&ctx, 0)?;
        let mut pos = ctx.len();
        let mut step = |_| -> Result<()> {
            next = model.forward_argmax(&[next], pos)?;
            pos += 1;
            Ok(())
        };
        let t = time(b, 2, p.decode_tokens, &mut step)?;
        let secs = t.median * scale;
        let bytes = full_bytes + arith::decode_kv_bytes(cfg, from + p.decode_tokens / 2) as f64;
        let limit = bw * 1e9 / bytes;
        emit(
            Row::new(
                "e2e",
                format!(
                    "decode from context {from}, {} tokens{scaled}",
                    p.decode_tokens
                ),
                1.0 / secs,
                "tokens/s",
                t,
            )
            .against(limit, "copy bandwidth / bytes per token"),
        );
    }
    Ok(note)
}
