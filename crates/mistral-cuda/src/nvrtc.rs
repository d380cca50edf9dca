//! Finding NVRTC and compiling a kernel file to a cubin for one GPU architecture.
//!
//! `cudarc` opens NVRTC by library *name* (`libnvrtc.so.13`, `.so.12`, ...) through the system
//! loader. To also find an NVRTC that is not on the loader path (CI's PyPI wheels, a toolkit under
//! `CUDA_HOME`), [`ensure_loaded`] first opens it by absolute path and keeps it loaded: the loader
//! then matches cudarc's later `dlopen("libnvrtc.so.12")` to it by its SONAME.
//!
//! Search order (first hit wins):
//! 1. `$MISTRAL_NVRTC_LIB`: the path of a `libnvrtc.so*`;
//! 2. `$CUDA_HOME`, then `$CUDA_PATH`: `lib64/` or `lib/` of the toolkit;
//! 3. `/usr/local/cuda/lib64`;
//! 4. the project's cache, where `cargo xtask setup` installs the wheel: `nvrtc/nvidia/cuda_nvrtc/lib`
//!    under `$MISTRAL_CACHE_DIR`, else under the workspace's `.cache/`;
//! 5. the pip `nvidia-cuda-nvrtc-cu12` / `-cu13` wheels: `nvidia/cuda_nvrtc/lib` (or `nvidia/cu13/lib`)
//!    in the site-packages of `python3` (asked with `python3 -c 'import nvidia ...'`), then in
//!    `~/.local/lib/python3*/site-packages`, `/usr/lib/python3*/{site,dist}-packages`,
//!    `/usr/local/lib/python3*/{site,dist}-packages`;
//! 6. whatever the system loader finds (`ld.so.cache`, `LD_LIBRARY_PATH`).

use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cudarc::nvrtc::sys;
use mistral_core::{Error, Result};

use crate::kernels::{KernelFile, HEADERS};

const LIB_NAMES: [&str; 4] = [
    "libnvrtc.so.13",
    "libnvrtc.so.12",
    "libnvrtc.so",
    "libnvrtc.alt.so.12",
];

/// Directories that may hold `libnvrtc.so*`, in search order (steps 2–5 above).
pub fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for var in ["CUDA_HOME", "CUDA_PATH"] {
        if let Some(root) = std::env::var_os(var) {
            let root = PathBuf::from(root);
            dirs.push(root.join("lib64"));
            dirs.push(root.join("lib"));
        }
    }
    dirs.push(PathBuf::from("/usr/local/cuda/lib64"));
    let cache = std::env::var_os("MISTRAL_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache"));
    dirs.push(cache.join("nvrtc/nvidia/cuda_nvrtc/lib"));
    for sp in site_packages() {
        dirs.push(sp.join("nvidia/cuda_nvrtc/lib"));
        dirs.push(sp.join("nvidia/cu13/lib"));
    }
    dirs
}

/// site-packages directories that may hold the `nvidia` namespace package.
fn site_packages() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let py = std::process::Command::new("python3")
        .args([
            "-c",
            "import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    if let Ok(o) = py {
        if o.status.success() {
            let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !s.is_empty() {
                out.push(PathBuf::from(s));
            }
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut roots: Vec<PathBuf> = vec!["/usr/lib".into(), "/usr/local/lib".into()];
    if let Some(h) = home {
        roots.push(h.join(".local/lib"));
    }
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("python3") {
                out.push(e.path().join("site-packages"));
                out.push(e.path().join("dist-packages"));
            }
        }
    }
    out
}

fn find_in(dir: &Path) -> Option<PathBuf> {
    LIB_NAMES.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Opens NVRTC once for the process; returns where it came from, or a one-line error saying
/// how to install it.
pub fn ensure_loaded() -> Result<&'static str> {
    static LOADED: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    let r = LOADED.get_or_init(|| {
        let explicit = std::env::var_os("MISTRAL_NVRTC_LIB").map(PathBuf::from);
        let path = explicit
            .clone()
            .or_else(|| candidate_dirs().iter().find_map(|d| find_in(d)));
        if let Some(p) = &path {
            // The builtins library sits beside libnvrtc; preload it so NVRTC's own dlopen finds it.
            if let Some(dir) = p.parent() {
                if let Ok(rd) = std::fs::read_dir(dir) {
                    for e in rd.flatten() {
                        let n = e.file_name().to_string_lossy().to_string();
                        if n.starts_with("libnvrtc-builtins.so") {
                            // SAFETY: loading NVIDIA's builtins library runs no user-visible initialisers.
                            if let Ok(lib) = unsafe { libloading::Library::new(e.path()) } {
                                std::mem::forget(lib);
                            }
                        }
                    }
                }
            }
            // SAFETY: libnvrtc's initialisers only set up the compiler; kept loaded for the process.
            match unsafe { libloading::Library::new(p) } {
                Ok(lib) => std::mem::forget(lib),
                Err(e) if explicit.is_some() => {
                    return Err(format!("MISTRAL_NVRTC_LIB={}: {e}", p.display()))
                }
                Err(_) => {}
            }
        }
        // SAFETY: only tries to dlopen the library names; never panics.
        if unsafe { sys::is_culib_present() } {
            Ok(path.map_or("system loader path".to_string(), |p| {
                p.display().to_string()
            }))
        } else {
            Err("NVRTC (libnvrtc.so) not found: install the CUDA toolkit, set MISTRAL_NVRTC_LIB or \
                 CUDA_HOME, or run `cargo xtask setup` (installs the pip wheel nvidia-cuda-nvrtc-cu12)"
                .to_string())
        }
    });
    match r {
        Ok(s) => Ok(s.as_str()),
        Err(e) => Err(Error::Unsupported(e.clone())),
    }
}

/// NVRTC's (major, minor) version.
pub fn version() -> Result<(i32, i32)> {
    ensure_loaded()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC is loaded; both pointers are valid for writes.
    check(
        unsafe { sys::nvrtcVersion(&mut major, &mut minor) },
        "version",
    )?;
    Ok((major, minor))
}

fn check(r: sys::nvrtcResult, what: &str) -> Result<()> {
    if r == sys::nvrtcResult::NVRTC_SUCCESS {
        Ok(())
    } else {
        Err(Error::Backend {
            backend: "nvrtc",
            msg: format!("{what}: {r:?}"),
        })
    }
}

/// A compiled kernel file.
#[derive(Debug)]
pub struct Compiled {
    pub cubin: Vec<u8>,
    /// NVRTC's log (with `verbose`, ptxas's register and spill report per entry point).
    pub log: String,
}

/// The NVRTC options for `arch` (e.g. 90 for sm_90). No fast math: the kernels rely on IEEE
/// division/sqrt and the accurate expf/sinf/cosf to match the CPU reference.
pub fn options(arch: u32, verbose: bool) -> Vec<String> {
    let mut o = vec![
        format!("--gpu-architecture=sm_{arch}"),
        "--std=c++17".to_string(),
        "-lineinfo".to_string(),
    ];
    if verbose {
        o.push("--ptxas-options=-v".to_string());
    }
    o
}

/// Compiles `file` to a cubin for `sm_{arch}`. A compile error carries the file name, the NVRTC
/// log and the offending source lines.
pub fn compile(file: &KernelFile, arch: u32, verbose: bool) -> Result<Compiled> {
    ensure_loaded()?;
    let src = CString::new(file.source).map_err(|_| nul(file.name))?;
    let name = CString::new(file.name).map_err(|_| nul(file.name))?;
    let hdr_src = HEADERS
        .iter()
        .map(|(n, s)| CString::new(*s).map_err(|_| nul(n)))
        .collect::<Result<Vec<_>>>()?;
    let hdr_name = HEADERS
        .iter()
        .map(|(n, _)| CString::new(*n).map_err(|_| nul(n)))
        .collect::<Result<Vec<_>>>()?;
    let headers: Vec<*const c_char> = hdr_src.iter().map(|h| h.as_ptr()).collect();
    let header_names: Vec<*const c_char> = hdr_name.iter().map(|h| h.as_ptr()).collect();
    let mut prog: sys::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: every pointer is a live NUL-terminated string; `headers.len()` headers, each with
    // its name.
    check(
        unsafe {
            sys::nvrtcCreateProgram(
                &mut prog,
                src.as_ptr(),
                name.as_ptr(),
                headers.len() as i32,
                headers.as_ptr(),
                header_names.as_ptr(),
            )
        },
        "create program",
    )?;
    let result = compile_program(file, prog, arch, verbose);
    // SAFETY: `prog` was created above and is destroyed exactly once.
    unsafe { sys::nvrtcDestroyProgram(&mut prog) };
    result
}

fn nul(name: &str) -> Error {
    Error::Backend {
        backend: "nvrtc",
        msg: format!("{name}: source contains a NUL byte"),
    }
}

fn compile_program(
    file: &KernelFile,
    prog: sys::nvrtcProgram,
    arch: u32,
    verbose: bool,
) -> Result<Compiled> {
    let opts: Vec<CString> = options(arch, verbose)
        .into_iter()
        .map(|o| CString::new(o).expect("options have no NUL"))
        .collect();
    let ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
    // SAFETY: `prog` is valid; `ptrs` holds `opts.len()` live C strings.
    let status = unsafe { sys::nvrtcCompileProgram(prog, ptrs.len() as i32, ptrs.as_ptr()) };
    let log = program_log(prog)?;
    if status != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(Error::Backend {
            backend: "nvrtc",
            msg: compile_error(file, arch, &log),
        });
    }
    let mut size = 0usize;
    // SAFETY: `prog` compiled successfully; `size` is valid for writes.
    check(
        unsafe { sys::nvrtcGetCUBINSize(prog, &mut size) },
        "cubin size",
    )?;
    let mut cubin = vec![0u8; size];
    // SAFETY: `cubin` has exactly the `size` bytes NVRTC reported.
    check(
        unsafe { sys::nvrtcGetCUBIN(prog, cubin.as_mut_ptr() as *mut c_char) },
        "cubin",
    )?;
    Ok(Compiled { cubin, log })
}

fn program_log(prog: sys::nvrtcProgram) -> Result<String> {
    let mut size = 0usize;
    // SAFETY: `prog` is valid; `size` is valid for writes.
    check(
        unsafe { sys::nvrtcGetProgramLogSize(prog, &mut size) },
        "log size",
    )?;
    let mut buf = vec![0u8; size.max(1)];
    // SAFETY: `buf` has the `size` bytes (NUL included) NVRTC reported.
    check(
        unsafe { sys::nvrtcGetProgramLog(prog, buf.as_mut_ptr() as *mut c_char) },
        "log",
    )?;
    Ok(CStr::from_bytes_until_nul(&buf)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default())
}

/// `kernels/<file> (sm_XX): <log>` followed by each source line the log points at
/// (`file(LINE): error ...`), so the message stands on its own.
pub fn compile_error(file: &KernelFile, arch: u32, log: &str) -> String {
    let mut msg = format!(
        "kernels/{} failed to compile for sm_{arch}:\n{}",
        file.name,
        log.trim_end()
    );
    let mut shown = Vec::new();
    for line in log.lines() {
        for (name, src) in [(file.name, file.source)].into_iter().chain(HEADERS) {
            let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('(')) else {
                continue;
            };
            let Some(n) = rest.split(')').next().and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            if shown.contains(&(name, n)) {
                continue;
            }
            shown.push((name, n));
            if let Some(text) = src.lines().nth(n.saturating_sub(1)) {
                msg.push_str(&format!("\n  {name}:{n}: {}", text.trim()));
            }
        }
    }
    msg
}

/// Register and spill figures of one entry point, from ptxas's `-v` report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryStats {
    pub entry: String,
    pub registers: u32,
    pub spill_stores: u32,
    pub spill_loads: u32,
    pub stack_bytes: u32,
    pub shared_bytes: u32,
}

/// Parses ptxas's verbose report: `Compiling entry function 'NAME' for 'sm_XX'`, then
/// `N bytes stack frame, S bytes spill stores, L bytes spill loads` and `Used R registers, ...`.
pub fn parse_ptxas_log(log: &str) -> Vec<EntryStats> {
    let mut out: Vec<EntryStats> = Vec::new();
    let num_before = |s: &str, key: &str| -> Option<u32> {
        let i = s.find(key)?;
        s[..i].split_whitespace().last()?.parse().ok()
    };
    for line in log.lines() {
        if let Some(i) = line.find("Compiling entry function '") {
            let rest = &line[i + "Compiling entry function '".len()..];
            let name = rest.split('\'').next().unwrap_or_default().to_string();
            out.push(EntryStats {
                entry: name,
                ..Default::default()
            });
        } else if let Some(e) = out.last_mut() {
            if let Some(v) = num_before(line, "bytes stack frame") {
                e.stack_bytes = v;
            }
            if let Some(v) = num_before(line, "bytes spill stores") {
                e.spill_stores = v;
            }
            if let Some(v) = num_before(line, "bytes spill loads") {
                e.spill_loads = v;
            }
            if let Some(v) = num_before(line, "registers") {
                e.registers = v;
            }
            if let Some(v) = num_before(line, "bytes smem") {
                e.shared_bytes = v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ptxas_report() {
        let log = "ptxas info    : 0 bytes gmem\n\
ptxas info    : Compiling entry function 'gemv_bf16' for 'sm_90'\n\
ptxas info    : Function properties for gemv_bf16\n\
    8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n\
ptxas info    : Used 40 registers, used 0 barriers, 16 bytes smem, 380 bytes cmem[0]\n";
        let s = parse_ptxas_log(log);
        assert_eq!(
            s,
            vec![EntryStats {
                entry: "gemv_bf16".into(),
                registers: 40,
                spill_stores: 4,
                spill_loads: 4,
                stack_bytes: 8,
                shared_bytes: 16,
            }]
        );
    }

    #[test]
    fn compile_error_shows_the_offending_line() {
        let file = crate::kernels::ROPE;
        let log = "rope.cu(9): error: identifier \"bogus\" is undefined\n";
        let msg = compile_error(&file, 80, log);
        assert!(
            msg.starts_with("kernels/rope.cu failed to compile for sm_80"),
            "{msg}"
        );
        assert!(msg.contains("rope.cu:9:"), "{msg}");
    }
}
