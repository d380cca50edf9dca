//! CI proof without a GPU: every kernel file compiles with NVRTC to a cubin (so inline PTX is
//! checked by ptxas, not just parsed) for sm_80, sm_86, sm_89 and sm_90, and every `extern "C"`
//! entry point appears in ptxas's report. Prints registers and spills per entry point and arch.
//!
//! Needs NVRTC: run `cargo xtask setup` (or set MISTRAL_NVRTC_LIB / CUDA_HOME). Set
//! `MISTRAL_SKIP_NVRTC=1` to skip on a machine where it cannot be installed.

use mistral_cuda::kernels::{KernelFile, ALL};
use mistral_cuda::nvrtc::{compile, ensure_loaded, parse_ptxas_log, version, EntryStats};

const ARCHS: [u32; 4] = [80, 86, 89, 90];

/// Per architecture: the entry points' register/spill figures, or the compile error.
type PerArch = Vec<(u32, Result<Vec<EntryStats>, String>)>;

fn compile_all(file: &KernelFile) -> PerArch {
    ARCHS
        .iter()
        .map(|&arch| {
            let r = compile(file, arch, true).map_err(|e| e.to_string());
            (
                arch,
                r.and_then(|c| {
                    if c.cubin.len() < 4 || &c.cubin[..4] != b"\x7fELF" {
                        return Err(format!("sm_{arch}: NVRTC returned no ELF cubin"));
                    }
                    Ok(parse_ptxas_log(&c.log))
                }),
            )
        })
        .collect()
}

#[test]
fn every_kernel_compiles_to_a_cubin_for_each_arch() {
    if std::env::var("MISTRAL_SKIP_NVRTC").is_ok_and(|v| v == "1") {
        eprintln!("skipped: MISTRAL_SKIP_NVRTC=1");
        return;
    }
    if let Err(e) = ensure_loaded() {
        panic!("{e}\nRun `cargo xtask setup` (or set MISTRAL_SKIP_NVRTC=1 to skip this test).");
    }
    let (major, minor) = version().expect("nvrtc version");
    println!("NVRTC {major}.{minor} from {}", ensure_loaded().unwrap());

    // Two files at a time: the machines running CI have few cores.
    let results: Vec<(KernelFile, PerArch)> = std::thread::scope(|s| {
        let mut out = Vec::new();
        for pair in ALL.chunks(2) {
            let handles: Vec<_> = pair
                .iter()
                .map(|f| (*f, s.spawn(move || compile_all(f))))
                .collect();
            for (f, h) in handles {
                out.push((f, h.join().expect("compile thread")));
            }
        }
        out
    });

    let mut failures = Vec::new();
    println!(
        "{:<20} {:<20} {:>18} {:>18} {:>18} {:>18}",
        "file", "entry", "sm_80 regs/spill", "sm_86", "sm_89", "sm_90"
    );
    for (file, per_arch) in &results {
        for (arch, r) in per_arch {
            if let Err(e) = r {
                failures.push(format!("sm_{arch}: {e}"));
            }
        }
        for entry in file.entries {
            let mut cols = Vec::new();
            for (arch, r) in per_arch {
                let Ok(stats) = r else {
                    cols.push("FAILED".to_string());
                    continue;
                };
                match stats.iter().find(|s| s.entry == *entry) {
                    Some(s) => cols.push(format!(
                        "{} / {}+{}",
                        s.registers, s.spill_stores, s.spill_loads
                    )),
                    None => {
                        failures.push(format!(
                            "kernels/{}: entry point {entry} missing from the sm_{arch} cubin",
                            file.name
                        ));
                        cols.push("MISSING".to_string());
                    }
                }
            }
            println!(
                "{:<20} {:<20} {:>18} {:>18} {:>18} {:>18}",
                file.name, entry, cols[0], cols[1], cols[2], cols[3]
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
