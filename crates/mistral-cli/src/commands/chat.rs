//! `mistral chat`: an interactive loop. The KV cache is reused across turns when the new prompt
//! extends what the model has already seen; when history plus the next reply would pass the
//! context limit, the oldest turns are dropped (and the user is told).

use std::io::{BufRead, IsTerminal, Write};

use mistral_core::{Backend, Result};
use mistral_model::generate::generate;
use mistral_model::Model;
use mistral_text::chat::Message;
use mistral_text::sampling::{Sampler, SamplerConfig};
use mistral_text::TextModel;

use super::text::{load_text_model, sampler_config, stop_ids, ReplyPrinter, TextSampler};
use super::OnModel;
use crate::args::{ChatArgs, SamplingArgs};

pub fn run(a: ChatArgs) -> Result<()> {
    if a.sampling.max_new_tokens == 0 {
        return Err(mistral_core::Error::InvalidInput(
            "chat needs --max-new-tokens of at least 1".into(),
        ));
    }
    let sampler = sampler_config(&a.sampling)?;
    let tok = load_text_model(&a.model.model, &a.tok)?;
    super::with_model(
        &a.model,
        Task {
            tok,
            system: a.system,
            sampling: a.sampling.clone(),
            sampler,
        },
    )
}

struct Task {
    tok: TextModel,
    system: Option<String>,
    sampling: SamplingArgs,
    sampler: SamplerConfig,
}

/// The conversation's ids after dropping the oldest user/assistant pairs until `fits(ids)`:
/// the ids and how many turns to drop, or `None` if even the last message alone does not fit.
/// `turns` is left untouched, so the caller commits the drop only when it works.
fn fit_history(
    tok: &TextModel,
    system: &[Message],
    turns: &[Message],
    fits: impl Fn(usize) -> bool,
) -> Result<Option<(Vec<u32>, usize)>> {
    let mut drop = 0;
    loop {
        let all: Vec<Message> = system.iter().chain(&turns[drop..]).cloned().collect();
        let ids = tok.encode_chat(&all, true)?;
        if fits(ids.len()) {
            return Ok(Some((ids, drop)));
        }
        if turns.len() - drop <= 1 {
            return Ok(None);
        }
        drop += 2.min(turns.len() - drop - 1);
    }
}

impl OnModel for Task {
    fn run<B: Backend>(self, mut model: Model<B>) -> Result<()> {
        let Task {
            tok,
            system,
            sampling,
            sampler,
        } = self;
        let system: Vec<Message> = system.into_iter().map(Message::system).collect();
        let mut sampler = TextSampler(Sampler::new(sampler));
        let interactive = std::io::stdin().is_terminal();
        let limit = model.opts().context_limit;
        let mut turns: Vec<Message> = Vec::new();
        // Ids the KV cache holds, in order.
        let mut cached: Vec<u32> = Vec::new();
        let eos = stop_ids(&model.cfg, Some(&tok));
        let mut lines = std::io::stdin().lock().lines();
        loop {
            if interactive {
                eprint!("> ");
                let _ = std::io::stderr().flush();
            }
            let Some(line) = lines.next() else { break };
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: reading input: {e}");
                    break;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            turns.push(Message::user(line));
            // The last generated token is never fed back, so it needs no position.
            let fits =
                |n: usize| n.saturating_add(sampling.max_new_tokens.saturating_sub(1)) <= limit;
            let (ids, drop) = match fit_history(&tok, &system, &turns, fits) {
                Ok(Some(fit)) => fit,
                Ok(None) => {
                    eprintln!(
                        "error: this message and a reply of --max-new-tokens {} do not fit the context limit of {limit} tokens",
                        sampling.max_new_tokens
                    );
                    turns.pop();
                    continue;
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    turns.pop();
                    continue;
                }
            };
            if drop > 0 {
                turns.drain(..drop);
                eprintln!("(context limit of {limit} tokens reached: dropped the oldest turns)");
            }
            // Reuse the cache when the new prompt extends what it holds.
            let reuse = !cached.is_empty() && ids.len() > cached.len() && ids.starts_with(&cached);
            let start = if reuse { cached.len() } else { 0 };
            let mut printer = ReplyPrinter::new(tok.tokenizer(), &sampling.stop, true);
            let out = generate(
                &mut model,
                &ids,
                start,
                sampling.max_new_tokens,
                &eos,
                &mut sampler,
                &mut |id| printer.push(id),
            );
            let reply = printer.finish();
            println!();
            match (out, reply) {
                (Ok(generated), Ok(text)) if !text.trim().is_empty() => {
                    // Every generated id but the last was fed back into the cache.
                    cached = ids;
                    cached.extend(&generated[..generated.len().saturating_sub(1)]);
                    turns.push(Message::assistant(text));
                }
                (Ok(_), Ok(_)) => {
                    // An empty reply (EOS first, or a stop string at once) cannot be a turn of the
                    // template; the question is dropped so the conversation stays valid.
                    eprintln!("(empty reply: this turn is not kept)");
                    turns.pop();
                    cached.clear();
                }
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    turns.pop();
                    cached.clear();
                }
            }
        }
        Ok(())
    }
}
