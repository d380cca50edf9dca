//! Named intermediates captured during a forward pass, to locate where two backends diverge.
//!
//! Names are `embed`, `layer.{l}.{op}` for `attn_norm`, `q`, `k`, `v` (after RoPE for q and k),
//! `attn`, `attn_out`, `ffn_norm`, `mlp_act`, `mlp_out`, then `final_norm` and `logits`.
//! Each name holds every row of the forward pass (blocks of a long prompt are appended).
//! Capturing downloads each buffer, so it synchronises: a debugging tool, never on in production.

use mistral_core::testutil::{compare, Stats, Tolerance};

/// Captured values in the order they were produced.
#[derive(Clone, Debug, Default)]
pub struct Capture {
    pub values: Vec<(String, Vec<f32>)>,
}

impl Capture {
    /// Appends values to `name`'s entry (a prompt run in several blocks adds a block's rows each
    /// time), creating it in execution order if it is new.
    pub fn append(&mut self, name: String, values: &[f32]) {
        match self.values.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.extend_from_slice(values),
            None => self.values.push((name, values.to_vec())),
        }
    }

    pub fn get(&self, name: &str) -> Option<&[f32]> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Every intermediate (in execution order) compared with `reference` under `tol`: the error
    /// statistics, or the comparison's message when it fails or the reference lacks the name.
    pub fn compare_all(
        &self,
        reference: &Capture,
        tol: Tolerance,
    ) -> Vec<(String, Result<Stats, String>)> {
        self.values
            .iter()
            .map(|(name, got)| {
                let r = match reference.get(name) {
                    Some(want) => compare(name, got, want, tol),
                    None => Err(format!("{name}: missing in the reference capture")),
                };
                (name.clone(), r)
            })
            .collect()
    }

    /// The first intermediate (in execution order) where `self` and `reference` differ beyond
    /// `tol`, with the comparison message; `None` if all agree.
    pub fn first_divergence(&self, reference: &Capture, tol: Tolerance) -> Option<String> {
        self.compare_all(reference, tol)
            .into_iter()
            .find_map(|(_, r)| r.err())
    }
}
