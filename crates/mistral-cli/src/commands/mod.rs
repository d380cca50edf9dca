//! One file per subcommand.

mod chat;
mod compare;
mod generate;
mod logits;
mod quantize;
mod random_model;
mod text;
mod tokenize;

use mistral_core::{Backend, Error, Result};
use mistral_cpu::CpuBackend;
use mistral_cuda::CudaBackend;
use mistral_model::quantize::Scheme;
use mistral_model::{HostWeights, MistralConfig, Model, ModelOptions};
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
    };
    let mut progress = crate::progress::bytes("loading weights");
    let weight_bytes = host.bytes();
    match a.backend {
        BackendKind::Cpu => {
            let b = CpuBackend::new();
            task.run(Model::new(b, cfg, &host, opts, &mut progress)?)
        }
        BackendKind::Wgpu => {
            let b = WgpuBackend::new(WgpuOptions {
                adapter: a.adapter,
                force_portable: a.portable,
                ..Default::default()
            })?;
            b.check_memory("model weights", weight_bytes)?;
            task.run(Model::new(b, cfg, &host, opts, &mut progress)?)
        }
        BackendKind::Cuda => {
            let b = CudaBackend::new(a.adapter.unwrap_or(0))?;
            // Refuse before a 14 GB upload half-fails.
            b.check_memory("model weights", weight_bytes)?;
            task.run(Model::new(b, cfg, &host, opts, &mut progress)?)
        }
    }
}
