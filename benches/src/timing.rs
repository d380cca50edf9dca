//! Honest timing: warm-up runs, then `iters` runs each ended by a device synchronisation inside
//! the timed region; the median is reported with min and max.

use std::time::Instant;

use mistral_core::{Backend, Result};

/// Seconds of several runs.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

/// Times `f` on backend `b`: `warmup` untimed runs, then `iters` timed runs.
pub fn time<B: Backend>(
    b: &B,
    warmup: usize,
    iters: usize,
    mut f: impl FnMut(usize) -> Result<()>,
) -> Result<Stats> {
    for i in 0..warmup {
        f(i)?;
    }
    b.synchronize()?;
    let mut t = Vec::with_capacity(iters);
    for i in 0..iters.max(1) {
        let start = Instant::now();
        f(warmup + i)?;
        b.synchronize()?;
        t.push(start.elapsed().as_secs_f64());
    }
    Ok(stats(t))
}

/// Median, min and max of samples.
pub fn stats(mut t: Vec<f64>) -> Stats {
    t.sort_by(|a, b| a.total_cmp(b));
    let n = t.len();
    let median = if n % 2 == 1 {
        t[n / 2]
    } else {
        (t[n / 2 - 1] + t[n / 2]) / 2.0
    };
    Stats {
        median,
        min: t[0],
        max: t[n - 1],
        runs: n,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_and_even_counts() {
        let s = super::stats(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(super::stats(vec![4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }
}
