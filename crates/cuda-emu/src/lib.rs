//! A CUDA emulator for tests on machines without a GPU.
//!
//! `build.rs` compiles a fake `libcuda.so` (csrc/): the CUDA driver API that cudarc calls, backed by
//! host memory, and every kernel of `kernels/*.cu` compiled as C++ for the CPU. Each CUDA thread runs
//! as a fiber; `__syncthreads`, shuffles, `ldmatrix` and `mma` are collective operations that wait for
//! every thread that must take part, and the PTX instructions the kernels use (cp.async groups,
//! ldmatrix fragments, mma.m16n8k16 fragment layouts, cvt rounding) have CPU twins written from the
//! PTX ISA. What this checks: the kernels' indexing, fragment layouts, barriers and pipelines, the
//! host code's launch geometry and arguments, and numerics to f32 rounding. What it cannot: speed,
//! races that depend on timing, and anything about a real GPU's memory system.
//!
//! [`install`] loads the library before cudarc looks for libcuda: cudarc opens `libcuda.so`, and the
//! dynamic loader hands back an already-loaded object whose soname matches, so the CUDA backend runs
//! unchanged on the emulator (NVRTC still compiles every kernel; the cubin is checked and ignored).

use std::sync::OnceLock;

/// What answers as libcuda in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// A real libcuda was found: the tests use the GPU (if any).
    Real,
    /// The emulator is loaded in this process.
    Emulator,
    /// Neither (not Linux, or `MISTRAL_CUDA_EMU=0`).
    None,
}

static INSTALLED: OnceLock<Driver> = OnceLock::new();

/// Path of the built emulator library, when this platform builds it.
pub fn library_path() -> Option<&'static str> {
    #[cfg(emu_built)]
    {
        Some(env!("CUDA_EMU_LIB"))
    }
    #[cfg(not(emu_built))]
    {
        None
    }
}

/// Loads the emulator as this process's libcuda unless a real driver is present. Call it before
/// anything touches cudarc. `MISTRAL_CUDA_EMU=1` forces the emulator, `=0` disables it.
pub fn install() -> Driver {
    *INSTALLED.get_or_init(|| {
        let force = std::env::var("MISTRAL_CUDA_EMU").ok();
        if force.as_deref() == Some("0") {
            return Driver::None;
        }
        if force.as_deref() != Some("1") && real_driver_present() {
            return Driver::Real;
        }
        let Some(path) = library_path() else {
            return Driver::None;
        };
        // SAFETY: loading our own library runs only its static registrations of kernel entry points.
        match unsafe { libloading::Library::new(path) } {
            Ok(lib) => {
                // Kept loaded for the life of the process: cudarc holds its own handle to it.
                std::mem::forget(lib);
                Driver::Emulator
            }
            Err(e) => {
                eprintln!("cuda-emu: cannot load {path}: {e}");
                Driver::None
            }
        }
    })
}

/// Environment that makes a child process run on the emulator (`LD_PRELOAD` of its libcuda, which
/// the loader then hands to cudarc), or `None` when this platform has no emulator. Empty when a
/// real driver is present: the child uses the GPU.
pub fn child_env() -> Option<Vec<(&'static str, String)>> {
    let force = std::env::var("MISTRAL_CUDA_EMU").ok();
    if force.as_deref() == Some("0") {
        return None;
    }
    if force.as_deref() != Some("1") && real_driver_present() {
        return Some(Vec::new());
    }
    library_path().map(|p| vec![("LD_PRELOAD", p.to_string())])
}

/// Whether a real NVIDIA driver library can be opened (false once [`install`] has loaded the
/// emulator, which answers to the same name).
pub fn real_driver_present() -> bool {
    if INSTALLED.get() == Some(&Driver::Emulator) {
        return false;
    }
    ["libcuda.so.1", "libcuda.so"].iter().any(|name| {
        // SAFETY: the probe only opens and closes the driver library.
        unsafe { libloading::Library::new(*name) }.is_ok()
    })
}
