//! `config.json` in Hugging Face's field names. Numbers for Mistral-7B-Instruct-v0.1 come from its
//! published config (a copy is in `shared/mistral-7b-instruct-v0.1/config.json`): hidden 4096,
//! 32 layers, 32 query / 8 KV heads, FFN 14336, RMSNorm eps 1e-5, RoPE θ 10000, window 4096.

use std::path::Path;

use mistral_core::{Error, Result};
use serde::Deserialize;

/// The model hyper-parameters the executor needs.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MistralConfig {
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    pub model_type: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Defaults to `num_attention_heads` (plain multi-head attention), as in transformers.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Defaults to `hidden_size / num_attention_heads`, as in transformers.
    #[serde(default)]
    pub head_dim: Option<usize>,
    pub rms_norm_eps: f64,
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    /// `null` (Mistral v0.2 and later) means full causal attention.
    #[serde(default)]
    pub sliding_window: Option<usize>,
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
}

fn default_theta() -> f64 {
    10000.0
}

fn default_act() -> String {
    "silu".into()
}

impl MistralConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text).map_err(|msg| Error::model(path, msg))
    }

    /// Parses and validates config JSON text; the error is a one-line message.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let cfg: MistralConfig =
            serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.model_type != "mistral" {
            return Err(format!(
                "unsupported model_type {:?} (expected \"mistral\")",
                self.model_type
            ));
        }
        if let Some(archs) = &self.architectures {
            if !archs.iter().any(|a| a == "MistralForCausalLM") {
                return Err(format!(
                    "unsupported architectures {archs:?} (expected MistralForCausalLM)"
                ));
            }
        }
        if self.hidden_act != "silu" {
            return Err(format!(
                "unsupported hidden_act {:?} (expected \"silu\")",
                self.hidden_act
            ));
        }
        if self.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return Err("rope_scaling is not supported".into());
        }
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.n_kv_heads()),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be positive"));
        }
        if !self.num_attention_heads.is_multiple_of(self.n_kv_heads()) {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads,
                self.n_kv_heads()
            ));
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err("hidden_size is not a multiple of num_attention_heads".into());
        }
        if !self.head_dim().is_multiple_of(2) || self.head_dim() == 0 {
            return Err(format!(
                "head_dim {} must be even and positive",
                self.head_dim()
            ));
        }
        if self.sliding_window == Some(0) {
            return Err("sliding_window must be positive or null".into());
        }
        if !(self.rms_norm_eps > 0.0 && self.rope_theta > 0.0) {
            return Err("rms_norm_eps and rope_theta must be positive".into());
        }
        Ok(())
    }

    pub fn n_kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Width of the query projection, `num_attention_heads * head_dim`.
    pub fn q_dim(&self) -> usize {
        self.num_attention_heads * self.head_dim()
    }

    /// Width of the key and value projections, `num_key_value_heads * head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads() * self.head_dim()
    }

    /// Sliding window W, or `None` for full causal attention.
    pub fn window(&self) -> Option<usize> {
        self.sliding_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/mistral-7b-config.json"
        ))
        .unwrap()
    }

    #[test]
    fn reads_the_real_7b_config() {
        let c = MistralConfig::from_json(&real()).unwrap();
        assert_eq!(
            (c.hidden_size, c.num_hidden_layers, c.head_dim(), c.kv_dim()),
            (4096, 32, 128, 1024)
        );
        assert_eq!(c.window(), Some(4096));
        assert_eq!(c.rms_norm_eps, 1e-5);
    }

    #[test]
    fn rejects_bad_configs_with_one_line() {
        let cases = [
            (
                real().replace("\"mistral\"", "\"llama\""),
                "unsupported model_type",
            ),
            (
                real().replace("\"hidden_size\": 4096,", ""),
                "missing field `hidden_size`",
            ),
            (
                real().replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5"),
                "not a multiple",
            ),
            ("not json".to_string(), "invalid config"),
            (real().replace("\"silu\"", "\"gelu\""), "hidden_act"),
        ];
        for (text, want) in cases {
            let err = MistralConfig::from_json(&text).unwrap_err();
            assert!(err.contains(want), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn null_window_and_missing_kv_heads_have_transformers_defaults() {
        let text = real()
            .replace("\"sliding_window\": 4096", "\"sliding_window\": null")
            .replace("\"num_key_value_heads\": 8,", "");
        let c = MistralConfig::from_json(&text).unwrap();
        assert_eq!(c.window(), None);
        assert_eq!(c.n_kv_heads(), 32);
    }
}
