//! The scale searches and rounding helpers of llama.cpp's reference quantizers
//! (`ggml/src/ggml-quants.c`), shared by the formats.
//!
//! Every expression keeps ggml's f32 operation order (no fused multiply-add), so a quantizer built
//! on these is byte-identical to `quantize_row_*_ref` compiled with `-ffp-contract=off`.

/// `nearest_int`: rounds to the nearest integer, ties to even, by adding `1.5 · 2²³` and reading
/// the mantissa bits.
///
/// Exact for `|v| ≤ 4194303`; outside that range ggml only asserts (compiled out in release), so
/// the same bit trick is kept here to give the same integer for every input: ±inf gives `-2²²`
/// and NaN gives 0.
pub(crate) fn nearest_int(v: f32) -> i32 {
    let bits = (v + 12_582_912.0f32).to_bits();
    (bits & 0x007f_ffff) as i32 - 0x0040_0000
}

/// C's `(int)v` for a float as x86-64 compiles it (`cvttss2si`): truncation toward zero, and
/// `i32::MIN` for NaN and values out of `i32`'s range (undefined behaviour in C, so this pins what
/// llama.cpp and numpy do on x86-64). The legacy quantizers narrow the result to 8 bits with
/// `as i8`/`as u8`, as C's `(int8_t)` does.
///
/// It matters only for degenerate blocks: a block whose scale underflows to a subnormal f32 has
/// an infinite inverse scale, so `x · id` is ±inf or NaN.
pub(crate) fn trunc_i32(v: f32) -> i32 {
    if v.is_nan() || !(-2_147_483_648.0f32..2_147_483_648.0f32).contains(&v) {
        i32::MIN
    } else {
        v as i32
    }
}

/// Below this absolute maximum a group counts as all zero (`GROUP_MAX_EPS`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// `make_qx_quants` with `rmse_type = 1` and no importance weights (the only use in the reference
/// quantizers: Q6_K, and Q3_K which this workspace does not run).
///
/// Quantizes `x` to symmetric levels `l ∈ [-nmax, nmax - 1]`, stored as `l + nmax` in `levels`,
/// and returns the scale `s` with `x ≈ s · l`. It starts from `s = max / -nmax` (`max`: the
/// element of largest magnitude, with its sign), then tries the 18 inverse scales
/// `-(nmax + 0.1·is) / max` for `is ∈ [-9, 9] \ {0}`, keeping the one with the best weighted
/// least-squares fit (weights `x²`).
pub(crate) fn make_qx_quants(nmax: i32, x: &[f32], levels: &mut [i8]) -> f32 {
    let (mut max, mut amax) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        levels.fill(0);
        return 0.0;
    }
    let level = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    // Weighted sums Σ w·x·l and Σ w·l² with w = x², in ggml's association.
    let sums = |iscale: f32| {
        let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
        for &v in x {
            let l = level(iscale, v) as f32;
            let w = v * v;
            sumlx += w * v * l;
            suml2 += w * l * l;
        }
        (sumlx, suml2)
    };
    let store = |iscale: f32, levels: &mut [i8]| {
        for (o, &v) in levels.iter_mut().zip(x) {
            *o = (level(iscale, v) + nmax) as i8;
        }
    };

    let iscale = -(nmax as f32) / max;
    store(iscale, levels);
    let (sumlx, suml2) = sums(iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in (-9..=9).filter(|&is| is != 0) {
        let iscale = -(nmax as f32 + 0.1f32 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            store(iscale, levels);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// The parameters of [`make_qkx2_quants`]'s scan over inverse scales.
pub(crate) struct Qkx2Search {
    /// Largest level: 15 for 4 bits, 31 for 5.
    pub nmax: i32,
    /// The scan tries `iscale = (rmin + rdelta·is + nmax) / (max − min)` for `is ∈ 0..=nstep`.
    pub rmin: f32,
    pub rdelta: f32,
    pub nstep: i32,
}

/// `make_qkx2_quants` with `use_mad = false`: quantizes `x` to levels `l ∈ [0, nmax]` with
/// `x ≈ scale · l − min`, minimizing the weighted squared error. Returns `(scale, min)`, `min ≥ 0`
/// (ggml's `the_min`, the negated offset).
///
/// It starts from the min/max fit (`min` clamped to ≤ 0), then for each inverse scale of the scan
/// rounds `x` to levels and solves the 2×2 least-squares system for scale and offset, keeping the
/// candidate with the lowest weighted error.
pub(crate) fn make_qkx2_quants(
    p: &Qkx2Search,
    x: &[f32],
    weights: &[f32],
    levels: &mut [u8],
) -> (f32, f32) {
    let nmax = p.nmax;
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for (&v, &w) in x.iter().zip(weights).skip(1) {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
        sum_w += w;
        sum_x += w * v;
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        levels.fill(0);
        return (0.0, -min);
    }
    let level = |iscale: f32, v: f32, min: f32| nearest_int(iscale * (v - min)).clamp(0, nmax);

    let iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for ((o, &v), &w) in levels.iter_mut().zip(x).zip(weights) {
        *o = level(iscale, v, min) as u8;
        let diff = scale * *o as f32 + min - v;
        best_error += w * (diff * diff);
    }
    let mut aux = [0u8; 32];
    let aux = &mut aux[..x.len()];
    for is in 0..=p.nstep {
        let iscale = (p.rmin + p.rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for ((a, &v), &w) in aux.iter_mut().zip(x).zip(weights) {
            let l = level(iscale, v, min);
            *a = l as u8;
            let l = l as f32;
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * v;
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for ((&a, &v), &w) in aux.iter().zip(x).zip(weights) {
                let diff = this_scale * a as f32 + this_min - v;
                cur_error += w * (diff * diff);
            }
            if cur_error < best_error {
                levels.copy_from_slice(aux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        let cases = [
            (0.5, 0),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (-2.5, -2),
            (0.49999997, 0),
            (3.7, 4),
            (-3.7, -4),
            (4194303.0, 4194303),
            (-4194303.0, -4194303),
        ];
        for (v, want) in cases {
            assert_eq!(nearest_int(v), want, "{v}");
        }
        // Outside the asserted range the bit trick is kept: same answers as ggml's release build.
        assert_eq!(nearest_int(f32::NAN), 0);
        assert_eq!(nearest_int(f32::INFINITY), -0x40_0000);
    }

    #[test]
    fn trunc_i32_is_cvttss2si() {
        assert_eq!(trunc_i32(16.9), 16);
        assert_eq!(trunc_i32(-0.9), 0);
        assert_eq!(trunc_i32(f32::NAN), i32::MIN);
        assert_eq!(trunc_i32(f32::INFINITY), i32::MIN);
        assert_eq!(trunc_i32(-3e9), i32::MIN);
        assert_eq!(trunc_i32(f32::INFINITY) as i8, 0);
    }

    #[test]
    fn make_qx_quants_fits_a_ramp_exactly() {
        // x = 0.5·l for l in -32..=31: the fit recovers scale 0.5 and the levels.
        let x: Vec<f32> = (-8..8).map(|l| 0.5 * l as f32 * 4.0).collect();
        let mut levels = [0i8; 16];
        let s = make_qx_quants(32, &x, &mut levels);
        for (&v, &l) in x.iter().zip(&levels) {
            assert_eq!(s * (l as i32 - 32) as f32, v);
        }
    }
}
