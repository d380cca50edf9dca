//! The parity case table: one list of op cases that every backend is checked against the CPU
//! reference with, and that the kernel benchmarks time. Each case prints its parameters and seed.

use std::fmt;

use crate::ops::{
    AttentionParams, CopyParams, MatmulParams, Projection, RmsNormParams, RopeParams,
};
use crate::testutil::{Rng, Tolerance};
use crate::{Backend, DType, HostTensor, Result};

/// One op with its sizes.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Embedding {
        vocab: usize,
        hidden: usize,
        tokens: usize,
        dtype: DType,
    },
    RmsNorm {
        rows: usize,
        dim: usize,
        dtype: DType,
    },
    AddRmsNorm {
        rows: usize,
        dim: usize,
    },
    Matmul {
        p: MatmulParams,
        dtype: DType,
    },
    /// q, k and v style: one x through three weights of `ns` rows each.
    MatmulMulti {
        m: usize,
        ns: [usize; 3],
        k: usize,
        dtype: DType,
    },
    /// `silu(x · w_gateᵀ) * (x · w_upᵀ)`.
    GateUpSwiglu {
        p: MatmulParams,
        dtype: DType,
    },
    Rope {
        p: RopeParams,
    },
    /// `kv`: the dtype the cache is stored in (f32, f16 or bf16); its values are generated
    /// already rounded to it, so every side reads the same numbers.
    Attention {
        p: AttentionParams,
        kv: DType,
    },
    Swiglu {
        len: usize,
    },
    Add {
        len: usize,
    },
    /// f32 `src` into a `dst` of dtype `dst` (a KV-cache write, rounded to nearest even).
    Copy {
        p: CopyParams,
        src_len: usize,
        dst_len: usize,
        dst: DType,
    },
    Argmax {
        rows: usize,
        cols: usize,
    },
}

/// A named, seeded op case.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub op: Op,
    pub seed: u64,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} seed={}", self.op, self.seed)
    }
}

/// Seeded inputs of a case, on the host.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub tensors: Vec<HostTensor>,
    pub tokens: Vec<u32>,
}

impl Inputs {
    /// Input `i` widened to f32.
    pub fn f32(&self, i: usize) -> Vec<f32> {
        self.tensors[i].to_f32()
    }
}

fn rounded(rng: &mut Rng, shape: Vec<usize>, lo: f32, hi: f32, dtype: DType) -> HostTensor {
    let n = shape.iter().product();
    HostTensor::from_f32(shape, &rng.vec(n, lo, hi), dtype)
}

fn f32s(rng: &mut Rng, n: usize, lo: f32, hi: f32) -> HostTensor {
    rounded(rng, vec![n], lo, hi, DType::F32)
}

/// f32 values already rounded to `dtype` (the contents of a KV cache stored in it), so the f32
/// input and the stored buffer hold the same numbers.
fn stored(rng: &mut Rng, n: usize, lo: f32, hi: f32, dtype: DType) -> HostTensor {
    let v: Vec<f32> = rng
        .vec(n, lo, hi)
        .into_iter()
        .map(|x| dtype.round(x))
        .collect();
    HostTensor::from_f32(vec![n], &v, DType::F32)
}

/// Uploads f32 input `t` into a new `dtype` buffer through [`Backend::copy`], as the model fills
/// its KV cache.
fn upload_as<B: Backend>(b: &B, t: &HostTensor, dtype: DType) -> Result<B::Tensor> {
    let len = t.numel();
    let mut out = b.zeros_dtype(len, dtype)?;
    let p = CopyParams {
        src_offset: 0,
        dst_offset: 0,
        len,
    };
    b.copy(&b.upload(t)?, &mut out, &p)?;
    Ok(out)
}

impl Case {
    /// The case's inputs, generated from its seed. Value ranges are chosen per op so that results
    /// are well-conditioned (e.g. SwiGLU gates cover both tails of the sigmoid).
    pub fn inputs(&self) -> Inputs {
        let mut rng = Rng::new(self.seed);
        let mut tokens = Vec::new();
        let tensors = match self.op {
            Op::Embedding {
                vocab,
                hidden,
                tokens: t,
                dtype,
            } => {
                tokens = (0..t).map(|_| rng.below(vocab as u64) as u32).collect();
                vec![rounded(&mut rng, vec![vocab, hidden], -1.0, 1.0, dtype)]
            }
            Op::RmsNorm { rows, dim, dtype } => vec![
                f32s(&mut rng, rows * dim, -2.0, 2.0),
                rounded(&mut rng, vec![dim], 0.5, 1.5, dtype),
            ],
            Op::AddRmsNorm { rows, dim } => vec![
                f32s(&mut rng, rows * dim, -2.0, 2.0),
                f32s(&mut rng, rows * dim, -2.0, 2.0),
                f32s(&mut rng, dim, 0.5, 1.5),
            ],
            Op::Matmul { p, dtype } => vec![
                f32s(&mut rng, (p.x_row + p.m) * p.k, -1.0, 1.0),
                rounded(&mut rng, vec![p.n, p.k], -0.5, 0.5, dtype),
            ],
            Op::MatmulMulti { m, ns, k, dtype } => {
                let mut t = vec![f32s(&mut rng, m * k, -1.0, 1.0)];
                for n in ns {
                    t.push(rounded(&mut rng, vec![n, k], -0.5, 0.5, dtype));
                }
                t
            }
            // Gates of either sign and size, so both tails of the sigmoid are exercised.
            Op::GateUpSwiglu { p, dtype } => vec![
                f32s(&mut rng, p.m * p.k, -1.0, 1.0),
                rounded(&mut rng, vec![p.n, p.k], -0.5, 0.5, dtype),
                rounded(&mut rng, vec![p.n, p.k], -0.5, 0.5, dtype),
            ],
            Op::Rope { p } => vec![f32s(&mut rng, p.rows * p.heads * p.head_dim, -2.0, 2.0)],
            Op::Attention { p, kv: cache } => {
                let kv = p.n_kv_heads * p.head_dim;
                vec![
                    f32s(&mut rng, p.n * p.n_heads * p.head_dim, -1.5, 1.5),
                    f32s(&mut rng, p.n * kv, -1.5, 1.5),
                    f32s(&mut rng, p.n * kv, -1.0, 1.0),
                    stored(&mut rng, p.slots * kv, -1.5, 1.5, cache),
                    stored(&mut rng, p.slots * kv, -1.0, 1.0, cache),
                ]
            }
            Op::Swiglu { len } => vec![
                f32s(&mut rng, len, -8.0, 8.0),
                f32s(&mut rng, len, -2.0, 2.0),
            ],
            Op::Add { len } => vec![
                f32s(&mut rng, len, -2.0, 2.0),
                f32s(&mut rng, len, -2.0, 2.0),
            ],
            Op::Copy {
                src_len,
                dst_len,
                dst,
                ..
            } => {
                let mut src = rng.vec(src_len, -1.0, 1.0);
                if dst != DType::F32 {
                    // Magnitudes 2^-30 .. 2^15: f16's subnormals, values that round to zero and
                    // its top binade, besides ordinary ones (bf16 keeps f32's range).
                    for (i, v) in src.iter_mut().enumerate() {
                        *v *= ((i % 46) as f32 - 30.0).exp2();
                    }
                }
                vec![
                    HostTensor::from_f32(vec![src_len], &src, DType::F32),
                    stored(&mut rng, dst_len, -1.0, 1.0, dst),
                ]
            }
            Op::Argmax { rows, cols } => vec![f32s(&mut rng, rows * cols, -4.0, 4.0)],
        };
        Inputs { tensors, tokens }
    }

    /// The dtype of the case's weight, for the ops that take one.
    pub fn weight_dtype(&self) -> Option<DType> {
        match self.op {
            Op::Embedding { dtype, .. }
            | Op::RmsNorm { dtype, .. }
            | Op::Matmul { dtype, .. }
            | Op::MatmulMulti { dtype, .. }
            | Op::GateUpSwiglu { dtype, .. } => Some(dtype),
            _ => None,
        }
    }

    /// Tolerance for a GPU backend against the CPU reference. Both accumulate in f32 in a different
    /// order, so the error grows like sqrt(terms) · eps32 · |values|; bounds leave ~10x headroom
    /// over that estimate. Weight dtype does not matter: both sides widen the same stored values.
    pub fn tolerance(&self) -> Tolerance {
        match self.op {
            // Pure data movement and exact elementwise ops.
            Op::Embedding { .. } | Op::Copy { .. } | Op::Argmax { .. } | Op::Add { .. } => {
                Tolerance::abs(0.0)
            }
            // One sum of `dim` squares; outputs are O(2).
            Op::RmsNorm { .. } | Op::AddRmsNorm { .. } => Tolerance {
                abs: 1e-5,
                rel: 1e-5,
                nmse: 1e-10,
            },
            // exp() may differ by an ulp or two between libms.
            Op::Swiglu { .. } => Tolerance {
                abs: 1e-5,
                rel: 1e-5,
                nmse: 1e-10,
            },
            // cos/sin of angles up to ~8192 rad: GPU fast-math trig is accurate to ~1e-6 absolute.
            Op::Rope { .. } => Tolerance {
                abs: 1e-4,
                rel: 0.0,
                nmse: 1e-9,
            },
            // k terms of |x·w| <= 0.5: sqrt(k) · 6e-8 · 0.5·k/4 stays below 1e-4 for k <= 16384.
            // SwiGLU multiplies two such sums, |silu(g)| <= |g| + 0.3: the same relative bound.
            Op::Matmul { .. } | Op::MatmulMulti { .. } | Op::GateUpSwiglu { .. } => Tolerance {
                abs: 2e-4,
                rel: 1e-4,
                nmse: 1e-9,
            },
            // Online vs two-pass softmax, scores O(10): outputs are convex combinations of |v| <= 1.
            Op::Attention { .. } => Tolerance {
                abs: 1e-4,
                rel: 0.0,
                nmse: 1e-9,
            },
        }
    }

    /// Runs the case on a backend and returns its output widened to f32 (argmax ids as f32).
    pub fn run<B: Backend>(&self, b: &B, inputs: &Inputs) -> Result<Vec<f32>> {
        let up = |i: usize| b.upload(&inputs.tensors[i]);
        match self.op {
            Op::Embedding { hidden, tokens, .. } => {
                let mut out = b.zeros(tokens * hidden)?;
                b.embedding(&up(0)?, &inputs.tokens, hidden, &mut out)?;
                b.download_f32(&out)
            }
            Op::RmsNorm { rows, dim, .. } => {
                let mut out = b.zeros(rows * dim)?;
                b.rms_norm(
                    &up(0)?,
                    &up(1)?,
                    &mut out,
                    &RmsNormParams {
                        rows,
                        dim,
                        eps: 1e-5,
                    },
                )?;
                b.download_f32(&out)
            }
            Op::AddRmsNorm { rows, dim } => {
                let (mut res, mut out) = (up(0)?, b.zeros(rows * dim)?);
                b.add_rms_norm(
                    &mut res,
                    &up(1)?,
                    &up(2)?,
                    &mut out,
                    &RmsNormParams {
                        rows,
                        dim,
                        eps: 1e-5,
                    },
                )?;
                let mut both = b.download_f32(&res)?;
                both.extend(b.download_f32(&out)?);
                Ok(both)
            }
            Op::Matmul { p, .. } => {
                let mut y = b.zeros(p.m * p.n)?;
                b.matmul(&up(0)?, &up(1)?, &mut y, &p)?;
                b.download_f32(&y)
            }
            Op::MatmulMulti { m, ns, k, .. } => {
                let (x, w) = (up(0)?, [up(1)?, up(2)?, up(3)?]);
                let mut ys = [
                    b.zeros(m * ns[0])?,
                    b.zeros(m * ns[1])?,
                    b.zeros(m * ns[2])?,
                ];
                let mut outs: Vec<_> = ys
                    .iter_mut()
                    .zip(&w)
                    .zip(ns)
                    .map(|((y, w), n)| Projection { w, y, n })
                    .collect();
                b.matmul_multi(&x, &mut outs, m, k)?;
                let mut all = Vec::new();
                for y in &ys {
                    all.extend(b.download_f32(y)?);
                }
                Ok(all)
            }
            Op::GateUpSwiglu { p, .. } => {
                let len = p.m * p.n;
                let (mut gate, mut upv, mut out) = (b.zeros(len)?, b.zeros(len)?, b.zeros(len)?);
                b.gate_up_swiglu(&up(0)?, &up(1)?, &up(2)?, &mut gate, &mut upv, &mut out, &p)?;
                b.download_f32(&out)
            }
            Op::Rope { p } => {
                let mut x = up(0)?;
                b.rope(&mut x, &p)?;
                b.download_f32(&x)
            }
            Op::Attention { p, kv } => {
                let mut out = b.zeros(p.n * p.n_heads * p.head_dim)?;
                let k_cache = upload_as(b, &inputs.tensors[3], kv)?;
                let v_cache = upload_as(b, &inputs.tensors[4], kv)?;
                b.attention(&up(0)?, &up(1)?, &up(2)?, &k_cache, &v_cache, &mut out, &p)?;
                b.download_f32(&out)
            }
            Op::Swiglu { len } => {
                let mut out = b.zeros(len)?;
                b.swiglu(&up(0)?, &up(1)?, &mut out, len)?;
                b.download_f32(&out)
            }
            Op::Add { len } => {
                let mut x = up(0)?;
                b.add(&mut x, &up(1)?, len)?;
                b.download_f32(&x)
            }
            Op::Copy { p, dst, .. } => {
                let mut out = upload_as(b, &inputs.tensors[1], dst)?;
                b.copy(&up(0)?, &mut out, &p)?;
                b.download_f32(&out)
            }
            Op::Argmax { rows, cols } => Ok(b
                .argmax(&up(0)?, rows, cols)?
                .into_iter()
                .map(|i| i as f32)
                .collect()),
        }
    }
}

const DTYPES: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

fn attn(
    n: usize,
    start_pos: usize,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    window: usize,
) -> Op {
    Op::Attention {
        p: AttentionParams {
            n,
            start_pos,
            n_heads,
            n_kv_heads,
            head_dim,
            window,
            slots: window,
        },
        kv: DType::F32,
    }
}

/// `op` (an attention case) with its cache stored in `kv`.
fn with_kv(op: Op, kv: DType) -> Op {
    match op {
        Op::Attention { p, .. } => Op::Attention { p, kv },
        other => other,
    }
}

/// The KV cache in f16 and bf16: attention over a cache stored in each, on every kernel path of
/// the GPU backends (decode, split-K decode, SIMT and tensor-core prefill, a wrapped cache, long
/// blocks), and the rounding copy that writes it, with offsets off a 32-bit word and magnitudes
/// across f16's subnormal and top ranges. Tolerances are the f32 cache's: every side reads the
/// same stored values and widens them exactly.
fn kv_dtype_ops() -> Vec<Op> {
    let w = LONG_WINDOW;
    let mut ops = Vec::new();
    for kv in [DType::F16, DType::BF16] {
        for op in [
            attn(1, 29, 8, 2, 128, 8),
            attn(1, 300, 8, 2, 128, 256),
            attn(3, 500, 4, 1, 64, 300),
            attn(37, 100, 8, 2, 128, 40),
            attn(70, 0, 6, 2, 48, 50),
            attn(9, 30, 4, 4, 16, 24),
            attn(65, 2 * w + 13, 4, 2, 16, w),
            attn(257, 500, 4, 1, 128, w),
            attn(1, 3 * w + 37, 8, 2, 16, w),
        ] {
            ops.push(with_kv(op, kv));
        }
        for (src_offset, dst_offset, len) in [(3, 17, 33), (0, 0, 64), (5, 2, 1), (1, 7, 46)] {
            ops.push(Op::Copy {
                p: CopyParams {
                    src_offset,
                    dst_offset,
                    len,
                },
                src_len: 64,
                dst_len: 71,
                dst: kv,
            });
        }
    }
    ops
}

/// Prefill block lengths of the long-sequence cases: both sides of every row tile and chunk the
/// kernels use (32, 64, 128, 256) and a chat prompt with a system message (about 600 tokens).
pub const LONG_ROWS: [usize; 8] = [1, 31, 33, 64, 65, 129, 257, 600];

/// The window of the long attention cases: larger than any key or query tile (64), so a window
/// edge falls inside a tile, and small enough that 600 rows cross it several times.
pub const LONG_WINDOW: usize = 80;

/// Long in the sequence dimension only (hidden, head and vocab sizes stay tiny, so a software
/// Vulkan driver and the CUDA emulator stay fast): every op that iterates over rows or positions,
/// at each of [`LONG_ROWS`]; attention from an empty cache and from a wrapped one at non-zero
/// positions, with blocks longer than the window; decode past 2W and 3W.
fn long_sequence_ops() -> Vec<Op> {
    let mut ops = Vec::new();
    let w = LONG_WINDOW;
    for rows in LONG_ROWS {
        ops.push(Op::Embedding {
            vocab: 67,
            hidden: 33,
            tokens: rows,
            dtype: DType::BF16,
        });
        ops.push(Op::RmsNorm {
            rows,
            dim: 40,
            dtype: DType::BF16,
        });
        ops.push(Op::AddRmsNorm { rows, dim: 40 });
        ops.push(Op::Matmul {
            p: MatmulParams::new(rows, 40, 72),
            dtype: DType::BF16,
        });
        ops.push(Op::MatmulMulti {
            m: rows,
            ns: [32, 8, 8],
            k: 40,
            dtype: DType::F16,
        });
        ops.push(Op::GateUpSwiglu {
            p: MatmulParams::new(rows, 24, 40),
            dtype: DType::BF16,
        });
        // Positions far from the block start, so a row using another row's angle shows.
        ops.push(Op::Rope {
            p: RopeParams::new(rows, 2, 32, 7, 10000.0),
        });
        // From an empty cache; then continuing a wrapped cache at a non-zero position.
        ops.push(attn(rows, 0, 4, 1, 16, w));
        ops.push(attn(rows, 2 * w + 13, 4, 2, 16, w));
        ops.push(Op::Argmax { rows, cols: 300 });
    }
    // head_dim 128 (the real model's) at the long lengths that cross the most tiles.
    ops.push(Op::Rope {
        p: RopeParams::new(600, 1, 128, 4000, 10000.0),
    });
    ops.push(attn(257, 500, 4, 1, 128, w));
    ops.push(attn(600, 0, 2, 1, 128, 512));
    // Decode at and past 2W and 3W: the rolling cache has wrapped twice and three times.
    for pos in [2 * w - 1, 2 * w, 2 * w + 1, 3 * w - 1, 3 * w, 3 * w + 37] {
        ops.push(attn(1, pos, 8, 2, 16, w));
    }
    ops.push(attn(1, 3 * 300 + 11, 4, 1, 64, 300));
    ops
}

/// Matmul and embedding with block-quantized weights. Rows (`k`, `hidden`) are whole blocks:
/// 256 serves every format; 288 (9 blocks of 32) only the 32-element ones. Both sides of a
/// comparison dequantize the same blocks ([`crate::quant`], proven against the `gguf` package),
/// so the tolerances are the float weights'.
fn quantized_ops() -> Vec<Op> {
    let mut ops = Vec::new();
    for dtype in DType::QUANTIZED {
        let wide = if dtype.block_elems() == 32 { 288 } else { 512 };
        ops.push(Op::Embedding {
            vocab: 67,
            hidden: 256,
            tokens: 5,
            dtype,
        });
        for (m, n, k, x_row) in [
            (1, 17, 256, 0),
            (1, 64, wide, 0),
            (5, 33, 256, 2),
            (17, 70, wide, 0),
            (65, 40, 256, 0),
        ] {
            ops.push(Op::Matmul {
                p: MatmulParams { m, n, k, x_row },
                dtype,
            });
        }
        ops.push(Op::MatmulMulti {
            m: 1,
            ns: [64, 16, 16],
            k: 256,
            dtype,
        });
        ops.push(Op::GateUpSwiglu {
            p: MatmulParams::new(3, 24, 256),
            dtype,
        });
    }
    // A chat-length prompt through a K-quant weight.
    ops.push(Op::Matmul {
        p: MatmulParams::new(600, 24, 256),
        dtype: DType::Q4K,
    });
    ops
}

/// The parity table: small sizes that are not multiples of any tile (1, 17, 33, ...), decode
/// (one row) and prefill (many rows), GQA ratio 4, head_dim 128, KV lengths below, at and above a
/// small window, every weight dtype. Sizes stay small enough for a software Vulkan driver.
pub fn parity_cases() -> Vec<Case> {
    let mut ops = Vec::new();
    for dtype in DTYPES {
        ops.push(Op::Embedding {
            vocab: 67,
            hidden: 33,
            tokens: 5,
            dtype,
        });
        ops.push(Op::RmsNorm {
            rows: 3,
            dim: 4096,
            dtype,
        });
        for (m, n, k, x_row) in [
            (1, 17, 33, 0),
            (1, 96, 256, 0),
            (1, 64, 4096, 0),
            (5, 33, 130, 2),
            (17, 70, 96, 0),
            (64, 128, 256, 0),
        ] {
            ops.push(Op::Matmul {
                p: MatmulParams { m, n, k, x_row },
                dtype,
            });
        }
        // Decode's fused projections (one kernel on CUDA) and their prefill fallback; k = 130 is
        // not a multiple of any vector width.
        for (m, ns, k) in [
            (1, [64, 16, 16], 256),
            (1, [33, 17, 9], 130),
            (5, [40, 24, 24], 96),
        ] {
            ops.push(Op::MatmulMulti { m, ns, k, dtype });
        }
        for (m, n, k) in [(1, 70, 256), (1, 33, 130), (9, 48, 64)] {
            ops.push(Op::GateUpSwiglu {
                p: MatmulParams::new(m, n, k),
                dtype,
            });
        }
    }
    ops.push(Op::RmsNorm {
        rows: 17,
        dim: 33,
        dtype: DType::F32,
    });
    ops.push(Op::AddRmsNorm { rows: 5, dim: 130 });
    for (rows, heads, head_dim, start_pos) in [
        (1, 32, 128, 0),
        (1, 8, 128, 8191),
        (17, 4, 128, 5),
        (3, 3, 16, 4000),
    ] {
        ops.push(Op::Rope {
            p: RopeParams::new(rows, heads, head_dim, start_pos, 10000.0),
        });
    }
    // Window 8 with a cache of 8 slots: decode below / at / above the window, prefill from empty,
    // prefill continuing a cache, a prefill block longer than the window, and MHA (ratio 1).
    for (n, start_pos) in [
        (1, 3),
        (1, 7),
        (1, 8),
        (1, 29),
        (5, 0),
        (6, 5),
        (17, 0),
        (9, 20),
    ] {
        ops.push(attn(n, start_pos, 8, 2, 128, 8));
    }
    ops.push(attn(3, 2, 4, 4, 16, 8));
    ops.push(attn(1, 40, 32, 8, 128, 33));
    // Decode and a small block against hundreds of cached keys: several key tiles, and the split-K
    // (flash-decoding) paths of the GPU backends with their combine pass.
    ops.push(attn(1, 300, 8, 2, 128, 256));
    ops.push(attn(3, 500, 4, 1, 64, 300));
    // Edges of the query-tiled prefill kernels (CUDA tensor cores: 64 (query, head) rows and 32
    // keys per tile): three query tiles, the last partial, with a window of 40 that cuts key tiles
    // and a wrapped cache; GQA 3 (rows of a tile left over) with head_dim 48 and tiles of keys
    // wholly outside later queries' windows; MHA with head_dim 16; and a block after 300 cached
    // keys (nine key tiles).
    ops.push(attn(37, 100, 8, 2, 128, 40));
    ops.push(attn(70, 0, 6, 2, 48, 50));
    ops.push(attn(9, 30, 4, 4, 16, 24));
    ops.push(attn(20, 300, 8, 2, 128, 256));
    ops.extend(long_sequence_ops());
    ops.extend(quantized_ops());
    ops.extend(kv_dtype_ops());
    ops.push(Op::Swiglu { len: 1 });
    ops.push(Op::Swiglu { len: 14337 });
    ops.push(Op::Add { len: 4097 });
    ops.push(Op::Copy {
        p: CopyParams {
            src_offset: 3,
            dst_offset: 17,
            len: 33,
        },
        src_len: 40,
        dst_len: 64,
        dst: DType::F32,
    });
    ops.push(Op::Argmax {
        rows: 3,
        cols: 32000,
    });
    ops.push(Op::Argmax { rows: 1, cols: 17 });
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| Case {
            op,
            seed: 1000 + i as u64,
        })
        .collect()
}
