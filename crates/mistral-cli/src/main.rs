//! `mistral`: run Mistral-7B-Instruct-v0.1 (or any Mistral-architecture Hugging Face directory)
//! on the CPU reference, CUDA or wgpu backends.

mod args;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
