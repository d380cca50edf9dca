//! GGML's block formats against independent references.
//!
//! - Dequantization equals `gguf.quants.dequantize` (gguf-py 0.19, llama.cpp's Python package) bit
//!   for bit on random blocks with edge scales (`tests/data/quant/<fmt>.bin`). The fixture script
//!   also checked ggml's C `dequantize_row_*` against the same values.
//! - Quantization is byte-identical to the reference quantizers (`<fmt>_quantize.bin`): gguf-py's
//!   for Q8_0, Q4_0, Q4_1 and Q5_0 (which the C `quantize_row_*_ref` agreed with on every block),
//!   ggml's C `quantize_row_*_ref` for Q4_K, Q5_K and Q6_K, which gguf-py cannot quantize.
//! - Round trips stay within per-format error bounds, and the K-quants' scale searches beat a
//!   naive min/max quantizer of the same layout.
//!
//! Fixtures: `tools/quant/make_quant_fixtures.py`; C harness: `tools/quant/ggml_ref.c`.

use mistral_core::rng::Rng;
use mistral_core::DType;

/// A fixture file: `b"GGQF"`, u32 version, ggml type, block count, block bytes, block elements;
/// then the blocks' bytes, then their values as f32 (see the fixture script's docstring).
struct Fixture {
    blocks: Vec<u8>,
    values: Vec<f32>,
}

fn fixture(dtype: DType, file: &str) -> Fixture {
    let path = format!("{}/tests/data/quant/{file}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let u32_at = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().unwrap()) as usize;
    assert_eq!(&raw[..4], b"GGQF", "{path}: not a fixture");
    assert_eq!(u32_at(4), 1, "{path}: version");
    assert_eq!(u32_at(8), dtype.ggml_type() as usize, "{path}: ggml type");
    let (n, bytes, elems) = (u32_at(12), u32_at(16), u32_at(20));
    assert_eq!(
        (bytes, elems),
        (dtype.block_bytes(), dtype.block_elems()),
        "{path}"
    );
    let body = &raw[24..];
    assert_eq!(body.len(), n * (bytes + 4 * elems), "{path}: size");
    let (blocks, values) = body.split_at(n * bytes);
    Fixture {
        blocks: blocks.to_vec(),
        values: values
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
    }
}

#[test]
fn dequantize_matches_gguf_py_bit_for_bit() {
    let mut failures = Vec::new();
    for dtype in DType::QUANTIZED {
        let fx = fixture(dtype, &format!("{dtype}.bin"));
        let mut got = vec![0.0f32; fx.values.len()];
        dtype.decode_into(&fx.blocks, &mut got);
        let bad: Vec<usize> = (0..got.len())
            .filter(|&i| got[i].to_bits() != fx.values[i].to_bits())
            .collect();
        if let Some(&i) = bad.first() {
            let (blk, e) = (i / dtype.block_elems(), i % dtype.block_elems());
            let raw = &fx.blocks[blk * dtype.block_bytes()..(blk + 1) * dtype.block_bytes()];
            failures.push(format!(
                "{dtype}: {} of {} values differ; first: block {blk} element {e}: got {} ({:#010x}), \
                 gguf-py {} ({:#010x}); block bytes {raw:02x?}",
                bad.len(),
                got.len(),
                got[i],
                got[i].to_bits(),
                fx.values[i],
                fx.values[i].to_bits(),
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn quantize_is_byte_identical_to_the_reference() {
    let mut failures = Vec::new();
    for dtype in DType::QUANTIZED {
        let fx = fixture(dtype, &format!("{dtype}_quantize.bin"));
        let got = dtype.encode(&fx.values);
        let bb = dtype.block_bytes();
        let bad: Vec<usize> = (0..got.len() / bb)
            .filter(|&b| got[b * bb..(b + 1) * bb] != fx.blocks[b * bb..(b + 1) * bb])
            .collect();
        if let Some(&b) = bad.first() {
            let x = &fx.values[b * dtype.block_elems()..(b + 1) * dtype.block_elems()];
            failures.push(format!(
                "{dtype}: {} of {} blocks differ; first: block {b}\n  got  {:02x?}\n  want {:02x?}\n  \
                 input {x:?}",
                bad.len(),
                got.len() / bb,
                &got[b * bb..(b + 1) * bb],
                &fx.blocks[b * bb..(b + 1) * bb],
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `n` standard normal f32s (Box–Muller over the workspace's SplitMix64).
fn gaussian(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1 = 1.0 - rng.next_f64(); // (0, 1]: ln stays finite
            let u2 = rng.next_f64();
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect()
}

/// Seeded legacy-format blocks: Gaussian with a per-block scale in [0.05, 50), plus an offset in
/// half of them (which Q4_1's min must absorb). Scales stay where f16 is normal, so the bounds
/// below only need f16's relative rounding error.
fn legacy_blocks(seed: u64, n_blocks: usize) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n_blocks * 32);
    for b in 0..n_blocks {
        let scale = 0.05 * 1000f32.powf(rng.uniform());
        let offset = if b % 2 == 0 {
            rng.range(-3.0, 3.0) * scale
        } else {
            0.0
        };
        x.extend(gaussian(&mut rng, 32).iter().map(|v| v * scale + offset));
    }
    x
}

/// f16's relative rounding error for normal values: half an ulp, 2⁻¹¹.
const F16_REL: f32 = 1.0 / 2048.0;

/// Slack for the f32 arithmetic of the bound itself (a few ulps of the block's magnitude).
const F32_SLACK: f32 = 1e-6;

/// Per-element round-trip bounds of the legacy formats, from their definitions:
/// - Q8_0: `q = round(x/d)`, so `|x − q·d| ≤ d/2`, plus `|q| ≤ 127` times the f16 rounding of d.
/// - Q4_0, Q5_0: `d = max/−levels` maps the largest weight exactly; weights rounded to a level are
///   within d/2, plus up to `levels` times d's f16 rounding. The one exception is a weight of the
///   opposite sign near `−max`: level `+levels` does not exist and it clamps to `levels − 1`,
///   an error of up to a whole d.
/// - Q4_1: `d = (max − min)/15`, within d/2 plus 15 times d's f16 rounding plus the f16 rounding of
///   the stored min.
#[test]
fn legacy_round_trip_error_is_within_half_a_step() {
    let x = legacy_blocks(7, 2048);
    for dtype in [DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_1] {
        let bytes = dtype.encode(&x);
        let mut y = vec![0.0f32; x.len()];
        dtype.decode_into(&bytes, &mut y);
        let mut worst = (0.0f32, 0usize);
        for (b, (xs, ys)) in x.chunks_exact(32).zip(y.chunks_exact(32)).enumerate() {
            let amax = xs.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let max = xs.iter().copied().fold(f32::MIN, f32::max);
            let min = xs.iter().copied().fold(f32::MAX, f32::min);
            let (d, levels) = match dtype {
                DType::Q8_0 => (amax / 127.0, 127.0),
                DType::Q4_0 => (amax / 8.0, 8.0),
                DType::Q5_0 => (amax / 16.0, 16.0),
                _ => ((max - min) / 15.0, 15.0),
            };
            for (i, (&xv, &yv)) in xs.iter().zip(ys).enumerate() {
                let clamped = matches!(dtype, DType::Q4_0 | DType::Q5_0)
                    && (xv / d).abs() > levels - 0.5
                    && xv.abs() != amax;
                let step = if clamped { 1.0 } else { 0.5 };
                let min_f16 = if dtype == DType::Q4_1 {
                    min.abs() * F16_REL
                } else {
                    0.0
                };
                let bound = d * (step + levels * F16_REL) + min_f16 + F32_SLACK * amax;
                let err = (xv - yv).abs();
                assert!(
                    err <= bound,
                    "{dtype} block {b} element {i}: x {xv}, got {yv}, error {err} > bound {bound} (d {d})"
                );
                if err / d > worst.0 {
                    worst = (err / d, b);
                }
            }
        }
        println!(
            "{dtype}: worst round-trip error {:.3} d (block {})",
            worst.0, worst.1
        );
    }
}

/// A naive quantizer of the K-quant layouts, written from the format definitions only: each
/// sub-block's scale and min from its min/max (Q6_K: its signed max-abs, as Q4_0), the 6-bit
/// (Q6_K: 8-bit) sub-block scales rounded relative to the largest, stored in f16 like the real
/// thing, and each weight rounded to the nearest level. It is what `make_qkx2_quants` and
/// `make_qx_quants` start from before their searches, so the gap below is what the search buys.
/// Returns the dequantized values of one 256-weight block.
fn naive_k_quant(dtype: DType, x: &[f32]) -> Vec<f32> {
    let f16 = |v: f32| half::f16::from_f32(v).to_f32();
    let round = |v: f32| v.round_ties_even();
    if dtype == DType::Q6K {
        // w = d·sc·(q − 32), sc: i8, q − 32 in [−32, 31]
        let scales: Vec<f32> = x
            .chunks_exact(16)
            .map(|s| {
                let max = s
                    .iter()
                    .copied()
                    .fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m });
                max / -32.0
            })
            .collect();
        let max_scale = scales
            .iter()
            .copied()
            .fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m });
        if max_scale == 0.0 {
            return vec![0.0; 256];
        }
        let d = f16(max_scale / -128.0);
        let mut y = Vec::with_capacity(256);
        for (s, xs) in scales.iter().zip(x.chunks_exact(16)) {
            let sc = round(s / (max_scale / -128.0)).clamp(-128.0, 127.0);
            let ds = d * sc;
            y.extend(xs.iter().map(|&v| {
                let q = if ds == 0.0 {
                    0.0
                } else {
                    round(v / ds).clamp(-32.0, 31.0)
                };
                ds * q
            }));
        }
        return y;
    }
    // Q4_K / Q5_K: w = d·sc·q − dmin·m, q in [0, nmax], sc and m 6-bit, offset −dmin·m ≤ 0
    let nmax = if dtype == DType::Q4K { 15.0 } else { 31.0 };
    let (scales, mins): (Vec<f32>, Vec<f32>) = x
        .chunks_exact(32)
        .map(|s| {
            let min = s.iter().copied().fold(0.0f32, f32::min);
            let max = s.iter().copied().fold(f32::MIN, f32::max);
            ((max - min) / nmax, -min)
        })
        .unzip();
    let max_scale = scales.iter().copied().fold(0.0f32, f32::max);
    let max_min = mins.iter().copied().fold(0.0f32, f32::max);
    let (d, dmin) = (f16(max_scale / 63.0), f16(max_min / 63.0));
    let six_bit = |v: f32, max: f32| {
        if max > 0.0 {
            round(v / max * 63.0).min(63.0)
        } else {
            0.0
        }
    };
    let mut y = Vec::with_capacity(256);
    for ((&s, &m), xs) in scales.iter().zip(&mins).zip(x.chunks_exact(32)) {
        let (ds, dm) = (d * six_bit(s, max_scale), dmin * six_bit(m, max_min));
        y.extend(xs.iter().map(|&v| {
            let q = if ds == 0.0 {
                0.0
            } else {
                round((v + dm) / ds).clamp(0.0, nmax)
            };
            ds * q - dm
        }));
    }
    y
}

fn rmse(x: &[f32], y: &[f32]) -> f64 {
    let se: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
        .sum();
    (se / x.len() as f64).sqrt()
}

/// Rows × columns of the search-quality benchmark: a 4096-wide weight matrix, as Mistral-7B's.
const ROWS: usize = 256;
const COLS: usize = 4096;

/// How much each search must cut the naive quantizer's RMSE. Measured on the seeded N(0, 1)
/// matrix below (the printed table): Q4_K 9.0%, Q5_K 5.4%, Q6_K 5.6%. The inputs are seeded and
/// the arithmetic exact, so the numbers do not move; the thresholds sit about a quarter below them
/// and fail if a search silently stops improving on its starting point.
const MIN_SEARCH_GAIN: [(DType, f64); 3] =
    [(DType::Q4K, 0.07), (DType::Q5K, 0.04), (DType::Q6K, 0.04)];

/// Per-block RMSE bound of the K-quants, as a fraction of the block's quantization step
/// (`range / nmax`, Q6_K: `amax / 32`). Uniform rounding error alone is `step/√12 ≈ 0.29 step`;
/// the 6-bit sub-block scales add a little. Measured worst over the benchmark: printed below.
const K_RMSE_PER_STEP: f64 = 0.4;

#[test]
fn k_quant_search_beats_naive_min_max() {
    let mut rng = Rng::new(42);
    let x = gaussian(&mut rng, ROWS * COLS);
    println!("format  bits/w  RMSE (llama.cpp ref)  RMSE (naive min/max)  gain");
    for (dtype, min_gain) in MIN_SEARCH_GAIN {
        let bytes = dtype.encode(&x);
        let mut y = vec![0.0f32; x.len()];
        dtype.decode_into(&bytes, &mut y);
        let naive: Vec<f32> = x
            .chunks_exact(256)
            .flat_map(|b| naive_k_quant(dtype, b))
            .collect();
        let (ours, base) = (rmse(&x, &y), rmse(&x, &naive));
        let gain = 1.0 - ours / base;
        println!(
            "{dtype:<6}  {:<6}  {ours:<20.6}  {base:<20.6}  {:.1}%",
            dtype.bits_per_weight(),
            100.0 * gain
        );
        assert!(
            gain >= min_gain,
            "{dtype}: search RMSE {ours} vs naive {base}: gain {gain:.3} < {min_gain}"
        );

        let nmax = match dtype {
            DType::Q4K => 15.0,
            DType::Q5K => 31.0,
            _ => 0.0,
        };
        let mut worst = 0.0f64;
        for (xs, ys) in x.chunks_exact(256).zip(y.chunks_exact(256)) {
            let step = if dtype == DType::Q6K {
                xs.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64 / 32.0
            } else {
                let max = xs.iter().copied().fold(f32::MIN, f32::max) as f64;
                let min = xs.iter().copied().fold(f32::MAX, f32::min).min(0.0) as f64;
                (max - min) / nmax
            };
            worst = worst.max(rmse(xs, ys) / step);
        }
        println!("{dtype}: worst block RMSE {worst:.3} step");
        assert!(
            worst <= K_RMSE_PER_STEP,
            "{dtype}: block RMSE {worst:.3} step > {K_RMSE_PER_STEP}"
        );
    }
}
