use std::time::Instant;

use mistral_core::{Backend, Error, Result};
use mistral_model::generate::{generate, Flow, Greedy};
use mistral_model::Model;

use super::OnModel;
use crate::args::GenerateArgs;

pub fn run(a: GenerateArgs) -> Result<()> {
    let prompt = super::parse_tokens(&a.tokens)?;
    if a.temperature != 0.0 {
        return Err(Error::InvalidInput(
            "only --temperature 0 (greedy) is supported with --tokens for now".into(),
        ));
    }
    super::with_model(
        &a.model,
        Task {
            prompt,
            max_new: a.max_new_tokens,
            json: a.json,
        },
    )
}

struct Task {
    prompt: Vec<u32>,
    max_new: usize,
    json: bool,
}

impl OnModel for Task {
    fn run<B: Backend>(self, mut model: Model<B>) -> Result<()> {
        let Task {
            prompt,
            max_new,
            json,
        } = self;
        model.check_fits(0, prompt.len() + max_new)?;
        let eos = model.cfg.eos_token_id;
        let start = Instant::now();
        let mut first: Option<f64> = None;
        let ids = generate(
            &mut model,
            &prompt,
            0,
            max_new,
            eos,
            &mut Greedy,
            &mut |id| {
                first.get_or_insert_with(|| start.elapsed().as_secs_f64());
                if !json {
                    println!("{id}");
                }
                Flow::Continue
            },
        )?;
        let total = start.elapsed().as_secs_f64();
        let ttft = first.unwrap_or(total);
        let decode_tps = if ids.len() > 1 {
            (ids.len() - 1) as f64 / (total - ttft)
        } else {
            0.0
        };
        if json {
            let out = serde_json::json!({
                "prompt_ids": prompt,
                "generated_ids": ids,
                "backend": model.backend_name(),
                "time_to_first_token_s": ttft,
                "decode_tokens_per_s": decode_tps,
            });
            println!("{out}");
        }
        eprintln!(
            "prompt {} tokens, generated {} tokens, first token {ttft:.3} s, {decode_tps:.2} tokens/s",
            prompt.len(),
            ids.len()
        );
        Ok(())
    }
}
