//! Every case of the shared parity table (plus wgpu-specific sizes) on wgpu against the CPU
//! reference, in each configuration of `common::configs`. Tolerances are the table's
//! (`Case::tolerance`, justified there); a failure prints the case, seed and error statistics.

mod common;

use mistral_core::cases::{parity_cases, Case, Op};
use mistral_core::ops::{AttentionParams, MatmulParams};
use mistral_core::testutil::compare;
use mistral_core::DType;
use mistral_cpu::CpuBackend;

/// Sizes around the wgpu tiles (GEMV 4 rows x 8-element chunks, 64x64x16 tiles, 128-key attention
/// tiles, 256-wide reductions, 64-row prefill attention tiles), weights big enough to split under the "split" config, and decode
/// with a long cache (split-K by default settings too).
fn wgpu_cases() -> Vec<Case> {
    let mut ops = Vec::new();
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        for (m, n, k) in [
            (1, 300, 64),
            (1, 5, 8),
            (1, 130, 36),
            (65, 129, 72),
            (2, 300, 40),
            (64, 64, 16),
        ] {
            ops.push(Op::Matmul {
                p: MatmulParams::new(m, n, k),
                dtype,
            });
        }
        ops.push(Op::Embedding {
            vocab: 1000,
            hidden: 33,
            tokens: 9,
            dtype,
        });
    }
    ops.extend(quantized_ops());
    ops.push(Op::RmsNorm {
        rows: 2,
        dim: 257,
        dtype: DType::BF16,
    });
    ops.push(Op::AddRmsNorm { rows: 3, dim: 4096 });
    ops.push(Op::Argmax { rows: 2, cols: 257 });
    // Decode against a long cache: 300 keys > one 256-key split and > one 128-key tile.
    let attn = |n, start_pos, window, slots| Op::Attention {
        p: AttentionParams {
            n,
            start_pos,
            n_heads: 8,
            n_kv_heads: 2,
            head_dim: 128,
            window,
            slots,
        },
        kv: DType::F32,
    };
    ops.push(attn(1, 299, 300, 300));
    ops.push(attn(1, 700, 300, 300));
    ops.push(attn(3, 130, 200, 200));
    // Prefill blocks for the query-tiled kernel (64 (query, head) rows per workgroup: 16 queries at
    // GQA 4, 64 at GQA 1, 21.3 at GQA 3; 16-key tiles): n off the tile sizes, n > slots, cached keys
    // (start_pos > 0), windows below and above the queries per tile, head_dim 64 and 128, the
    // smallest prefill block (8), an unbounded window, and head_dim 130 (fallback kernel).
    for (n, start_pos, n_heads, n_kv_heads, head_dim, window, slots) in [
        (15, 0, 8, 2, 128, 8, 8),
        (17, 9, 8, 2, 128, 40, 40),
        (33, 100, 4, 1, 64, 24, 24),
        (70, 37, 4, 4, 64, 50, 50),
        (70, 0, 6, 2, 128, 100, 100),
        (8, 3, 8, 2, 128, 5, 5),
        (20, 5, 4, 2, 64, 1 << 40, 5),
        (9, 2, 2, 1, 130, 8, 8),
    ] {
        ops.push(Op::Attention {
            p: AttentionParams {
                n,
                start_pos,
                n_heads,
                n_kv_heads,
                head_dim,
                window,
                slots,
            },
            kv: DType::F32,
        });
    }
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| Case {
            op,
            seed: 5000 + i as u64,
        })
        .collect()
}

/// Every block format beyond the shared table's sizes: one block per row (k = block), decode from
/// an x row past the first, 300 rows of 512 (several GEMV workgroups, and split into 5 to 8 parts
/// under the "split" config), a prefill over two 64-row tiles each way, the fused gate/up SwiGLU
/// in decode, and a 1000-row table (split too).
fn quantized_ops() -> Vec<Op> {
    let mut ops = Vec::new();
    for dtype in DType::QUANTIZED {
        let block = dtype.block_elems();
        for p in [
            MatmulParams::new(1, 5, block),
            MatmulParams {
                m: 1,
                n: 7,
                k: block,
                x_row: 3,
            },
            MatmulParams::new(1, 300, 512),
            MatmulParams::new(65, 129, 512),
        ] {
            ops.push(Op::Matmul { p, dtype });
        }
        ops.push(Op::GateUpSwiglu {
            p: MatmulParams::new(1, 70, 256),
            dtype,
        });
        ops.push(Op::Embedding {
            vocab: 1000,
            hidden: 256,
            tokens: 9,
            dtype,
        });
    }
    ops
}

#[test]
fn every_op_matches_the_cpu_reference_in_every_config() {
    let cpu = CpuBackend::new();
    let cases: Vec<Case> = parity_cases().into_iter().chain(wgpu_cases()).collect();
    let want: Vec<Vec<f32>> = cases
        .iter()
        .map(|c| {
            c.run(&cpu, &c.inputs())
                .unwrap_or_else(|e| panic!("cpu {c}: {e}"))
        })
        .collect();
    let mut failures = Vec::new();
    for (name, opts) in common::configs() {
        let Some(gpu) = common::backend(opts) else {
            return;
        };
        eprintln!(
            "{name}: {} (f16 storage {}, subgroups {})",
            mistral_core::Backend::name(&gpu),
            gpu.uses_f16(),
            gpu.uses_subgroups()
        );
        for (case, want) in cases.iter().zip(&want) {
            let what = format!("[{name}] {case}");
            match case.run(&gpu, &case.inputs()) {
                Ok(got) => {
                    if let Err(e) = compare(&what, &got, want, case.tolerance()) {
                        failures.push(e);
                    }
                }
                Err(e) => failures.push(format!("{what}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} cases x {} configs pass",
        cases.len(),
        common::configs().len()
    );
}

/// The "split" config really splits: a [1000, 33] bf16 table over a 16 KiB limit is 5 buffers, a
/// Q4_K weight splits by whole rows and reads back as its blocks, and a row longer than the limit is
/// a clear error rather than a panic.
#[test]
fn weights_past_the_binding_limit_are_split_by_rows() {
    use mistral_core::{Backend, HostTensor};
    let Some(gpu) = common::backend(common::configs().remove(2).1) else {
        return;
    };
    let t = HostTensor::from_f32(vec![1000, 33], &vec![0.5; 33000], DType::BF16);
    let w = gpu.upload(&t).unwrap();
    assert_eq!(
        w.parts(),
        (66000usize).div_ceil(common::SPLIT_BINDING as usize / 66 * 66)
    );
    assert_eq!(gpu.download_f32(&w).unwrap(), vec![0.5; 33000]);
    // A block-quantized weight splits by whole rows: 288-byte Q4_K rows, 56 to a 16 KiB part.
    let values: Vec<f32> = (0..300 * 512)
        .map(|i| ((i % 97) as f32 - 48.0) / 64.0)
        .collect();
    let q = HostTensor::from_f32(vec![300, 512], &values, DType::Q4K);
    let w = gpu.upload(&q).unwrap();
    assert_eq!(
        w.parts(),
        300usize.div_ceil(common::SPLIT_BINDING as usize / 288)
    );
    assert_eq!(gpu.download_f32(&w).unwrap(), q.to_f32());
    let wide = HostTensor::from_f32(vec![2, 8192], &vec![0.0; 16384], DType::F32);
    let err = gpu.upload(&wide).unwrap_err().to_string();
    assert!(err.contains("binding limit"), "{err}");
}
