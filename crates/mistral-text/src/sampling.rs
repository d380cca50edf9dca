//! Choosing the next token from the model's logits.
//!
//! The order of the steps is Hugging Face `generate`'s:
//! 1. repetition penalty (CTRL, Keskar et al. 2019): each distinct id in `history` has its logit
//!    divided by the penalty when positive and multiplied by it otherwise;
//! 2. temperature: `0` (or less) means greedy argmax, the first maximum on ties; otherwise logits
//!    are divided by it;
//! 3. top-k: keep the `k` largest logits (and any tied with the k-th, as HF does); `0` is off;
//! 4. top-p (nucleus): keep the smallest set of most likely tokens whose probability reaches `p`
//!    (the token that crosses `p` is kept); `1.0` is off;
//! 5. draw from the softmax of what is left with a seeded SplitMix64 generator, so the same seed
//!    and logits give the same tokens on every run and machine.
//!
//! NaN logits count as `-inf`. Empty logits give id 0. Nothing here panics.

use mistral_core::rng::Rng;
use mistral_core::{Error, Result};

pub use crate::stop::{StopChecker, StopUpdate};

/// Sampling parameters. `Default` is greedy decoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerConfig {
    /// `0` = greedy. Typical: 0.7.
    pub temperature: f32,
    /// Keep the k most likely tokens; `0` = off.
    pub top_k: usize,
    /// Nucleus mass in `(0, 1]`; `1.0` = off.
    pub top_p: f32,
    /// `> 0`; `1.0` = off; `> 1` discourages repeating tokens of `history`.
    pub repetition_penalty: f32,
    /// Seed of the random generator.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self::greedy()
    }
}

impl SamplerConfig {
    /// Greedy argmax decoding, no penalty.
    pub fn greedy() -> Self {
        SamplerConfig {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            seed: 0,
        }
    }

    /// Checks the ranges: temperature finite and `>= 0`, `top_p` in `(0, 1]`, penalty finite and `> 0`.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::InvalidInput(format!(
                "temperature must be >= 0, got {}",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::InvalidInput(format!(
                "top-p must be in (0, 1], got {}",
                self.top_p
            )));
        }
        if !(self.repetition_penalty.is_finite() && self.repetition_penalty > 0.0) {
            return Err(Error::InvalidInput(format!(
                "repetition penalty must be > 0, got {}",
                self.repetition_penalty
            )));
        }
        Ok(())
    }
}

/// Draws token ids from logits with a [`SamplerConfig`]. Keeps its random state between calls.
#[derive(Clone, Debug)]
pub struct Sampler {
    cfg: SamplerConfig,
    rng: Rng,
}

/// Index of the first largest value (NaN is never chosen); 0 for an empty slice.
fn argmax(xs: &[f32]) -> u32 {
    mistral_core::ops::argmax_row(xs) as u32
}

impl Sampler {
    /// A sampler seeded with `cfg.seed`. Out-of-range settings are not rejected here (see
    /// [`SamplerConfig::validate`]): a temperature that is not `> 0` is greedy, a `top_p` outside
    /// `(0, 1)` is off, and a penalty that is not finite and `> 0` is off.
    pub fn new(cfg: SamplerConfig) -> Self {
        Sampler {
            cfg,
            rng: Rng::new(cfg.seed),
        }
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// Whether [`Sampler::sample`] is a plain argmax (temperature `0`), so the caller may use a
    /// device-side argmax instead (when the repetition penalty is also off).
    pub fn is_greedy(&self) -> bool {
        // NaN counts as greedy too.
        self.cfg.temperature.is_nan() || self.cfg.temperature <= 0.0
    }

    /// The next token for `logits` (one per vocabulary id), given the ids seen so far.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let dist = self.distribution(logits, history);
        let u = self.rng.next_f64();
        let mut cum = 0.0;
        for &(id, p) in &dist {
            cum += p;
            if u < cum {
                return id;
            }
        }
        dist.last().map_or(0, |&(id, _)| id)
    }

    /// The distribution [`Sampler::sample`] draws from: `(id, probability)` of every token still
    /// allowed after all steps, most likely first, probabilities summing to 1. Greedy gives one entry.
    pub fn distribution(&self, logits: &[f32], history: &[u32]) -> Vec<(u32, f64)> {
        if logits.is_empty() {
            return vec![(0, 1.0)];
        }
        let mut scores: Vec<f32> = logits
            .iter()
            .map(|&x| if x.is_nan() { f32::NEG_INFINITY } else { x })
            .collect();
        self.apply_penalty(&mut scores, history);
        if self.is_greedy() {
            return vec![(argmax(&scores), 1.0)];
        }
        let t = self.cfg.temperature;
        let mut cand: Vec<(u32, f32)> = scores
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > f32::NEG_INFINITY)
            .map(|(i, &s)| (i as u32, s / t))
            .collect();
        if cand.is_empty() {
            return vec![(argmax(&scores), 1.0)];
        }
        let desc = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let k = self.cfg.top_k;
        if k > 0 && k < cand.len() {
            cand.select_nth_unstable_by(k - 1, desc);
            let kth = cand[k - 1].1;
            cand.retain(|c| c.1 >= kth);
        }
        cand.sort_unstable_by(desc);
        let max = cand[0].1;
        let mut probs: Vec<(u32, f64)> = cand
            .iter()
            .map(|&(id, s)| (id, f64::from(s - max).exp()))
            .collect();
        let sum: f64 = probs.iter().map(|p| p.1).sum();
        probs.iter_mut().for_each(|p| p.1 /= sum);
        let top_p = f64::from(self.cfg.top_p);
        if top_p > 0.0 && top_p < 1.0 {
            let mut cum = 0.0;
            let keep = probs
                .iter()
                .position(|p| {
                    cum += p.1;
                    cum >= top_p
                })
                .map_or(probs.len(), |i| i + 1);
            probs.truncate(keep);
            let kept: f64 = probs.iter().map(|p| p.1).sum();
            probs.iter_mut().for_each(|p| p.1 /= kept);
        }
        probs
    }

    fn apply_penalty(&self, scores: &mut [f32], history: &[u32]) {
        let p = self.cfg.repetition_penalty;
        if p == 1.0 || !(p.is_finite() && p > 0.0) || history.is_empty() {
            return;
        }
        let mut seen = vec![false; scores.len()];
        for &id in history {
            let i = id as usize;
            if i < scores.len() && !seen[i] {
                seen[i] = true;
                let s = &mut scores[i];
                *s = if *s > 0.0 { *s / p } else { *s * p };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_first_on_ties_and_nan() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.5, f32::NAN]), 1);
        assert_eq!(argmax(&[]), 0);
    }
}
