//! One file per subcommand.

mod generate;
mod logits;
mod random_model;

use mistral_core::{Error, Result};
use mistral_cpu::CpuBackend;
use mistral_model::{HostWeights, Model, ModelOptions};

use crate::args::{BackendKind, Cli, Command, ModelArgs};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::RandomModel(a) => random_model::run(a),
        Command::Logits(a) => logits::run(a),
        Command::Generate(a) => generate::run(a),
    }
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

/// Loads the model directory onto the chosen backend.
pub fn load(a: &ModelArgs) -> Result<Model<CpuBackend>> {
    if let Some(n) = a.threads {
        // Only the first call configures the global pool; later ones are harmless no-ops.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let backend = match a.backend {
        BackendKind::Cpu => CpuBackend::new(),
        BackendKind::Cuda | BackendKind::Wgpu => {
            return Err(Error::Unsupported(
                format!(
                    "backend {:?} is not available in this build yet (use --backend cpu)",
                    a.backend
                )
                .to_lowercase(),
            ))
        }
    };
    let (cfg, host) = HostWeights::load_dir(&a.model)?;
    let opts = ModelOptions {
        max_batch: a.max_batch,
        context_limit: a.context_limit,
    };
    Model::new(
        backend,
        cfg,
        &host,
        opts,
        &mut crate::progress::bytes("loading weights"),
    )
}
