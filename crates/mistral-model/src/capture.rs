//! Named intermediates captured during a forward pass, to locate where two backends diverge.
//!
//! Names are `embed`, `layer.{l}.{op}` for `attn_norm`, `q`, `k`, `v` (after RoPE for q and k),
//! `attn`, `attn_out`, `ffn_norm`, `mlp_act`, `mlp_out`, then `final_norm` and `logits`.
//! Capturing downloads each buffer, so it synchronises: a debugging tool, never on in production.

use mistral_core::testutil::{compare, Tolerance};

/// Captured values in the order they were produced.
#[derive(Clone, Debug, Default)]
pub struct Capture {
    pub values: Vec<(String, Vec<f32>)>,
}

impl Capture {
    pub fn get(&self, name: &str) -> Option<&[f32]> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The first intermediate (in execution order) where `self` and `reference` differ beyond
    /// `tol`, with the comparison message; `None` if all agree.
    pub fn first_divergence(&self, reference: &Capture, tol: Tolerance) -> Option<String> {
        for (name, got) in &self.values {
            let Some(want) = reference.get(name) else {
                return Some(format!("{name}: missing in the reference capture"));
            };
            if let Err(msg) = compare(name, got, want, tol) {
                return Some(msg);
            }
        }
        None
    }
}
