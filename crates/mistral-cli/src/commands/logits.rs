use mistral_core::Result;
use mistral_model::safetensors::write_f32;
use mistral_model::Logits;

use crate::args::LogitsArgs;

pub fn run(a: LogitsArgs) -> Result<()> {
    let tokens = super::parse_tokens(&a.tokens)?;
    let mut model = super::load(&a.model)?;
    let logits = model.forward(&tokens, 0, Logits::All)?;
    write_f32(
        &a.out,
        &[("logits", vec![tokens.len(), model.cfg.vocab_size], &logits)],
    )
}
