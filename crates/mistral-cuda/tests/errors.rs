//! Bad input and bad devices give one-line errors, never panics: a GPU older than compute
//! capability 8.0, a missing device, out of device memory (before an upload, naming what was
//! requested and what is free), a driver that refuses CUDA-graph calls (fall back). Needs the CUDA emulator (crates/cuda-emu), whose device
//! can be made old or small; skipped on a machine with a real driver. One test function: the
//! emulator's settings are process environment.

use mistral_core::{Backend, DType, Error, HostTensor};
use mistral_cuda::CudaBackend;
use mistral_model::Logits;

#[test]
fn device_errors_are_clear() {
    if cuda_emu::install() != cuda_emu::Driver::Emulator {
        eprintln!("skipped: needs the CUDA emulator (a real driver is present)");
        return;
    }

    // An old GPU is refused at construction, with its capability and what the kernels need.
    std::env::set_var("CUDA_EMU_COMPUTE_CAPABILITY", "75");
    let err = CudaBackend::new(0).err().expect("cc 7.5 refused");
    std::env::remove_var("CUDA_EMU_COMPUTE_CAPABILITY");
    let msg = err.to_string();
    assert!(matches!(err, Error::Unsupported(_)), "{msg}");
    assert!(msg.contains("7.5") && msg.contains("8.0"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");

    // No such device.
    let msg = CudaBackend::new(3).err().expect("device 3").to_string();
    assert!(
        msg.contains("device 3") && msg.contains("1 CUDA device"),
        "{msg}"
    );

    // Out of memory: the whole model is checked before its first tensor, and a single upload
    // beyond free memory fails before any copy (the emulated device has 8 GiB).
    let gpu = CudaBackend::new(0).unwrap();
    match gpu.check_memory("model weights", 15 << 30) {
        Err(Error::OutOfMemory {
            what,
            requested,
            available,
        }) => {
            assert_eq!(what, "model weights");
            assert_eq!(requested, 15 << 30);
            assert!(available > 0 && available <= 8 << 30, "{available}");
        }
        other => panic!("expected out of memory, got {other:?}"),
    }
    gpu.check_memory("model weights", 1 << 20).unwrap();
    let big = HostTensor::from_f32(vec![1], &[0.0], DType::F32);
    let _small = gpu.upload(&big).unwrap();
    let Err(err) = gpu.zeros(3 << 30) else {
        panic!("12 GiB of f32 do not fit")
    };
    assert!(
        err.to_string()
            .starts_with("out of device memory: a buffer of"),
        "{err}"
    );

    // A driver that refuses a graph call: the decode step falls back to launching kernel by
    // kernel, graphs switch off, and the logits equal an eager run's.
    let g = mistral_tests::fixtures::goldens()
        .into_iter()
        .next()
        .unwrap();
    let run = |fail: &str| {
        std::env::set_var("CUDA_EMU_FAIL", fail);
        let gpu = CudaBackend::new(0).unwrap();
        let mut m = mistral_tests::fixtures::load_model(gpu, &g.dir, 256);
        let mut logits = m.forward(&g.tokens[..4], 0, Logits::Last).unwrap();
        for t in 4..8 {
            logits.extend(m.forward(&g.tokens[t..t + 1], t, Logits::Last).unwrap());
        }
        std::env::remove_var("CUDA_EMU_FAIL");
        (logits, m.backend().graphs_enabled())
    };
    let (want, on) = run("");
    assert!(on, "graphs on by default");
    for fail in ["cuGraphInstantiateWithFlags", "cuFuncGetParamInfo"] {
        let (got, on) = run(fail);
        assert!(!on, "{fail} failing switches graphs off");
        assert_eq!(got, want, "{fail}: same logits as with graphs");
    }

    // A failed upload of a step's staged scalars fails that forward; the step is dropped, not
    // issued later: the next step launches only its own kernels and gives a clean run's logits.
    let gpu = CudaBackend::new(0).unwrap();
    let mut m = mistral_tests::fixtures::load_model(gpu, &g.dir, 256);
    m.forward(&g.tokens[..4], 0, Logits::Last).unwrap();
    m.forward(&g.tokens[4..5], 4, Logits::Last).unwrap();
    std::env::set_var("CUDA_EMU_FAIL", "cuMemcpyHtoD_v2");
    let err = m.forward(&g.tokens[5..6], 5, Logits::Last).unwrap_err();
    std::env::remove_var("CUDA_EMU_FAIL");
    assert!(err.to_string().contains("staged"), "{err}");
    let before = m.backend().graph_stats();
    let mut logits = m.forward(&g.tokens[..4], 0, Logits::Last).unwrap();
    logits.extend(m.forward(&g.tokens[4..5], 4, Logits::Last).unwrap());
    let after = m.backend().graph_stats();
    let layers = mistral_model::HostWeights::load_dir(&g.dir)
        .unwrap()
        .0
        .num_hidden_layers as u64;
    assert_eq!(
        after.launches - before.launches,
        11 * layers + 3,
        "{before:?} -> {after:?}"
    );
    let vocab = want.len() / 5; // `want`: the last row of the prefill, then four decode steps
    assert_eq!(logits, want[..2 * vocab].to_vec());
}
