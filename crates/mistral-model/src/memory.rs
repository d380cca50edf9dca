//! What a model will hold on its backend, known before the first byte is uploaded.
//!
//! [`MemoryPlan::new`] adds up the three things [`crate::Model`] allocates: the weights (as stored:
//! a Q4_K tensor costs its blocks, not f32), the rolling KV cache (`layers · 2 · slots · kv_dim`
//! elements of the cache dtype, `slots = min(window, context limit)`), and the activation buffers
//! sized for `max_batch` rows. Backends add a little kernel scratch on top (flash-decoding partial
//! sums, argmax ids): under 1% of a 7B model, which the plan does not count.
//!
//! The CLI prints [`MemoryPlan::summary`] and checks [`MemoryPlan::total`] against the device
//! (free memory on CUDA, `--memory-budget` on wgpu) before it uploads, so a model that does not
//! fit is one clear error instead of a driver failure half-way through a 14 GB upload.

use mistral_core::DType;

use crate::{MistralConfig, ModelOptions};

/// Bytes a model will hold on its backend, by purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The uploaded weights, in their stored dtypes.
    pub weights: u64,
    /// K and V of every layer, `slots` rows each.
    pub kv_cache: u64,
    /// Rows of the rolling cache per layer.
    pub kv_slots: usize,
    /// The cache's element type.
    pub kv_dtype: DType,
    /// Activation buffers for `max_batch` rows (residual, q/k/v, MLP, logits).
    pub activations: u64,
}

impl MemoryPlan {
    /// The plan for `cfg` with `weight_bytes` of weights (see [`crate::HostWeights::bytes`]).
    pub fn new(
        cfg: &MistralConfig,
        weight_bytes: u64,
        opts: &ModelOptions,
        kv_dtype: DType,
    ) -> Self {
        let kv_slots = kv_slots(cfg, opts);
        let kv_elems = 2 * cfg.num_hidden_layers as u64 * kv_slots as u64 * cfg.kv_dim() as u64;
        MemoryPlan {
            weights: weight_bytes,
            kv_cache: kv_elems * kv_dtype.block_bytes() as u64,
            kv_slots,
            kv_dtype,
            activations: activation_elems(cfg) * opts.max_batch as u64 * 4,
        }
    }

    /// Everything together.
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.activations
    }

    /// One line for the user, e.g. `4.37 GB: weights 4.07 GB, KV cache 268.4 MB (f16, 4096 slots),
    /// activations 37.0 MB`.
    pub fn summary(&self) -> String {
        format!(
            "{}: weights {}, KV cache {} ({}, {} slots), activations {}",
            human(self.total()),
            human(self.weights),
            human(self.kv_cache),
            self.kv_dtype,
            self.kv_slots,
            human(self.activations)
        )
    }
}

/// Rows of the rolling cache: the window, or every position the context limit allows.
pub fn kv_slots(cfg: &MistralConfig, opts: &ModelOptions) -> usize {
    cfg.window().unwrap_or(usize::MAX).min(opts.context_limit)
}

/// f32 activations per row of a block, as `Model` allocates them: x, xn, out (hidden); q, attn
/// (q_dim); k, v (kv_dim); gate, up, act (ffn); logits (vocab).
fn activation_elems(cfg: &MistralConfig) -> u64 {
    (3 * cfg.hidden_size
        + 2 * cfg.q_dim()
        + 2 * cfg.kv_dim()
        + 3 * cfg.intermediate_size
        + cfg.vocab_size) as u64
}

/// Decimal units with one decimal place, as disk sizes are quoted (`14.5 GB`).
pub fn human(bytes: u64) -> String {
    const UNITS: [(&str, f64); 4] = [("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0)];
    let b = bytes as f64;
    let (unit, scale) = UNITS
        .iter()
        .copied()
        .find(|&(_, s)| b >= s)
        .unwrap_or(("B", 1.0));
    if scale == 1.0 {
        format!("{bytes} B")
    } else {
        format!("{:.2} {unit}", b / scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mistral_7b() -> MistralConfig {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/mistral-7b-config.json"
        );
        MistralConfig::from_file(std::path::Path::new(path)).unwrap()
    }

    #[test]
    fn the_7b_plan_adds_up_from_the_architecture() {
        let cfg = mistral_7b();
        let opts = ModelOptions::default();
        let p = MemoryPlan::new(&cfg, 14_483_464_192, &opts, DType::F32);
        // 32 layers x K and V x 4096 slots (the window) x 8 heads x 128 x 4 bytes = 1 GiB.
        assert_eq!(p.kv_slots, 4096);
        assert_eq!(p.kv_cache, 1 << 30);
        // 256 rows x (3·4096 + 2·4096 + 2·1024 + 3·14336 + 32000) f32s.
        assert_eq!(p.activations, 256 * 97_536 * 4);
        assert_eq!(p.total(), 14_483_464_192 + (1 << 30) + 256 * 97_536 * 4);
        let half = MemoryPlan::new(&cfg, 0, &opts, DType::F16);
        assert_eq!(half.kv_cache, 1 << 29);
    }

    #[test]
    fn without_a_window_the_context_limit_sizes_the_cache() {
        let mut cfg = mistral_7b();
        cfg.sliding_window = None;
        let opts = ModelOptions {
            max_batch: 1,
            context_limit: 1000,
            kv_dtype: None,
        };
        let p = MemoryPlan::new(&cfg, 0, &opts, DType::BF16);
        assert_eq!(p.kv_slots, 1000);
        assert_eq!(p.kv_cache, 2 * 32 * 1000 * 1024 * 2);
    }

    #[test]
    fn sizes_read_as_people_quote_them() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(999), "999 B");
        assert_eq!(human(4_370_000_000), "4.37 GB");
        assert_eq!(human(268_435_456), "268.44 MB");
        let p = MemoryPlan {
            weights: 4_070_000_000,
            kv_cache: 268_435_456,
            kv_slots: 4096,
            kv_dtype: DType::F16,
            activations: 37_000_000,
        };
        assert_eq!(
            p.summary(),
            "4.38 GB: weights 4.07 GB, KV cache 268.44 MB (f16, 4096 slots), activations 37.00 MB"
        );
    }
}
