//! `mistral quantize`: a Hugging Face directory or GGUF file into a quantized GGUF file.

use mistral_core::{DType, Result};
use mistral_model::quantize::{write_quantized_gguf, Scheme};
use mistral_model::MistralConfig;
use mistral_text::export::gguf_tokenizer_metadata;

use crate::args::{QuantizeArgs, WindowOverride};

pub fn run(a: QuantizeArgs) -> Result<()> {
    let scheme = Scheme::parse(&a.to)?;
    let window = a.sliding_window.map(|w| match w {
        WindowOverride::Tokens(n) => Some(n),
        WindowOverride::None => None,
    });
    // A Hugging Face source's tokenizer (a GGUF source carries its own). A missing or bad
    // config.json is reported by the writer, which reads it again.
    let mut tokenizer = Vec::new();
    if a.model.is_dir() {
        if let Ok(cfg) = MistralConfig::from_file(&a.model.join("config.json")) {
            tokenizer = gguf_tokenizer_metadata(&a.model, cfg.vocab_size)?.unwrap_or_default();
        }
    }
    let report = write_quantized_gguf(
        &a.model,
        &a.out,
        &scheme,
        window,
        &tokenizer,
        &mut crate::progress::bytes("quantizing"),
    )?;
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    // One line per kind of fallback: (rule's type, type written, row length) → tensor names.
    let fallbacks = report.fallbacks();
    type Kind = (DType, DType, usize);
    let mut groups: Vec<(Kind, Vec<&str>)> = Vec::new();
    for t in &fallbacks {
        let key = (t.wanted, t.dtype, t.shape.last().copied().unwrap_or(0));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, names)) => names.push(&t.name),
            None => groups.push((key, vec![&t.name])),
        }
    }
    for ((wanted, got, cols), names) in &groups {
        let more = if names.len() > 3 { ", …" } else { "" };
        eprintln!(
            "fallback: {} tensor{} with rows of {cols} (not whole {wanted} blocks) written as \
             {got}: {}{more}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names[..names.len().min(3)].join(", "),
        );
    }
    println!(
        "{}: {} ({}), {:.1} MB, {:.2} bits per weight over {:.1}M weights; {} fallback{}",
        a.out.display(),
        scheme.name(),
        report.dtype_counts(),
        report.file_bytes as f64 / 1e6,
        report.bits_per_weight(),
        report.params() as f64 / 1e6,
        fallbacks.len(),
        if fallbacks.len() == 1 { "" } else { "s" },
    );
    Ok(())
}
