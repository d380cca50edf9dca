//! A short benchmark for the GPU bundle: the decode GEMVs of the Mistral-7B shapes (bf16) and
//! decode attention over a full 4096-key window, as GB/s of bytes that must be read. Synchronises
//! inside the timed region; reports the median of 7 runs of 20 launches. Prints
//! `skipped: no CUDA device` without a GPU.

use std::time::Instant;

use mistral_core::ops::{AttentionParams, MatmulParams};
use mistral_core::{Backend, DType, HostTensor};
use mistral_cuda::CudaBackend;

fn median_us(b: &CudaBackend, mut f: impl FnMut()) -> f64 {
    f();
    b.synchronize().unwrap();
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..20 {
                f();
            }
            b.synchronize().unwrap();
            t.elapsed().as_secs_f64() * 1e6 / 20.0
        })
        .collect();
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[3]
}

#[test]
fn bench_decode_kernels() {
    let b = match CudaBackend::new(0) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("skipped: no CUDA device ({e})");
            return;
        }
    };
    b.warm_up().unwrap();
    println!("bench on {}", b.name());
    let k_max = 14336;
    let x = b.upload(&HostTensor::from_f32(
        vec![k_max],
        &vec![0.01; k_max],
        DType::F32,
    ));
    let x = x.unwrap();
    for (name, n, k) in [
        ("qkv 6144x4096", 6144, 4096),
        ("o 4096x4096", 4096, 4096),
        ("gate_up 28672x4096", 28672, 4096),
        ("down 4096x14336", 4096, 14336),
    ] {
        let w = b
            .upload(&HostTensor::from_f32(
                vec![n, k],
                &vec![0.001; n * k],
                DType::BF16,
            ))
            .unwrap();
        let mut y = b.zeros(n).unwrap();
        let p = MatmulParams::new(1, n, k);
        let us = median_us(&b, || b.matmul(&x, &w, &mut y, &p).unwrap());
        let bytes = (n * k * 2 + k * 4 + n * 4) as f64;
        println!(
            "BENCH gemv_bf16 {name:<20} {us:8.1} us {:7.0} GB/s",
            bytes / us / 1e3
        );
    }
    let p = AttentionParams {
        n: 1,
        start_pos: 5000,
        n_heads: 32,
        n_kv_heads: 8,
        head_dim: 128,
        window: 4096,
        slots: 4096,
    };
    let kv = p.n_kv_heads * p.head_dim;
    let q = b.zeros(p.n_heads * p.head_dim).unwrap();
    let (kn, vn) = (b.zeros(kv).unwrap(), b.zeros(kv).unwrap());
    let (kc, vc) = (
        b.zeros(p.slots * kv).unwrap(),
        b.zeros(p.slots * kv).unwrap(),
    );
    let mut out = b.zeros(p.n_heads * p.head_dim).unwrap();
    let us = median_us(&b, || {
        b.attention(&q, &kn, &vn, &kc, &vc, &mut out, &p).unwrap()
    });
    let bytes = (2 * p.window * kv * 4) as f64;
    println!(
        "BENCH attention decode 4096 keys   {us:8.1} us {:7.0} GB/s",
        bytes / us / 1e3
    );
}
