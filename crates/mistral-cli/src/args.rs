//! Command-line arguments. Options shared by subcommands are defined once and flattened in, so
//! `--backend`, `--max-new-tokens`, `--temperature`, ... mean the same everywhere.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "mistral",
    version,
    about = "Run Mistral-7B-Instruct-v0.1 with readable CUDA, WGSL and CPU kernels",
    long_about = "Run Mistral-7B-Instruct-v0.1 (or any Mistral-architecture Hugging Face directory) on the CPU \
reference, CUDA or wgpu backend.\n\nA model directory holds config.json, model.safetensors (or shards with \
model.safetensors.index.json) and tokenizer.json or tokenizer.model."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate a reply to a prompt (wrapped in the [INST] chat template unless --raw), streamed to stdout.
    Generate(GenerateArgs),
    /// Talk with the model: one line per user turn; the conversation is kept.
    Chat(ChatArgs),
    /// Print the token ids of a text or of a chat in the [INST] template.
    Tokenize(TokenizeArgs),
    /// Write teacher-forced logits of every position to a safetensors file (tensor `logits`, [T, vocab] f32).
    Logits(LogitsArgs),
    /// Write a Hugging Face-format model directory with random weights (streams; the 7B shape fits).
    RandomModel(RandomModelArgs),
    /// Quantize a model (Hugging Face directory or GGUF) into a GGUF file llama.cpp can load.
    Quantize(QuantizeArgs),
    /// List the GPUs each backend can use (wgpu adapters with their limits and features).
    Devices,
    /// Run tokens on the CPU reference and on --backend with every intermediate captured; report
    /// the error of each and the first layer and op past the tolerance.
    Compare(CompareArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The CPU reference (multithreaded f32).
    Cpu,
    /// NVIDIA GPUs: CUDA kernels compiled at run time by NVRTC.
    Cuda,
    /// Vulkan, Metal or DX12 GPUs through wgpu (WGSL shaders).
    Wgpu,
}

/// A `--sliding-window` override: a window of `N` tokens, or `none` for full causal attention.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowOverride {
    Tokens(usize),
    None,
}

fn parse_window(s: &str) -> Result<WindowOverride, String> {
    match s {
        "none" => Ok(WindowOverride::None),
        n => match n.parse::<usize>() {
            Ok(0) | Err(_) => Err(format!(
                "{n:?} is not a window: give a positive number of tokens or `none`"
            )),
            Ok(n) => Ok(WindowOverride::Tokens(n)),
        },
    }
}

/// A size in bytes: a number with an optional unit, `B`, `kB`/`MB`/`GB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024), case-insensitive.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "{s:?} is not a size: use e.g. 6GB, 5.5GiB or 800MB"
            ))
        }
    };
    match num.parse::<f64>() {
        Ok(v) if v > 0.0 && (v * scale).is_finite() => Ok((v * scale).round() as u64),
        _ => Err(format!(
            "{s:?} is not a size: use e.g. 6GB, 5.5GiB or 800MB"
        )),
    }
}

/// Where the model comes from and what runs it.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// A Hugging Face model directory (config.json + model.safetensors or shards with an index)
    /// or a GGUF file (llama.cpp's format, any of its f32/f16/bf16/Q8_0/Q4_0/Q4_1/Q5_0/Q4_K/Q5_K/Q6_K
    /// tensors).
    #[arg(long)]
    pub model: PathBuf,
    /// Override the model's sliding attention window: N tokens, or `none` for full causal
    /// attention. Mistral-7B v0.1 uses 4096; its common GGUF files do not record it.
    #[arg(long, value_parser = parse_window)]
    pub sliding_window: Option<WindowOverride>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendKind::Cpu)]
    pub backend: BackendKind,
    /// Refuse prompt + generated tokens past this many.
    #[arg(long, default_value_t = mistral_model::model::DEFAULT_CONTEXT_LIMIT)]
    pub context_limit: usize,
    /// Tokens processed per prefill block (sizes the activation buffers).
    #[arg(long, default_value_t = 256)]
    pub max_batch: usize,
    /// CPU threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// GPU to use: the wgpu adapter index from `mistral devices` (default: the best one), or the
    /// CUDA device ordinal (default: 0).
    #[arg(long)]
    pub adapter: Option<usize>,
    /// wgpu: use only the portable shader paths (no f16 extension, no subgroups).
    #[arg(long)]
    pub portable: bool,
    /// wgpu: device memory the model may use, e.g. `6GB`, `5.5GiB` or `800MB`. wgpu cannot ask
    /// the driver what is free, so with a budget a model that does not fit is refused before
    /// upload (CUDA always checks its free memory).
    #[arg(long, value_parser = parse_bytes)]
    pub memory_budget: Option<u64>,
    /// Quantize the weights while loading: q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k, or a
    /// llama.cpp mixture (q4_k_m, q5_k_m). Norms stay as they are.
    #[arg(long)]
    pub quant: Option<String>,
    /// The KV cache's dtype: f32, f16 or bf16 (16-bit halves its memory and the bytes attention
    /// reads per token). Default: the backend's, f32 on all three (rounding the cache moves
    /// logits by up to ~1e-2). Checked when the model loads, so a bad name is a one-line error.
    #[arg(long)]
    pub kv_dtype: Option<String>,
}

/// How tokens are chosen and when generation stops.
#[derive(Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Most tokens to generate per reply.
    #[arg(long, default_value_t = 256)]
    pub max_new_tokens: usize,
    /// Softmax temperature; 0 is greedy (argmax) decoding.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Sample only among the k most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Sample only among the most likely tokens whose probabilities add up to p (1 = off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Divide (or multiply, if negative) the logits of tokens already seen by this (1 = off).
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    /// Random seed: the same seed, model and backend give the same tokens.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop when the reply contains this text (repeatable); the stop text is not printed.
    #[arg(long = "stop")]
    pub stop: Vec<String>,
}

/// Where the tokenizer comes from.
#[derive(Args, Debug, Clone)]
pub struct TokenizerArgs {
    /// tokenizer.json or tokenizer.model, or a directory holding one (default: the model directory).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub tok: TokenizerArgs,
    /// The user message (or plain text with --raw).
    #[arg(long, conflicts_with_all = ["prompt_file", "tokens"])]
    pub prompt: Option<String>,
    /// Read the prompt from a UTF-8 file.
    #[arg(long, conflicts_with = "tokens")]
    pub prompt_file: Option<PathBuf>,
    /// Prompt token ids, comma-separated (e.g. 1,733,16289): no tokenizer needed.
    #[arg(long)]
    pub tokens: Option<String>,
    /// A system message, prepended to the user message as mistral-common does.
    #[arg(long)]
    pub system: Option<String>,
    /// Send the prompt as plain text (BOS + text) instead of the [INST] template.
    #[arg(long)]
    pub raw: bool,
    /// Print one JSON object (prompt_ids, generated_ids, text, timings) instead of streaming.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub tok: TokenizerArgs,
    /// A system message for the whole conversation.
    #[arg(long)]
    pub system: Option<String>,
}

#[derive(Args, Debug)]
pub struct TokenizeArgs {
    /// A model directory, or a directory holding only tokenizer files.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub tok: TokenizerArgs,
    /// Plain text to tokenize (BOS first).
    #[arg(long, conflicts_with = "chat", required_unless_present = "chat")]
    pub text: Option<String>,
    /// A chat as JSON: {"messages": [{"role": "user", "content": "..."}, ...]}.
    #[arg(long)]
    pub chat: Option<PathBuf>,
    /// Print {"ids": [...]}.
    #[arg(long)]
    pub json: bool,
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
pub struct CompareArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Comma-separated token ids, e.g. 1,733,16289.
    #[arg(long)]
    pub tokens: String,
    /// Largest absolute difference allowed per value.
    #[arg(long, default_value_t = 1e-3)]
    pub tolerance: f32,
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
pub struct QuantizeArgs {
    /// The source: a Hugging Face model directory or a GGUF file.
    #[arg(long)]
    pub model: PathBuf,
    /// Target format: q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k, or a llama.cpp mixture
    /// (q4_k_m, q5_k_m).
    #[arg(long)]
    pub to: String,
    /// Output GGUF file.
    #[arg(long)]
    pub out: PathBuf,
    /// Record a sliding window in the output (`llama.attention.sliding_window`): N tokens, or
    /// `none` to record none. Default: the source's.
    #[arg(long, value_parser = parse_window)]
    pub sliding_window: Option<WindowOverride>,
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_bytes("6GB"), Ok(6_000_000_000));
        assert_eq!(parse_bytes("5.5GiB"), Ok(5_905_580_032));
        assert_eq!(parse_bytes("800 mb"), Ok(800_000_000));
        assert_eq!(parse_bytes("1KiB"), Ok(1024));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        for bad in ["", "GB", "-1GB", "0", "6TB", "1.2.3GB", "six"] {
            assert!(parse_bytes(bad).is_err(), "{bad:?}");
        }
    }
}
