//! Bad input gives clear errors, never a panic: a missing adapter index, a model over the memory
//! budget, a buffer over the device limit, an out-of-range token, a shape mismatch.

mod common;

use mistral_core::ops::MatmulParams;
use mistral_core::{Backend, DType, Error, HostTensor};
use mistral_wgpu::{list_adapters, WgpuBackend, WgpuOptions};

#[test]
fn bad_requests_are_clear_errors() {
    let Some(gpu) = common::backend(WgpuOptions {
        memory_budget_bytes: Some(1 << 30),
        ..Default::default()
    }) else {
        return;
    };
    let adapters = list_adapters();
    assert!(!adapters.is_empty());
    eprintln!("{}", adapters[0]);

    let missing = WgpuBackend::new(WgpuOptions {
        adapter: Some(adapters.len() + 7),
        ..Default::default()
    });
    let msg = missing
        .err()
        .expect("adapter index past the list")
        .to_string();
    assert!(msg.contains("does not exist"), "{msg}");

    let err = gpu.check_memory("model weights", 15 << 30).unwrap_err();
    assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
    assert!(err.to_string().contains("needs 16106127360 bytes"), "{err}");
    gpu.check_memory("model weights", 1 << 20).unwrap();

    let too_big = gpu
        .adapter()
        .max_buffer
        .min(gpu.adapter().max_storage_binding)
        / 4
        + 1;
    let msg = gpu.zeros(too_big as usize).unwrap_err().to_string();
    assert!(msg.contains("exceeds"), "{msg}");

    let table = gpu
        .upload(&HostTensor::from_f32(vec![4, 2], &[0.0; 8], DType::BF16))
        .unwrap();
    let mut out = gpu.zeros(2).unwrap();
    let msg = gpu
        .embedding(&table, &[4], 2, &mut out)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("out of range"), "{msg}");

    let (x, mut y) = (gpu.zeros(8).unwrap(), gpu.zeros(4).unwrap());
    let err = gpu.matmul(&x, &table, &mut y, &MatmulParams::new(1, 3, 8));
    assert!(matches!(err, Err(Error::Shape { .. })), "{err:?}");
    // The backend still works after the refusals.
    assert_eq!(gpu.download_f32(&out).unwrap(), vec![0.0; 2]);
}

#[test]
fn a_broken_shader_is_an_error_naming_it() {
    let Some(gpu) = common::backend(WgpuOptions::default()) else {
        return;
    };
    // A valid kernel compiles; a syntax error and a type error are errors, never panics.
    gpu.compile_wgsl("ok.wgsl", "@compute @workgroup_size(1) fn main() {}")
        .unwrap();
    let syntax = gpu
        .compile_wgsl(
            "shaders/broken.wgsl",
            "@compute @workgroup_size(1) fn main( {",
        )
        .unwrap_err();
    let msg = syntax.to_string();
    assert!(
        msg.contains("shaders/broken.wgsl") && msg.contains("failed to compile"),
        "{msg}"
    );
    let types = gpu
        .compile_wgsl(
            "shaders/types.wgsl",
            "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }",
        )
        .unwrap_err()
        .to_string();
    assert!(types.contains("shaders/types.wgsl"), "{types}");
    // The device is still usable afterwards.
    let t = gpu
        .upload(&HostTensor::from_f32(vec![2], &[1.0, 2.0], DType::F32))
        .unwrap();
    assert_eq!(gpu.download_f32(&t).unwrap(), vec![1.0, 2.0]);
}
