//! The rolling KV cache: `slots` rows per layer, position `p` stored in slot `p % slots`.
//!
//! With `slots = W` (the sliding window) memory stays bounded however long generation runs, while
//! positions (and so RoPE angles) keep growing. A block of `n` new keys is attended to *before* it
//! is written (see `Backend::attention`), so a block longer than the window is fine.
//!
//! The cache is stored in f32, f16 or bf16 (`--kv-dtype`): keys and values are rounded to nearest
//! even when written and widened exactly when read, so a 16-bit cache halves both its memory and
//! the bytes attention reads per token.

use mistral_core::ops::{CopyParams, KV_DTYPES};
use mistral_core::{Backend, DType, Error, Result};

/// Per-layer K and V buffers, each `[slots, kv_heads * head_dim]` in `dtype`.
pub struct KvCache<T> {
    pub k: Vec<T>,
    pub v: Vec<T>,
    pub slots: usize,
    /// Elements per position: `kv_heads * head_dim`.
    pub row: usize,
    /// The stored dtype: f32, f16 or bf16.
    pub dtype: DType,
}

impl<T> KvCache<T> {
    /// Zeroed K and V buffers of `slots` positions of `row` elements for each of `layers` layers,
    /// stored in `dtype` (f32, f16 or bf16; anything else is an `InvalidInput` error).
    pub fn new<B: Backend<Tensor = T>>(
        b: &B,
        layers: usize,
        slots: usize,
        row: usize,
        dtype: DType,
    ) -> Result<Self> {
        if !KV_DTYPES.contains(&dtype) {
            return Err(Error::InvalidInput(format!(
                "the KV cache cannot be stored in {dtype}: use f32, f16 or bf16"
            )));
        }
        let mut k = Vec::with_capacity(layers);
        let mut v = Vec::with_capacity(layers);
        for _ in 0..layers {
            k.push(b.zeros_dtype(slots * row, dtype)?);
            v.push(b.zeros_dtype(slots * row, dtype)?);
        }
        Ok(KvCache {
            k,
            v,
            slots,
            row,
            dtype,
        })
    }

    /// Bytes of a cache of `layers` layers and `slots` positions of `row` (= kv_heads · head_dim)
    /// elements stored in `dtype`: per position and layer `2 · row · bytes(dtype)` (K and V), e.g.
    /// 4 KiB in f16 and 8 KiB in f32 at Mistral-7B's 8 KV heads of 128.
    pub fn bytes(layers: usize, slots: usize, row: usize, dtype: DType) -> u64 {
        2 * layers as u64 * slots as u64 * row as u64 * dtype.block_bytes() as u64
    }

    /// The copies that store rows `0..n` of a block starting at `start_pos`: only the last `slots`
    /// rows survive, in at most two contiguous runs (the ring wraps once at most).
    pub fn write_plan(&self, start_pos: usize, n: usize) -> Vec<CopyParams> {
        let first = n.saturating_sub(self.slots);
        let mut plan = Vec::with_capacity(2);
        let mut t = first;
        while t < n {
            let slot = (start_pos + t) % self.slots;
            let run = (n - t).min(self.slots - slot);
            plan.push(CopyParams {
                src_offset: t * self.row,
                dst_offset: slot * self.row,
                len: run * self.row,
            });
            t += run;
        }
        plan
    }

    /// Writes block rows into layer `l`'s cache.
    pub fn write<B: Backend<Tensor = T>>(
        &mut self,
        b: &B,
        l: usize,
        k: &T,
        v: &T,
        start_pos: usize,
        n: usize,
    ) -> Result<()> {
        for c in self.write_plan(start_pos, n) {
            b.copy(k, &mut self.k[l], &c)?;
            b.copy(v, &mut self.v[l], &c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_plan_keeps_the_last_slots_rows_in_ring_order() {
        let c = KvCache::<()> {
            k: vec![],
            v: vec![],
            slots: 8,
            row: 1,
            dtype: DType::F32,
        };
        // Simulate: the slot of every position written, for blocks of varied sizes.
        for (start, n) in [(0, 3), (6, 5), (0, 20), (13, 1), (5, 8), (30, 9)] {
            let mut ring = [usize::MAX; 8];
            for cp in c.write_plan(start, n) {
                for i in 0..cp.len {
                    ring[cp.dst_offset + i] = start + cp.src_offset + i;
                }
            }
            for pos in start + n.saturating_sub(8)..start + n {
                assert_eq!(ring[pos % 8], pos, "start {start} n {n}");
            }
            assert!(c.write_plan(start, n).len() <= 2);
        }
    }

    #[test]
    fn bytes_is_two_rows_per_position_and_layer() {
        // Mistral-7B: 32 layers, 8 KV heads of 128, 4096 slots (the window, at 8k context): 1 GiB
        // in f32, 512 MiB in f16.
        assert_eq!(KvCache::<()>::bytes(32, 4096, 1024, DType::F32), 1 << 30);
        assert_eq!(KvCache::<()>::bytes(32, 4096, 1024, DType::F16), 1 << 29);
        assert_eq!(KvCache::<()>::bytes(1, 1, 1024, DType::BF16), 4096);
    }

    #[test]
    fn a_cache_dtype_that_is_not_a_float_is_refused() {
        let cpu = mistral_cpu::CpuBackend::new();
        let err = KvCache::new(&cpu, 1, 4, 8, DType::Q8_0)
            .err()
            .expect("q8_0 cache refused")
            .to_string();
        assert!(err.contains("q8_0") && err.contains("f16"), "{err}");
        let c = KvCache::new(&cpu, 2, 4, 8, DType::BF16).expect("bf16 cache");
        assert_eq!(c.k.len(), 2);
        assert_eq!(mistral_core::TensorInfo::dtype(&c.v[1]), DType::BF16);
    }
}
