//! Block-quantized weights on wgpu beyond the parity table: partial blocks are refused with a typed
//! error naming format and backend, and the real SmolLM2-135M Q4_1 model (Q8_0 embeddings) gives
//! transformers' (and the CPU's) greedy answer.

mod common;

use std::time::Instant;

use mistral_core::ops::MatmulParams;
use mistral_core::{Backend, DType, Error, HostBytes, HostTensor};
use mistral_tests::fixtures::{cache_dir, golden_dir, greedy_ids, load_model, read_golden};
use mistral_wgpu::WgpuOptions;

/// A Q8_0 tensor of `shape` whose bytes are `blocks` whole blocks (any shape, unlike `from_f32`).
fn q8_0(shape: Vec<usize>, blocks: usize) -> HostTensor {
    HostTensor {
        dtype: DType::Q8_0,
        shape,
        bytes: HostBytes::from_vec(vec![0x3c; blocks * DType::Q8_0.block_bytes()]),
    }
}

/// The quantized kernels index whole blocks per row: a matmul whose k, or an embedding whose
/// hidden size, is not a multiple of the block is refused (not computed wrongly), and so is
/// uploading a matrix whose rows are not whole blocks.
#[test]
fn partial_blocks_are_refused_with_a_typed_error() {
    let Some(gpu) = common::backend(WgpuOptions::default()) else {
        return;
    };
    // 3 blocks of 32 = 96 weights, read as [2, 48].
    let w = gpu.upload(&q8_0(vec![3, 32], 3)).unwrap();
    let x = gpu.zeros(48).unwrap();
    let mut y = gpu.zeros(2).unwrap();
    let err = gpu
        .matmul(&x, &w, &mut y, &MatmulParams::new(1, 2, 48))
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("q8_0") && msg.contains("wgpu") && msg.contains("k = 48"),
        "{msg}"
    );

    let mut out = gpu.zeros(48).unwrap();
    let msg = gpu
        .embedding(&w, &[1], 48, &mut out)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("q8_0") && msg.contains("hidden = 48"), "{msg}");

    let msg = gpu.upload(&q8_0(vec![2, 48], 3)).unwrap_err().to_string();
    assert!(msg.contains("not whole q8_0 blocks"), "{msg}");
    let msg = gpu.upload(&q8_0(vec![3, 32], 2)).unwrap_err().to_string();
    assert!(msg.contains("68 bytes for 96 q8_0 elements"), "{msg}");
}

/// SmolLM2-135M-Instruct Q4_1 (Q8_0 embeddings and tied LM head) on wgpu (lavapipe in CI):
/// "What is the capital of France?" is answered with transformers' ids, "The capital of France
/// is Paris.<|im_end|>", which `tests/tests/smollm2.rs` asserts the CPU gives too: the prompt
/// prefilled in one block (tiled kernels), then each token decoded alone (GEMV, the 49152-row Q8_0
/// head included). Teacher-forced logits are left to the CPU test: on lavapipe a 45-token forward
/// with every row's logits takes ~90 s. Skipped, with the reason printed, when `cargo xtask
/// fetch` has not cached the GGUF.
#[test]
fn smollm2_q4_1_gives_the_cpu_greedy_answer() {
    let path = cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.is_file() {
        eprintln!(
            "skipping: {} is absent (run `cargo xtask fetch`)",
            path.display()
        );
        return;
    }
    let Some(gpu) = common::backend(WgpuOptions::default()) else {
        return;
    };
    let g = read_golden(&golden_dir().join("smollm2"));
    let start = Instant::now();
    let mut m = load_model(gpu, &path, 64);
    let ids = greedy_ids(&mut m, &g.prompt, g.greedy.len());
    eprintln!(
        "smollm2 wgpu greedy: {} prompt + {} new tokens in {:.1?}",
        g.prompt.len(),
        ids.len(),
        start.elapsed()
    );
    assert_eq!(ids, g.greedy);
}
