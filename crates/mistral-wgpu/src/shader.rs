//! Kernel sources: one `.wgsl` per op under `shaders/`, embedded at build time, specialised by a tiny
//! line preprocessor (`//#if NAME`, `//#else`, `//#endif`) and compiled lazily into cached pipelines.
//!
//! Defines a variant may set: `W_F32` / `W_F16` / `W_BF16` (weight storage; 16-bit weights are read as
//! packed `u32` pairs unless `F16_EXT` is set too, which reads `f16` storage with `enable f16;`),
//! `SUBGROUPS` (subgroup reductions instead of workgroup memory), plus per-op switches (`VEC`, `ADD`,
//! `SPLIT`, `COMBINE`).

use mistral_core::{DType, Error, Result};

/// A kernel source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shader {
    Add,
    Argmax,
    Attention,
    AttentionPrefill,
    Copy,
    Embedding,
    MatmulGemv,
    MatmulTiled,
    RmsNorm,
    Rope,
    Swiglu,
}

impl Shader {
    /// Every shader, for the naga validation test.
    pub const ALL: [Shader; 11] = [
        Shader::Add,
        Shader::Argmax,
        Shader::Attention,
        Shader::AttentionPrefill,
        Shader::Copy,
        Shader::Embedding,
        Shader::MatmulGemv,
        Shader::MatmulTiled,
        Shader::RmsNorm,
        Shader::Rope,
        Shader::Swiglu,
    ];

    /// The file name under `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Shader::Add => "add.wgsl",
            Shader::Argmax => "argmax.wgsl",
            Shader::Attention => "attention.wgsl",
            Shader::AttentionPrefill => "attention_prefill.wgsl",
            Shader::Copy => "copy.wgsl",
            Shader::Embedding => "embedding.wgsl",
            Shader::MatmulGemv => "matmul_gemv.wgsl",
            Shader::MatmulTiled => "matmul_tiled.wgsl",
            Shader::RmsNorm => "rms_norm.wgsl",
            Shader::Rope => "rope.wgsl",
            Shader::Swiglu => "swiglu.wgsl",
        }
    }

    /// The embedded source.
    pub fn source(self) -> &'static str {
        match self {
            Shader::Add => include_str!("../../../shaders/add.wgsl"),
            Shader::Argmax => include_str!("../../../shaders/argmax.wgsl"),
            Shader::Attention => include_str!("../../../shaders/attention.wgsl"),
            Shader::AttentionPrefill => include_str!("../../../shaders/attention_prefill.wgsl"),
            Shader::Copy => include_str!("../../../shaders/copy.wgsl"),
            Shader::Embedding => include_str!("../../../shaders/embedding.wgsl"),
            Shader::MatmulGemv => include_str!("../../../shaders/matmul_gemv.wgsl"),
            Shader::MatmulTiled => include_str!("../../../shaders/matmul_tiled.wgsl"),
            Shader::RmsNorm => include_str!("../../../shaders/rms_norm.wgsl"),
            Shader::Rope => include_str!("../../../shaders/rope.wgsl"),
            Shader::Swiglu => include_str!("../../../shaders/swiglu.wgsl"),
        }
    }

    /// Every define combination the backend may compile this shader with (for validation tests).
    pub fn variants(self) -> Vec<Vec<&'static str>> {
        let sg = [None, Some("SUBGROUPS")];
        let weights: &[&[&str]] = &[&["W_F32"], &["W_F16"], &["W_BF16"], &["W_F16", "F16_EXT"]];
        let mut out = Vec::new();
        let with = |base: &[&'static str], extra: Option<&'static str>| {
            let mut v = base.to_vec();
            v.extend(extra);
            v
        };
        match self {
            Shader::Add
            | Shader::AttentionPrefill
            | Shader::Copy
            | Shader::Rope
            | Shader::Swiglu => out.push(vec![]),
            Shader::Argmax => sg.iter().for_each(|s| out.push(with(&[], *s))),
            Shader::Attention => {
                for s in sg {
                    out.push(with(&[], s));
                    out.push(with(&["SPLIT"], s));
                }
                out.push(vec!["COMBINE"]);
            }
            Shader::Embedding | Shader::MatmulTiled => {
                weights[..3].iter().for_each(|w| out.push(w.to_vec()))
            }
            Shader::RmsNorm => {
                for w in &weights[..3] {
                    for s in sg {
                        out.push(with(w, s));
                        out.push(with(&with(w, Some("ADD")), s));
                    }
                }
            }
            Shader::MatmulGemv => {
                for w in weights {
                    for s in sg {
                        out.push(with(&with(w, Some("VEC")), s));
                        if !w.contains(&"F16_EXT") {
                            out.push(with(w, s));
                        }
                    }
                }
            }
        }
        out
    }
}

/// The define naming a weight dtype's storage. Block formats never get here: `upload` refuses
/// them (see [`crate::WgpuBackend`]'s `supports`).
pub fn weight_define(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "W_F32",
        DType::F16 => "W_F16",
        DType::BF16 => "W_BF16",
        q => unreachable!("no WGSL kernels for {q} weights"),
    }
}

/// Applies `//#if NAME` / `//#else` / `//#endif` (nestable) and prepends `enable f16;` under `F16_EXT`.
pub fn preprocess(shader: Shader, defines: &[&str]) -> Result<String> {
    let bad = |line: usize, msg: &str| Error::Backend {
        backend: "wgpu",
        msg: format!("shaders/{}:{line}: {msg}", shader.file()),
    };
    let mut out = String::new();
    if defines.contains(&"F16_EXT") {
        // Same line as the file's first, so compiler messages keep the file's line numbers.
        out.push_str("enable f16; ");
    }
    // Stack of (this branch active, parent active).
    let mut stack: Vec<(bool, bool)> = Vec::new();
    let active = |stack: &[(bool, bool)]| stack.last().is_none_or(|&(on, parent)| on && parent);
    for (i, line) in shader.source().lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("//#if ") {
            let parent = active(&stack);
            stack.push((defines.contains(&name.trim()), parent));
        } else if t == "//#else" {
            let top = stack
                .last_mut()
                .ok_or_else(|| bad(i + 1, "#else without #if"))?;
            top.0 = !top.0;
        } else if t == "//#endif" {
            stack
                .pop()
                .ok_or_else(|| bad(i + 1, "#endif without #if"))?;
        } else if active(&stack) {
            out.push_str(line);
        }
        // Directives and inactive lines stay as empty lines, so compiler messages keep the file's
        // line numbers.
        out.push('\n');
    }
    if !stack.is_empty() {
        return Err(bad(0, "unterminated #if"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant of every shader parses and validates with naga (the compiler wgpu uses), with
    /// the f16 and subgroup capabilities the variants may need.
    #[test]
    fn every_shader_variant_validates_with_naga() {
        use naga::valid::{Capabilities, ValidationFlags, Validator};
        let mut checked = 0;
        for shader in Shader::ALL {
            for defines in shader.variants() {
                let src = preprocess(shader, &defines).unwrap();
                let path = format!("shaders/{} {defines:?}", shader.file());
                let module = naga::front::wgsl::parse_str(&src)
                    .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&src, &path)));
                let mut caps =
                    Capabilities::SHADER_FLOAT16 | Capabilities::SHADER_FLOAT16_IN_FLOAT32;
                if defines.contains(&"SUBGROUPS") {
                    caps |= Capabilities::SUBGROUP;
                }
                Validator::new(ValidationFlags::all(), caps)
                    .validate(&module)
                    .unwrap_or_else(|e| panic!("{}", e.emit_to_string_with_path(&src, &path)));
                checked += 1;
            }
        }
        assert!(checked >= 40, "only {checked} variants");
    }

    #[test]
    fn preprocessor_nests_and_keeps_line_numbers() {
        let src = preprocess(Shader::MatmulGemv, &["VEC", "W_BF16"]).unwrap();
        assert_eq!(
            src.lines().count(),
            Shader::MatmulGemv.source().lines().count()
        );
        assert!(src.contains("array<vec4<u32>>") && !src.contains("array<vec4<f16>>"));
        let f16 = preprocess(Shader::MatmulGemv, &["VEC", "W_F16", "F16_EXT"]).unwrap();
        assert!(f16.starts_with("enable f16;") && f16.contains("array<vec4<f16>>"));
    }
}
