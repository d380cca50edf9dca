//! The decode loop: prefill the prompt, then one token at a time until a stop condition.

use mistral_core::{Backend, Result};

use crate::{Logits, Model};

/// Chooses the next token. Greedy samplers let the model take the argmax on the device, so only
/// the id travels back; others get the last token's logits on the host.
pub trait Sampler {
    /// True if the choice is always the argmax (first on ties).
    fn is_greedy(&self) -> bool;
    /// Picks the next id from `logits` (`[vocab]`) given every id so far (prompt included).
    fn pick(&mut self, logits: &[f32], history: &[u32]) -> u32;
}

/// Argmax decoding.
pub struct Greedy;

impl Sampler for Greedy {
    fn is_greedy(&self) -> bool {
        true
    }

    fn pick(&mut self, logits: &[f32], _history: &[u32]) -> u32 {
        mistral_core::ops::argmax_row(logits) as u32
    }
}

/// What the caller wants after each generated token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Generates up to `max_new` tokens after `ids`, of which the first `cached` are already in the
/// model's KV cache (0 to start over; a conversation continues with the ids it has run so far).
/// Only `ids[cached..]` is run, but the sampler sees all of `ids` as history (repetition penalty).
/// Stops at any id of `eos` (not fed back), at `max_new`, or when `on_token` says so. Returns the generated
/// ids (EOS included if produced).
pub fn generate<B: Backend>(
    model: &mut Model<B>,
    ids: &[u32],
    cached: usize,
    max_new: usize,
    eos: &[u32],
    sampler: &mut dyn Sampler,
    on_token: &mut dyn FnMut(u32) -> Flow,
) -> Result<Vec<u32>> {
    if cached > ids.len() {
        return Err(mistral_core::Error::InvalidInput(format!(
            "{cached} cached ids of only {}",
            ids.len()
        )));
    }
    let (start_pos, prompt) = (cached, &ids[cached..]);
    // The last generated token is never fed back, so it needs no position.
    model.check_fits(
        start_pos,
        prompt.len().saturating_add(max_new.saturating_sub(1)),
    )?;
    let mut history = ids.to_vec();
    let mut out = Vec::new();
    let mut feed = prompt.to_vec();
    let mut pos = start_pos;
    while out.len() < max_new {
        let id = if sampler.is_greedy() {
            model.forward_argmax(&feed, pos)?
        } else {
            let logits = model.forward(&feed, pos, Logits::Last)?;
            sampler.pick(&logits, &history)
        };
        pos += feed.len();
        out.push(id);
        history.push(id);
        if on_token(id) == Flow::Stop || eos.contains(&id) {
            break;
        }
        feed = vec![id];
    }
    Ok(out)
}
