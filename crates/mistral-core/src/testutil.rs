//! Seeded inputs and tolerance checks used by the parity tests of every backend.

use std::fmt;

pub use crate::rng::Rng;

/// An error bound: element `i` passes if `|got - want| <= abs + rel * |want|`, and the whole
/// tensor passes if additionally its normalized mean squared error is at most `nmse`.
#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub abs: f32,
    pub rel: f32,
    pub nmse: f64,
}

impl Tolerance {
    pub const fn abs(abs: f32) -> Self {
        Tolerance {
            abs,
            rel: 0.0,
            nmse: f64::INFINITY,
        }
    }
}

/// Error statistics of one comparison.
#[derive(Clone, Debug)]
pub struct Stats {
    pub count: usize,
    pub failures: usize,
    pub mean_abs: f64,
    pub max_abs: f32,
    pub max_index: usize,
    pub max_got: f32,
    pub max_want: f32,
    pub nmse: f64,
    pub non_finite: usize,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} outside tolerance, {} non-finite; mean |err| {:.3e}; max |err| {:.3e} at index {} (got {}, want {}); NMSE {:.3e}",
            self.failures,
            self.count,
            self.non_finite,
            self.mean_abs,
            self.max_abs,
            self.max_index,
            self.max_got,
            self.max_want,
            self.nmse
        )
    }
}

/// Compares `got` with `want` under `tol`. `Err` carries a message naming `what` with the statistics.
pub fn compare(what: &str, got: &[f32], want: &[f32], tol: Tolerance) -> Result<Stats, String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: got {} values, want {}",
            got.len(),
            want.len()
        ));
    }
    let mut s = Stats {
        count: got.len(),
        failures: 0,
        mean_abs: 0.0,
        max_abs: 0.0,
        max_index: 0,
        max_got: 0.0,
        max_want: 0.0,
        nmse: 0.0,
        non_finite: 0,
    };
    let (mut err2, mut ref2) = (0.0f64, 0.0f64);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if !g.is_finite() || !w.is_finite() {
            if !(g.is_nan() && w.is_nan()) && g != w {
                s.non_finite += 1;
                s.failures += 1;
            }
            continue;
        }
        let e = (g - w).abs();
        s.mean_abs += e as f64;
        err2 += (e as f64).powi(2);
        ref2 += (w as f64).powi(2);
        if e > tol.abs + tol.rel * w.abs() {
            s.failures += 1;
        }
        if e > s.max_abs {
            (s.max_abs, s.max_index, s.max_got, s.max_want) = (e, i, g, w);
        }
    }
    s.mean_abs /= s.count.max(1) as f64;
    s.nmse = if ref2 > 0.0 { err2 / ref2 } else { err2 };
    if s.failures > 0 || s.nmse > tol.nmse {
        Err(format!(
            "{what}: {s} (tolerance abs {:e}, rel {:e}, NMSE {:e})",
            tol.abs, tol.rel, tol.nmse
        ))
    } else {
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_reports_the_worst_element() {
        let want = [1.0, 2.0, 3.0];
        assert!(compare("ok", &[1.0, 2.0, 3.0005], &want, Tolerance::abs(1e-3)).is_ok());
        let err = compare("bad", &[1.0, 2.5, 3.0], &want, Tolerance::abs(1e-3)).unwrap_err();
        assert!(err.contains("1 of 3 outside"), "{err}");
        assert!(err.contains("at index 1"), "{err}");
        assert!(compare("nan", &[f32::NAN, 2.0, 3.0], &want, Tolerance::abs(1.0)).is_err());
        assert!(compare("len", &[1.0], &want, Tolerance::abs(1.0)).is_err());
    }
}
