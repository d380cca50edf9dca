//! `config.json` in Hugging Face's field names. Numbers for Mistral-7B-Instruct-v0.1 come from its
//! published config (a copy is in `tests/data/mistral-7b-config.json`): hidden 4096,
//! 32 layers, 32 query / 8 KV heads, FFN 14336, RMSNorm eps 1e-5, RoPE θ 10000, window 4096.
//!
//! A Llama model (`model_type: llama`) is a Mistral model without a sliding window: the same
//! decoder, so it loads into the same config with Llama's defaults (see [`MistralConfig::from_json`]).

use std::path::Path;

use mistral_core::{Error, Result};
use serde::Deserialize;

/// The model hyper-parameters the executor needs.
///
/// Fields a config may leave out take transformers' `MistralConfig` defaults (checked against
/// transformers 5.24): `num_key_value_heads` 8, `sliding_window` 4096, `rms_norm_eps` 1e-6,
/// `max_position_embeddings` 131072, RoPE θ 10000. An explicit `null` means what transformers
/// makes of it: `num_key_value_heads: null` is plain multi-head attention, `sliding_window: null`
/// full causal attention, `head_dim: null` is `hidden_size / num_attention_heads`. The shape
/// fields (vocabulary, widths, layer and head counts) are required.
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
    /// `None` (an explicit null) means `num_attention_heads`.
    #[serde(default = "default_kv_heads")]
    pub num_key_value_heads: Option<usize>,
    /// `None` means `hidden_size / num_attention_heads`.
    #[serde(default)]
    pub head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// transformers 4 writes `rope_theta`; transformers 5 writes `rope_parameters.rope_theta`.
    #[serde(default)]
    pub rope_theta: Option<f64>,
    #[serde(default)]
    pub rope_parameters: Option<serde_json::Value>,
    /// `None` (an explicit null, Mistral v0.2 and later) means full causal attention.
    #[serde(default = "default_window")]
    pub sliding_window: Option<usize>,
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// An id or a list of ids.
    #[serde(default)]
    pub eos_token_id: Option<serde_json::Value>,
}

fn default_kv_heads() -> Option<usize> {
    Some(8)
}

fn default_window() -> Option<usize> {
    Some(4096)
}

fn default_eps() -> f64 {
    1e-6
}

fn default_max_positions() -> usize {
    131072
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
    ///
    /// `model_type: llama` takes transformers' `LlamaConfig` defaults where a field is absent
    /// (checked against transformers 5.24): no sliding window, `num_key_value_heads` =
    /// `num_attention_heads`, `max_position_embeddings` 2048. Biases (`attention_bias`,
    /// `mlp_bias`) are refused: the executor has none.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let raw: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))?;
        let mut cfg: MistralConfig =
            serde_json::from_value(raw.clone()).map_err(|e| format!("invalid config: {e}"))?;
        if cfg.model_type == "llama" {
            let absent = |k: &str| raw.get(k).is_none();
            if absent("sliding_window") {
                cfg.sliding_window = None;
            }
            if absent("num_key_value_heads") {
                cfg.num_key_value_heads = None;
            }
            if absent("max_position_embeddings") {
                cfg.max_position_embeddings = 2048;
            }
            for bias in ["attention_bias", "mlp_bias"] {
                if raw.get(bias).and_then(|v| v.as_bool()) == Some(true) {
                    return Err(format!("{bias}: true is not supported (no bias terms)"));
                }
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the fields; also used for configs built from GGUF metadata.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let arch = match self.model_type.as_str() {
            "mistral" => "MistralForCausalLM",
            "llama" => "LlamaForCausalLM",
            other => {
                return Err(format!(
                    "unsupported model_type {other:?} (expected \"mistral\" or \"llama\")"
                ))
            }
        };
        if let Some(archs) = &self.architectures {
            if !archs.iter().any(|a| a == arch) {
                return Err(format!(
                    "unsupported architectures {archs:?} (expected {arch})"
                ));
            }
        }
        if self.hidden_act != "silu" {
            return Err(format!(
                "unsupported hidden_act {:?} (expected \"silu\")",
                self.hidden_act
            ));
        }
        // Only plain RoPE: a scaling scheme (linear, dynamic, yarn, llama3, ...) is refused.
        let rope_type = |v: &serde_json::Value| {
            v.get("rope_type")
                .or_else(|| v.get("type"))
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        };
        for (field, v) in [
            ("rope_scaling", &self.rope_scaling),
            ("rope_parameters", &self.rope_parameters),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_null()) {
                match rope_type(v).as_deref() {
                    None | Some("default") => {}
                    Some(other) => {
                        return Err(format!("{field} of type {other:?} is not supported"))
                    }
                }
            }
        }
        if let Some(e) = &self.eos_token_id {
            if !(e.is_null()
                || e.is_u64()
                || e.as_array().is_some_and(|a| a.iter().all(|v| v.is_u64())))
            {
                return Err(format!("eos_token_id {e} is not an id or a list of ids"));
            }
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
        // Widths a model file may claim: refuse products that overflow before anything is sized.
        let dims = [
            self.vocab_size,
            self.hidden_size,
            self.intermediate_size,
            self.head_dim(),
            self.num_attention_heads,
        ];
        if dims.iter().any(|d| *d > 1 << 24)
            || self
                .num_attention_heads
                .checked_mul(self.head_dim())
                .is_none()
            || self.vocab_size.checked_mul(self.hidden_size).is_none()
            || self
                .intermediate_size
                .checked_mul(self.hidden_size)
                .is_none()
        {
            return Err(format!(
                "implausible sizes (vocab {}, hidden {}, ffn {}, heads {}, head_dim {})",
                self.vocab_size,
                self.hidden_size,
                self.intermediate_size,
                self.num_attention_heads,
                self.head_dim()
            ));
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
        if !(self.rms_norm_eps > 0.0 && self.rope_theta() > 0.0) {
            return Err("rms_norm_eps and rope_theta must be positive".into());
        }
        Ok(())
    }

    /// RoPE θ: `rope_theta`, else `rope_parameters.rope_theta`, else 10000.
    pub fn rope_theta(&self) -> f64 {
        self.rope_theta
            .or_else(|| self.rope_parameters.as_ref()?.get("rope_theta")?.as_f64())
            .unwrap_or(10000.0)
    }

    /// The end-of-sequence ids (a config may list several; generation stops at any of them).
    pub fn eos_ids(&self) -> Vec<u32> {
        let ids = |v: &serde_json::Value| v.as_u64().and_then(|v| u32::try_from(v).ok());
        match &self.eos_token_id {
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(ids).collect(),
            Some(v) => ids(v).into_iter().collect(),
            None => Vec::new(),
        }
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
                real().replace("\"mistral\"", "\"gpt2\""),
                "unsupported model_type",
            ),
            (
                real().replace("\"mistral\"", "\"llama\""),
                "expected LlamaForCausalLM",
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
    fn absent_and_null_fields_mean_what_transformers_makes_of_them() {
        let mut v: serde_json::Value = serde_json::from_str(&real()).unwrap();
        let o = v.as_object_mut().unwrap();
        for k in [
            "sliding_window",
            "num_key_value_heads",
            "rms_norm_eps",
            "rope_theta",
            "max_position_embeddings",
        ] {
            o.remove(k);
        }
        let c = MistralConfig::from_json(&v.to_string()).unwrap();
        // transformers 5.24: MistralConfig() defaults.
        assert_eq!(
            (c.window(), c.n_kv_heads(), c.rms_norm_eps, c.rope_theta()),
            (Some(4096), 8, 1e-6, 10000.0)
        );
        assert_eq!(c.max_position_embeddings, 131072);
        let text = real()
            .replace("\"sliding_window\": 4096", "\"sliding_window\": null")
            .replace(
                "\"num_key_value_heads\": 8",
                "\"num_key_value_heads\": null",
            );
        let c = MistralConfig::from_json(&text).unwrap();
        assert_eq!((c.window(), c.n_kv_heads()), (None, 32));
    }

    #[test]
    fn a_llama_config_is_a_mistral_config_without_a_window() {
        // SmolLM2-135M-Instruct's config.json, fields as published (abridged to what we read).
        let text = r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
            "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
            "rms_norm_eps": 1e-5, "rope_theta": 100000, "tie_word_embeddings": true,
            "max_position_embeddings": 8192, "attention_bias": false, "mlp_bias": false}"#;
        let c = MistralConfig::from_json(text).unwrap();
        assert_eq!((c.window(), c.head_dim(), c.kv_dim()), (None, 64, 192));
        assert!(c.tie_word_embeddings);
        let bare = text.replace("\"num_key_value_heads\": 3,", "");
        let bare = bare.replace("\"max_position_embeddings\": 8192,", "");
        let c = MistralConfig::from_json(&bare).unwrap();
        // LlamaConfig defaults, unlike MistralConfig's 8 heads and 131072 positions.
        assert_eq!((c.n_kv_heads(), c.max_position_embeddings), (9, 2048));
        let biased = text.replace("\"mlp_bias\": false", "\"mlp_bias\": true");
        assert!(MistralConfig::from_json(&biased)
            .unwrap_err()
            .contains("mlp_bias"));
    }

    #[test]
    fn transformers_5_rope_parameters_and_eos_lists() {
        let text = real()
            .replace(
                "\"rope_theta\": 10000.0,",
                "\"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"},",
            )
            .replace("\"eos_token_id\": 2", "\"eos_token_id\": [2, 32000]");
        let c = MistralConfig::from_json(&text).unwrap();
        assert_eq!((c.rope_theta(), c.eos_ids()), (1e6, vec![2, 32000]));
        let yarn = text.replace("\"default\"", "\"yarn\"");
        assert!(MistralConfig::from_json(&yarn)
            .unwrap_err()
            .contains("rope_parameters of type \"yarn\""));
        let bad = real().replace("\"eos_token_id\": 2", "\"eos_token_id\": \"x\"");
        assert!(MistralConfig::from_json(&bad)
            .unwrap_err()
            .contains("eos_token_id"));
    }
}
