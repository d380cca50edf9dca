//! Command-line arguments. Options shared by subcommands are defined once and flattened in.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "mistral",
    version,
    about = "Run Mistral-7B-Instruct-v0.1 with readable CUDA, WGSL and CPU kernels"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a Hugging Face-format model directory with random weights (streams; the 7B shape fits).
    RandomModel(RandomModelArgs),
    /// Write teacher-forced logits of every position to a safetensors file (tensor `logits`, [T, vocab] f32).
    Logits(LogitsArgs),
    /// Generate tokens after a prompt.
    Generate(GenerateArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Cuda,
    Wgpu,
}

/// Where the model comes from and what runs it.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Hugging Face model directory (config.json + model.safetensors or shards with an index).
    #[arg(long)]
    pub model: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Refuse prompts + generations longer than this many tokens.
    #[arg(long, default_value_t = mistral_model::model::DEFAULT_CONTEXT_LIMIT)]
    pub context_limit: usize,
    /// Tokens processed per prefill block.
    #[arg(long, default_value_t = 256)]
    pub max_batch: usize,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct RandomModelArgs {
    /// config.json to take the shape from (e.g. the real Mistral-7B config).
    #[arg(long)]
    pub config: PathBuf,
    /// Weight dtype: f32, f16 or bf16.
    #[arg(long, default_value = "bf16")]
    pub dtype: String,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of safetensors shards (more than 1 also writes model.safetensors.index.json).
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct LogitsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Comma-separated token ids, e.g. 1,733,16289.
    #[arg(long)]
    pub tokens: String,
    /// Output safetensors file.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Comma-separated prompt token ids, e.g. 1,733,16289.
    #[arg(long)]
    pub tokens: String,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// 0 is greedy decoding.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Print one JSON object: prompt_ids, generated_ids and timings.
    #[arg(long)]
    pub json: bool,
}
