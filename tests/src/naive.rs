//! Naive twins of the ops: direct transcriptions of the semantics in `mistral_core::Backend`,
//! accumulating in f64, with no blocking, threading or online softmax. They are the independent
//! reference the CPU backend is tested against.

use mistral_core::cases::{Case, Inputs, Op};

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// The expected output of a case (argmax ids as f32), computed naively.
pub fn run(case: &Case, inp: &Inputs) -> Vec<f32> {
    match case.op {
        Op::Embedding { hidden, .. } => {
            let table = inp.f32(0);
            inp.tokens
                .iter()
                .flat_map(|&t| table[t as usize * hidden..(t as usize + 1) * hidden].to_vec())
                .collect()
        }
        Op::RmsNorm { dim, .. } => rms_norm(&inp.f32(0), &inp.f32(1), dim),
        Op::AddRmsNorm { dim, .. } => {
            let res: Vec<f32> = inp
                .f32(0)
                .iter()
                .zip(inp.f32(1))
                .map(|(a, b)| a + b)
                .collect();
            let mut out = res.clone();
            out.extend(rms_norm(&res, &inp.f32(2), dim));
            out
        }
        Op::Matmul { p, .. } => {
            let (x, w) = (inp.f32(0), inp.f32(1));
            let mut y = Vec::with_capacity(p.m * p.n);
            for i in 0..p.m {
                let xr = &x[(p.x_row + i) * p.k..(p.x_row + i + 1) * p.k];
                for j in 0..p.n {
                    y.push(dot64(xr, &w[j * p.k..(j + 1) * p.k]) as f32);
                }
            }
            y
        }
        Op::MatmulMulti { m, ns, k, .. } => {
            let x = inp.f32(0);
            let mut y = Vec::new();
            for (i, &n) in ns.iter().enumerate() {
                let w = inp.f32(1 + i);
                for r in 0..m {
                    for j in 0..n {
                        y.push(dot64(&x[r * k..(r + 1) * k], &w[j * k..(j + 1) * k]) as f32);
                    }
                }
            }
            y
        }
        Op::GateUpSwiglu { p, .. } => {
            let (x, wg, wu) = (inp.f32(0), inp.f32(1), inp.f32(2));
            let mut y = Vec::with_capacity(p.m * p.n);
            for r in 0..p.m {
                let xr = &x[r * p.k..(r + 1) * p.k];
                for j in 0..p.n {
                    let g = dot64(xr, &wg[j * p.k..(j + 1) * p.k]);
                    let u = dot64(xr, &wu[j * p.k..(j + 1) * p.k]);
                    y.push((g / (1.0 + (-g).exp()) * u) as f32);
                }
            }
            y
        }
        Op::Rope { p } => {
            let mut x = inp.f32(0);
            let half = p.head_dim / 2;
            for r in 0..p.rows {
                for h in 0..p.heads {
                    let base = (r * p.heads + h) * p.head_dim;
                    for i in 0..half {
                        // The angle is formed in f32 (as Hugging Face does), its cos/sin in f64.
                        let inv = 1.0f32 / p.theta.powf((2 * i) as f32 / p.head_dim as f32);
                        let angle = ((p.start_pos + r) as f32 * inv) as f64;
                        let (a, b) = (x[base + i] as f64, x[base + i + half] as f64);
                        x[base + i] = (a * angle.cos() - b * angle.sin()) as f32;
                        x[base + i + half] = (b * angle.cos() + a * angle.sin()) as f32;
                    }
                }
            }
            x
        }
        // The cache inputs hold values already rounded to the case's cache dtype.
        Op::Attention { p, .. } => {
            let (q, kn, vn, kc, vc) = (inp.f32(0), inp.f32(1), inp.f32(2), inp.f32(3), inp.f32(4));
            let d = p.head_dim;
            let kv_row = p.n_kv_heads * d;
            // Key/value row of absolute position j, from the block or the rolling cache.
            let row = |j: usize, new: &[f32], cache: &[f32]| -> Vec<f32> {
                if j >= p.start_pos {
                    new[(j - p.start_pos) * kv_row..(j - p.start_pos + 1) * kv_row].to_vec()
                } else {
                    cache[(j % p.slots) * kv_row..(j % p.slots + 1) * kv_row].to_vec()
                }
            };
            let mut out = vec![0.0f32; p.n * p.n_heads * d];
            for t in 0..p.n {
                let i = p.start_pos + t;
                for h in 0..p.n_heads {
                    let g = h / (p.n_heads / p.n_kv_heads);
                    let qv = &q[(t * p.n_heads + h) * d..(t * p.n_heads + h + 1) * d];
                    // Mask: i - W < j <= i.
                    let keys: Vec<usize> = (0..=i).filter(|&j| j + p.window > i).collect();
                    let scores: Vec<f64> = keys
                        .iter()
                        .map(|&j| {
                            dot64(qv, &row(j, &kn, &kc)[g * d..(g + 1) * d]) / (d as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    for c in 0..d {
                        let v: f64 = keys
                            .iter()
                            .zip(&e)
                            .map(|(&j, w)| w / sum * row(j, &vn, &vc)[g * d + c] as f64)
                            .sum();
                        out[(t * p.n_heads + h) * d + c] = v as f32;
                    }
                }
            }
            out
        }
        Op::Swiglu { .. } => inp
            .f32(0)
            .iter()
            .zip(inp.f32(1))
            .map(|(&g, u)| (g as f64 / (1.0 + (-(g as f64)).exp()) * u as f64) as f32)
            .collect(),
        Op::Add { .. } => inp
            .f32(0)
            .iter()
            .zip(inp.f32(1))
            .map(|(a, b)| a + b)
            .collect(),
        // Each value rounded to the destination's dtype (to nearest even).
        Op::Copy { p, dst: dtype, .. } => {
            let (src, mut dst) = (inp.f32(0), inp.f32(1));
            for (d, s) in dst[p.dst_offset..p.dst_offset + p.len]
                .iter_mut()
                .zip(&src[p.src_offset..p.src_offset + p.len])
            {
                *d = dtype.round(*s);
            }
            dst
        }
        Op::Argmax { cols, .. } => inp
            .f32(0)
            .chunks(cols)
            .map(|r| {
                let max = r.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                r.iter().position(|&v| v == max).unwrap() as f32
            })
            .collect(),
    }
}

fn rms_norm(x: &[f32], w: &[f32], dim: usize) -> Vec<f32> {
    x.chunks(dim)
        .flat_map(|r| {
            let inv = 1.0 / (dot64(r, r) / dim as f64 + 1e-5).sqrt();
            r.iter()
                .zip(w)
                .map(move |(v, w)| (*v as f64 * inv * *w as f64) as f32)
        })
        .collect()
}
