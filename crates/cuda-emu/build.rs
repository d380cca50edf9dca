//! Builds the fake `libcuda.so` into OUT_DIR: csrc/*.cpp plus every kernels/*.cu compiled as C++
//! with `MISTRAL_CUDA_EMU` (kernels/common.cuh then takes its primitives from csrc/emu_device.h).
//! The entry points of each kernel file are found by preprocessing it with `__global__` turned into
//! a marker, so macro-generated kernels are found too, and are registered by a generated file.
//! Linux only (ucontext fibers, ELF soname); elsewhere nothing is built and the crate says so.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let csrc = manifest.join("csrc");
    let kernels = manifest
        .join("../../kernels")
        .canonicalize()
        .expect("kernels/ directory");
    println!("cargo:rerun-if-changed={}", csrc.display());
    println!("cargo:rerun-if-changed={}", kernels.display());
    println!("cargo:rerun-if-env-changed=CXX");
    println!("cargo::rustc-check-cfg=cfg(emu_built)");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        println!("cargo:warning=cuda-emu: not built (Linux only)");
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());

    let mut units = vec![
        csrc.join("runtime.cpp"),
        csrc.join("memory.cpp"),
        csrc.join("ptx.cpp"),
        csrc.join("driver.cpp"),
    ];
    let mut files: Vec<PathBuf> = std::fs::read_dir(&kernels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cu"))
        .collect();
    files.sort();
    // The emulator's own rule-breaking kernels, for its tests.
    files.push(csrc.join("selftest.cu"));
    for cu in &files {
        let names = entry_points(&cxx, &csrc, cu);
        let stem = cu.file_stem().unwrap().to_string_lossy();
        let mut unit = format!("#include \"{}\"\n", cu.display());
        for (n, bound) in &names {
            unit += &format!("EMU_REGISTER({n}, {bound})\n");
        }
        let path = out.join(format!("emu_{stem}.cpp"));
        std::fs::write(&path, unit).unwrap();
        units.push(path);
    }

    let lib = out.join("libcuda.so");
    let status = Command::new(&cxx)
        .args(["-std=c++17", "-O2", "-g0", "-fPIC", "-shared", "-pthread"])
        // Kernels type-pun through reinterpret_cast as CUDA allows; keep the optimiser honest.
        .args([
            "-fno-strict-aliasing",
            "-Wno-unknown-pragmas",
            "-DMISTRAL_CUDA_EMU",
        ])
        // Misaligned typed accesses (a float4 load off a 16-byte boundary faults on a GPU) and
        // indices past a fixed-size array (a register array `acc[4]`, a `__shared__` tile: on a
        // GPU a silent read or write of other data) trap; the emulator's fault handler reports
        // them as a launch error.
        .args([
            "-fsanitize=alignment,bounds",
            "-fsanitize-undefined-trap-on-error",
        ])
        .arg(format!("-I{}", csrc.display()))
        .arg("-Wl,-soname,libcuda.so")
        .arg("-o")
        .arg(&lib)
        .args(&units)
        .status()
        .unwrap_or_else(|e| panic!("cuda-emu: cannot run the C++ compiler `{cxx}`: {e}"));
    assert!(status.success(), "cuda-emu: building libcuda.so failed");
    println!("cargo:rustc-env=CUDA_EMU_LIB={}", lib.display());
    println!("cargo:rustc-cfg=emu_built");
}

/// The `extern "C" __global__` functions of one kernel file, after macro expansion, with the
/// thread bound of their `__launch_bounds__` as a C++ expression ("0" when they have none).
fn entry_points(cxx: &str, csrc: &Path, cu: &Path) -> Vec<(String, String)> {
    let out = Command::new(cxx)
        .args([
            "-std=c++17",
            "-E",
            "-P",
            "-x",
            "c++",
            "-DMISTRAL_CUDA_EMU",
            "-DEMU_LIST_KERNELS",
        ])
        .arg(format!("-I{}", csrc.display()))
        .arg(cu)
        .output()
        .unwrap_or_else(|e| panic!("cuda-emu: cannot run the C++ preprocessor `{cxx}`: {e}"));
    assert!(
        out.status.success(),
        "cuda-emu: preprocessing {} failed:\n{}",
        cu.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut names = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("__emu_kernel__") {
        rest = &rest[i + "__emu_kernel__".len()..];
        let mut after = rest
            .trim_start()
            .strip_prefix("void")
            .expect("a kernel returns void")
            .trim_start();
        let mut bound = "0".to_string();
        if let Some(b) = after.strip_prefix("__emu_bounds__") {
            // `(expr)` or `(expr, min_blocks)`: the first argument, up to the closing paren.
            let (mut depth, mut end) = (0, 0);
            for (i, c) in b.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            bound = b[1..end].split(',').next().unwrap().trim().to_string();
            after = b[end + 1..].trim_start();
        }
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        names.push((name, format!("(int)({bound})")));
    }
    names
}
