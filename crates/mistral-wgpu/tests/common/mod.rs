//! Opening the backend in tests: a missing adapter fails loudly (CI installs lavapipe) unless
//! `MISTRAL_SKIP_WGPU=1` says this machine has no Vulkan driver on purpose.

#![allow(dead_code)] // each test file uses a different subset

use mistral_wgpu::{WgpuBackend, WgpuOptions};

/// The backend with `opts`, or `None` when wgpu tests are skipped.
pub fn backend(opts: WgpuOptions) -> Option<WgpuBackend> {
    if std::env::var("MISTRAL_SKIP_WGPU").is_ok_and(|v| v == "1") {
        eprintln!("MISTRAL_SKIP_WGPU=1: skipping wgpu tests");
        return None;
    }
    match WgpuBackend::new(opts) {
        Ok(b) => Some(b),
        Err(e) => panic!(
            "{e}\n(the wgpu tests need a Vulkan driver, e.g. lavapipe from `apt-get install mesa-vulkan-drivers libvulkan1`; set MISTRAL_SKIP_WGPU=1 to skip them)"
        ),
    }
}

/// The configurations every kernel is proven in: fastest kernels, forced portable kernels, and a
/// tiny binding limit with small attention splits (row-split weights, split-K decode).
pub fn configs() -> Vec<(&'static str, WgpuOptions)> {
    vec![
        ("default", WgpuOptions::default()),
        (
            "portable",
            WgpuOptions {
                force_portable: true,
                ..Default::default()
            },
        ),
        (
            "split",
            WgpuOptions {
                max_binding_bytes: Some(SPLIT_BINDING),
                attention_split_keys: Some(4),
                ..Default::default()
            },
        ),
    ]
}

/// Binding limit of the "split" config: one 4096-wide f32 row fits, most test weights do not.
pub const SPLIT_BINDING: u64 = 16 << 10;
