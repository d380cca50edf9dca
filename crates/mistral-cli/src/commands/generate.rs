use std::time::Instant;

use mistral_core::{Backend, Error, Result};
use mistral_model::generate::{generate, Flow};
use mistral_model::Model;
use mistral_text::chat::Message;
use mistral_text::sampling::Sampler;
use mistral_text::TextModel;

use super::text::{
    load_text_model, read_utf8, sampler_config, stop_ids, ReplyPrinter, TextSampler,
};
use super::OnModel;
use crate::args::{GenerateArgs, SamplingArgs};

pub fn run(a: GenerateArgs) -> Result<()> {
    let sampler = sampler_config(&a.sampling)?;
    // Token ids need no tokenizer; text does. Load it first so a bad file fails fast.
    let (prompt, tok) = match &a.tokens {
        Some(ids) => (
            super::parse_tokens(ids)?,
            load_text_model(&a.model.model, &a.tok).ok(),
        ),
        None => {
            let text = match (&a.prompt, &a.prompt_file) {
                (Some(p), _) => p.clone(),
                (None, Some(f)) => read_utf8(f)?,
                (None, None) => {
                    return Err(Error::InvalidInput(
                        "give a prompt: --prompt, --prompt-file or --tokens".into(),
                    ))
                }
            };
            let tok = load_text_model(&a.model.model, &a.tok)?;
            let ids = if a.raw {
                if a.system.is_some() {
                    return Err(Error::InvalidInput(
                        "--system needs the chat template: drop --raw".into(),
                    ));
                }
                tok.encode_text(&text)?
            } else {
                let mut messages: Vec<Message> = a.system.iter().map(Message::system).collect();
                messages.push(Message::user(text));
                tok.encode_chat(&messages, true)?
            };
            (ids, Some(tok))
        }
    };
    if prompt.is_empty() {
        return Err(Error::InvalidInput("empty prompt".into()));
    }
    let task = Task {
        prompt,
        tok,
        sampling: a.sampling.clone(),
        sampler: Sampler::new(sampler),
        json: a.json,
    };
    super::with_model(&a.model, task)
}

struct Task {
    prompt: Vec<u32>,
    tok: Option<TextModel>,
    sampling: SamplingArgs,
    sampler: Sampler,
    json: bool,
}

impl OnModel for Task {
    fn run<B: Backend>(self, mut model: Model<B>) -> Result<()> {
        let Task {
            prompt,
            tok,
            sampling,
            sampler,
            json,
        } = self;
        let eos = stop_ids(&model.cfg, tok.as_ref());
        let mut printer = tok
            .as_ref()
            .map(|t| ReplyPrinter::new(t.tokenizer(), &sampling.stop, !json));
        let start = Instant::now();
        let mut first: Option<f64> = None;
        let mut sampler = TextSampler(sampler);
        let ids = generate(
            &mut model,
            &prompt,
            0,
            sampling.max_new_tokens,
            &eos,
            &mut sampler,
            &mut |id| {
                first.get_or_insert_with(|| start.elapsed().as_secs_f64());
                match printer.as_mut() {
                    Some(p) => p.push(id),
                    None => {
                        if !json {
                            println!("{id}");
                        }
                        Flow::Continue
                    }
                }
            },
        )?;
        let total = start.elapsed().as_secs_f64();
        let text = printer.map(ReplyPrinter::finish).transpose()?;
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
                "text": text,
                "backend": model.backend_name(),
                "time_to_first_token_s": ttft,
                "decode_tokens_per_s": decode_tps,
            });
            println!("{out}");
        } else if text.is_some() {
            println!();
        }
        eprintln!(
            "prompt {} tokens, generated {} tokens, time to first token {ttft:.3} s, {decode_tps:.2} tokens/s ({})",
            prompt.len(),
            ids.len(),
            model.backend_name()
        );
        Ok(())
    }
}
