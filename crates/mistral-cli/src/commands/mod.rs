//! One file per subcommand.

mod chat;
mod generate;
mod logits;
mod random_model;
mod text;
mod tokenize;

use mistral_core::{Backend, Error, Result};
use mistral_cpu::CpuBackend;
use mistral_model::{HostWeights, Model, ModelOptions};

use crate::args::{BackendKind, Cli, Command, ModelArgs};

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::RandomModel(a) => random_model::run(a),
        Command::Logits(a) => logits::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Chat(a) => chat::run(a),
        Command::Tokenize(a) => tokenize::run(a),
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

/// A command body that runs on whichever backend the user chose.
pub trait OnModel {
    fn run<B: Backend>(self, model: Model<B>) -> Result<()>;
}

/// Loads the model directory onto the chosen backend and runs `task` with it.
pub fn with_model(a: &ModelArgs, task: impl OnModel) -> Result<()> {
    if let Some(n) = a.threads {
        // Only the first call configures the global pool; later ones are harmless no-ops.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let (cfg, host) = HostWeights::load_dir(&a.model)?;
    let opts = ModelOptions {
        max_batch: a.max_batch,
        context_limit: a.context_limit,
    };
    let mut progress = crate::progress::bytes("loading weights");
    match a.backend {
        BackendKind::Cpu => task.run(Model::new(
            CpuBackend::new(),
            cfg,
            &host,
            opts,
            &mut progress,
        )?),
        BackendKind::Cuda | BackendKind::Wgpu => Err(Error::Unsupported(format!(
            "backend {} is not available in this build yet (use --backend cpu)",
            format!("{:?}", a.backend).to_lowercase()
        ))),
    }
}
