use mistral_core::{Backend, Result};
use mistral_model::safetensors::write_f32;
use mistral_model::{Logits, Model};

use super::OnModel;
use crate::args::LogitsArgs;

pub fn run(a: LogitsArgs) -> Result<()> {
    let tokens = super::parse_tokens(&a.tokens)?;
    super::with_model(&a.model, Task { tokens, out: a.out })
}

struct Task {
    tokens: Vec<u32>,
    out: std::path::PathBuf,
}

impl OnModel for Task {
    fn run<B: Backend>(self, mut model: Model<B>) -> Result<()> {
        let logits = model.forward(&self.tokens, 0, Logits::All)?;
        write_f32(
            &self.out,
            &[(
                "logits",
                vec![self.tokens.len(), model.cfg.vocab_size],
                &logits,
            )],
        )
    }
}
