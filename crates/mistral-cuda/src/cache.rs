//! On-disk cache of compiled cubins, keyed by kernel file, source hash (header, source and NVRTC
//! options), GPU architecture and NVRTC version. A cache that cannot be read or written is
//! ignored: the kernel is simply compiled again.
//!
//! Directory: `$MISTRAL_KERNEL_CACHE`, else `$XDG_CACHE_HOME/mistral-kernels`, else
//! `$HOME/.cache/mistral-kernels`.

use std::path::PathBuf;

use mistral_core::Result;

use crate::kernels::{source_hash, KernelFile};
use crate::nvrtc;

/// The cache directory, if one can be named.
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("MISTRAL_KERNEL_CACHE") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("mistral-kernels"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mistral-kernels"))
}

/// `gemv-sm90-nvrtc13.0-<hash>.cubin`
pub fn file_name(file: &KernelFile, arch: u32, nvrtc: (i32, i32)) -> String {
    let stem = file.name.trim_end_matches(".cu");
    let hash = source_hash(file, &nvrtc::options(arch, false));
    format!(
        "{stem}-sm{arch}-nvrtc{}.{}-{hash:016x}.cubin",
        nvrtc.0, nvrtc.1
    )
}

/// The cubin of `file` for `sm_{arch}`: from the disk cache, or compiled (and then cached).
pub fn load_or_compile(file: &KernelFile, arch: u32) -> Result<Vec<u8>> {
    let version = nvrtc::version()?;
    let path = dir().map(|d| d.join(file_name(file, arch, version)));
    if let Some(p) = &path {
        if let Ok(bytes) = std::fs::read(p) {
            if bytes.starts_with(b"\x7fELF") {
                return Ok(bytes);
            }
        }
    }
    let compiled = nvrtc::compile(file, arch, false)?;
    if let Some(p) = &path {
        // Write to a temporary name, then rename: concurrent processes never see half a file.
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let tmp = p.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, &compiled.cubin).is_ok() {
            let _ = std::fs::rename(&tmp, p);
        }
    }
    Ok(compiled.cubin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_arch_and_version() {
        let f = crate::kernels::GEMV;
        let a = file_name(&f, 90, (13, 0));
        assert!(a.starts_with("gemv-sm90-nvrtc13.0-"), "{a}");
        assert_ne!(a, file_name(&f, 80, (13, 0)));
        assert_ne!(a, file_name(&f, 90, (12, 9)));
        assert_ne!(a, file_name(&crate::kernels::ROPE, 90, (13, 0)));
    }
}
