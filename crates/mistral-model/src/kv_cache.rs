//! The rolling KV cache: `slots` rows per layer, position `p` stored in slot `p % slots`.
//!
//! With `slots = W` (the sliding window) memory stays bounded however long generation runs, while
//! positions (and so RoPE angles) keep growing. A block of `n` new keys is attended to *before* it
//! is written (see `Backend::attention`), so a block longer than the window is fine.

use mistral_core::ops::CopyParams;
use mistral_core::{Backend, Result};

/// Per-layer K and V buffers, each `[slots, kv_heads * head_dim]` f32.
pub struct KvCache<T> {
    pub k: Vec<T>,
    pub v: Vec<T>,
    pub slots: usize,
    pub row: usize,
}

impl<T> KvCache<T> {
    pub fn new<B: Backend<Tensor = T>>(
        b: &B,
        layers: usize,
        slots: usize,
        row: usize,
    ) -> Result<Self> {
        let mut k = Vec::with_capacity(layers);
        let mut v = Vec::with_capacity(layers);
        for _ in 0..layers {
            k.push(b.zeros(slots * row)?);
            v.push(b.zeros(slots * row)?);
        }
        Ok(KvCache { k, v, slots, row })
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
}
