//! One file per subcommand.

mod chat;
mod compare;
mod generate;
mod logits;
mod quantize;
mod random_model;
mod text;
mod tokenize;

use std::io::IsTerminal;

use mistral_core::{Backend, DType, Error, Result};
use mistral_cpu::CpuBackend;
use mistral_cuda::CudaBackend;
use mistral_model::quantize::Scheme;
use mistral_model::{HostWeights, MemoryPlan, MistralConfig, Model, ModelOptions};
use mistral_wgpu::{WgpuBackend, WgpuOptions};

use crate::args::{BackendKind, Cli, Command, ModelArgs, WindowOverride};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::RandomModel(a) => random_model::run(a),
        Command::Quantize(a) => quantize::run(a),
        Command::Logits(a) => logits::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Chat(a) => chat::run(a),
        Command::Tokenize(a) => tokenize::run(a),
        Command::Devices => devices(),
        Command::Compare(a) => compare::run(a),
    }
}

/// `mistral devices`: every wgpu adapter, one line each.
fn devices() -> Result<()> {
    println!("cpu: {}", CpuBackend::new().name());
    let adapters = mistral_wgpu::list_adapters();
    if adapters.is_empty() {
        println!("wgpu: no adapter found (install a Vulkan, Metal or DX12 driver)");
    }
    for a in adapters {
        println!("wgpu {a}");
    }
    match CudaBackend::new(0) {
        Ok(b) => println!("cuda:0 {}", b.name()),
        Err(e) => println!("cuda: {e}"),
    }
    Ok(())
}

/// Parses `1,733,16289` into ids.
pub fn parse_tokens(s: &str) -> Result<Vec<u32>> {
    let ids = s
        .split(',')
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<u32>()
                .map_err(|_| Error::InvalidInput(format!("--tokens: {t:?} is not a token id")))
        })
        .collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        return Err(Error::InvalidInput(
            "empty prompt: --tokens has no ids".into(),
        ));
    }
    Ok(ids)
}

/// A command body that runs on whichever backend the user chose.
pub trait OnModel {
    fn run<B: Backend>(self, model: Model<B>) -> Result<()>;
}

/// Reads the model named by `--model` (a directory or a GGUF file), applies `--sliding-window`
/// and quantizes it when `--quant` asks.
pub fn load_host(a: &ModelArgs) -> Result<(MistralConfig, HostWeights)> {
    let (mut cfg, host) = HostWeights::load(&a.model)?;
    match a.sliding_window {
        Some(WindowOverride::Tokens(n)) => cfg.sliding_window = Some(n),
        Some(WindowOverride::None) => cfg.sliding_window = None,
        None => {}
    }
    let host = match &a.quant {
        Some(name) => {
            let scheme = Scheme::parse(name)?;
            if host.iter().any(|t| t.dtype.is_quantized()) {
                eprintln!(
                    "warning: --quant {name} re-quantizes weights that are already quantized; each step loses precision"
                );
            }
            mistral_model::quantize::quantize_weights(&host, &cfg, &scheme)?
        }
        None => host,
    };
    Ok((cfg, host))
}

/// Loads the model onto the chosen backend and runs `task` with it.
pub fn with_model(a: &ModelArgs, task: impl OnModel) -> Result<()> {
    if let Some(n) = a.threads {
        // Only the first call configures the global pool; later ones are harmless no-ops.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let (cfg, host) = load_host(a)?;
    let opts = ModelOptions {
        max_batch: a.max_batch,
        context_limit: a.context_limit,
        kv_dtype: a
            .kv_dtype
            .as_deref()
            .map(mistral_core::ops::parse_kv_dtype)
            .transpose()?,
    };
    let mut progress = crate::progress::bytes("loading weights");
    let plan = MemoryPlan::new(
        &cfg,
        host.bytes(),
        &opts,
        opts.kv_dtype.unwrap_or(DType::F32),
    );
    match a.backend {
        BackendKind::Cpu => {
            let b = CpuBackend::new();
            report_plan(&b, &plan);
            task.run(Model::new(b, cfg, &host, opts, &mut progress)?)
        }
        BackendKind::Wgpu => {
            let b = WgpuBackend::new(WgpuOptions {
                adapter: a.adapter,
                force_portable: a.portable,
                memory_budget_bytes: a.memory_budget,
                ..Default::default()
            })?;
            let what = report_plan(&b, &plan);
            b.check_memory(&what, plan.total())?;
            // Weights split by rows past the binding limit; a KV layer or an activation cannot.
            let (buffer, largest) = largest_unsplit_buffer(&cfg, &opts, &plan);
            if largest > b.max_buffer_bytes() {
                return Err(Error::Unsupported(format!(
                    "{buffer} needs one buffer of {largest} bytes, past {}'s limit of {} bytes per buffer; lower --max-batch or --context-limit",
                    b.name(),
                    b.max_buffer_bytes()
                )));
            }
            task.run(Model::new(b, cfg, &host, opts, &mut progress)?)
        }
        BackendKind::Cuda => {
            let b = CudaBackend::new(a.adapter.unwrap_or(0))?;
            // Refuse before a 14 GB upload half-fails.
            let what = report_plan(&b, &plan);
            b.check_memory(&what, plan.total())?;
            task.run(Model::new(b, cfg, &host, opts, &mut progress)?)
        }
    }
}

/// Tells a person at a terminal what the backend will hold before the upload starts; returns the
/// same text for an out-of-memory error.
fn report_plan<B: Backend>(b: &B, plan: &MemoryPlan) -> String {
    let what = format!("the model on {} ({})", b.name(), plan.summary());
    if std::io::stderr().is_terminal() {
        eprintln!("{} will hold {}", b.name(), plan.summary());
    }
    what
}

/// The largest buffer the model allocates that is not a weight (weights split by rows), and
/// what it is: one layer's K (or V) cache, or the widest activation block.
fn largest_unsplit_buffer(
    cfg: &MistralConfig,
    opts: &ModelOptions,
    plan: &MemoryPlan,
) -> (&'static str, u64) {
    let kv_layer = plan.kv_cache / (2 * cfg.num_hidden_layers.max(1) as u64);
    let widest = cfg.vocab_size.max(cfg.intermediate_size).max(cfg.q_dim()) as u64;
    let act = widest * opts.max_batch as u64 * 4;
    if kv_layer >= act {
        ("one layer's KV cache", kv_layer)
    } else {
        ("the activations of one --max-batch block", act)
    }
}
