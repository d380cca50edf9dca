//! Kernel sources: one `.wgsl` per op under `shaders/`, embedded at build time, specialised by a tiny
//! line preprocessor (`//#if NAME`, `//#else`, `//#endif`, `//#include FILE`) and compiled lazily
//! into cached pipelines.
//!
//! Defines a variant may set: `W_F32` / `W_F16` / `W_BF16` (weight storage; 16-bit weights are read as
//! packed `u32` pairs unless `F16_EXT` is set too, which reads `f16` storage with `enable f16;`),
//! one of the block formats `Q8_0`, `Q4_0`, `Q4_1`, `Q5_0`, `Q4_K`, `Q5_K`, `Q6_K` (the `*_quant`
//! shaders, decoding with `shaders/quant.wgsl`), `SUBGROUPS` (subgroup reductions instead of
//! workgroup memory), plus per-op switches (`VEC`, `ADD`, `SPLIT`, `COMBINE`).

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
    EmbeddingQuant,
    MatmulGemv,
    MatmulGemvQuant,
    MatmulTiled,
    MatmulTiledQuant,
    RmsNorm,
    Rope,
    Swiglu,
}

impl Shader {
    /// Every shader, for the naga validation test.
    pub const ALL: [Shader; 14] = [
        Shader::Add,
        Shader::Argmax,
        Shader::Attention,
        Shader::AttentionPrefill,
        Shader::Copy,
        Shader::Embedding,
        Shader::EmbeddingQuant,
        Shader::MatmulGemv,
        Shader::MatmulGemvQuant,
        Shader::MatmulTiled,
        Shader::MatmulTiledQuant,
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
            Shader::EmbeddingQuant => "embedding_quant.wgsl",
            Shader::MatmulGemv => "matmul_gemv.wgsl",
            Shader::MatmulGemvQuant => "matmul_gemv_quant.wgsl",
            Shader::MatmulTiled => "matmul_tiled.wgsl",
            Shader::MatmulTiledQuant => "matmul_tiled_quant.wgsl",
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
            Shader::EmbeddingQuant => include_str!("../../../shaders/embedding_quant.wgsl"),
            Shader::MatmulGemv => include_str!("../../../shaders/matmul_gemv.wgsl"),
            Shader::MatmulGemvQuant => include_str!("../../../shaders/matmul_gemv_quant.wgsl"),
            Shader::MatmulTiled => include_str!("../../../shaders/matmul_tiled.wgsl"),
            Shader::MatmulTiledQuant => include_str!("../../../shaders/matmul_tiled_quant.wgsl"),
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
            Shader::Add | Shader::Rope | Shader::Swiglu => out.push(vec![]),
            // The KV cache's dtypes (ops/attention.rs `kv_defines`, ops/copy.rs `defines`).
            Shader::AttentionPrefill => KV_CACHE.iter().for_each(|kv| out.push(kv.to_vec())),
            Shader::Copy => {
                for kv in [&[][..], &["KV_16", "KV_F16"], &["KV_16", "KV_BF16"]] {
                    out.push(kv.to_vec());
                }
            }
            Shader::Argmax => sg.iter().for_each(|s| out.push(with(&[], *s))),
            Shader::Attention => {
                for kv in KV_CACHE {
                    for s in sg {
                        out.push(with(kv, s));
                        out.push(with(&with(kv, Some("SPLIT")), s));
                    }
                }
                out.push(vec!["COMBINE"]);
            }
            Shader::Embedding | Shader::MatmulTiled => {
                weights[..3].iter().for_each(|w| out.push(w.to_vec()))
            }
            Shader::EmbeddingQuant | Shader::MatmulTiledQuant => {
                QUANT_DEFINES.iter().for_each(|q| out.push(vec![*q]))
            }
            Shader::MatmulGemvQuant => {
                for q in QUANT_DEFINES {
                    sg.iter().for_each(|s| out.push(with(&[q], *s)));
                }
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

/// The KV-cache storage variants of the attention shaders: f32, f16 (packed words or `enable f16`),
/// bf16.
const KV_CACHE: [&[&str]; 4] = [&[], &["KV_F16"], &["KV_F16", "F16_EXT"], &["KV_BF16"]];

/// The block-format defines of `shaders/quant.wgsl`, in [`DType::QUANTIZED`] order.
const QUANT_DEFINES: [&str; 7] = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q4_K", "Q5_K", "Q6_K"];

/// The define naming a weight dtype's storage: `W_F32`/`W_F16`/`W_BF16` for the float shaders,
/// the format's define (`Q4_K`, ...) for the `*_quant` ones. A float-only shader compiled with a
/// block format's define fails to compile (no `w_at`): an error naming the shader, not a panic.
pub fn weight_define(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "W_F32",
        DType::F16 => "W_F16",
        DType::BF16 => "W_BF16",
        DType::Q8_0 => QUANT_DEFINES[0],
        DType::Q4_0 => QUANT_DEFINES[1],
        DType::Q4_1 => QUANT_DEFINES[2],
        DType::Q5_0 => QUANT_DEFINES[3],
        DType::Q4K => QUANT_DEFINES[4],
        DType::Q5K => QUANT_DEFINES[5],
        DType::Q6K => QUANT_DEFINES[6],
    }
}

/// Files that shaders may `//#include` (shared helpers; no entry point of their own).
const INCLUDES: [(&str, &str); 1] = [("quant.wgsl", include_str!("../../../shaders/quant.wgsl"))];

/// Applies `//#if NAME` / `//#else` / `//#endif` (nestable) and `//#include FILE`, and prepends
/// `enable f16;` under `F16_EXT`. An included file (one of [`INCLUDES`], preprocessed with the same
/// defines) is appended after the shader's last line rather than spliced in (WGSL declarations may
/// come in any order), so compiler messages keep the shader's line numbers; its lines follow a
/// `// ---- shaders/FILE ----` marker.
pub fn preprocess(shader: Shader, defines: &[&str]) -> Result<String> {
    let mut out = String::new();
    if defines.contains(&"F16_EXT") {
        // Same line as the file's first, so compiler messages keep the file's line numbers.
        out.push_str("enable f16; ");
    }
    let mut includes = Vec::new();
    expand(
        shader.file(),
        shader.source(),
        defines,
        &mut out,
        &mut includes,
    )?;
    for name in includes {
        let (_, src) = INCLUDES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| bad_directive(shader.file(), 0, &format!("unknown include {name}")))?;
        out.push_str(&format!("// ---- shaders/{name} ----\n"));
        expand(name, src, defines, &mut out, &mut Vec::new())?;
    }
    Ok(out)
}

fn bad_directive(file: &str, line: usize, msg: &str) -> Error {
    Error::Backend {
        backend: "wgpu",
        msg: format!("shaders/{file}:{line}: {msg}"),
    }
}

/// The conditional lines of `src` (file `file`) into `out`, directives and inactive lines left
/// empty; the names of active `//#include` lines into `includes`.
fn expand<'a>(
    file: &str,
    src: &'a str,
    defines: &[&str],
    out: &mut String,
    includes: &mut Vec<&'a str>,
) -> Result<()> {
    let bad = |line: usize, msg: &str| bad_directive(file, line, msg);
    // Stack of (this branch active, parent active).
    let mut stack: Vec<(bool, bool)> = Vec::new();
    let active = |stack: &[(bool, bool)]| stack.last().is_none_or(|&(on, parent)| on && parent);
    for (i, line) in src.lines().enumerate() {
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
        } else if let Some(name) = t.strip_prefix("//#include ") {
            if active(&stack) {
                includes.push(name.trim());
            }
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
    Ok(())
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

    /// `//#include quant.wgsl` appends the helpers for the one format defined, after the shader's
    /// own lines (so compiler line numbers stay the shader's).
    #[test]
    fn includes_are_appended_with_the_same_defines() {
        let src = preprocess(Shader::MatmulGemvQuant, &["Q4_K"]).unwrap();
        let (own, included) = src.split_once("// ---- shaders/quant.wgsl ----\n").unwrap();
        assert_eq!(
            own.lines().count(),
            Shader::MatmulGemvQuant.source().lines().count()
        );
        assert!(!own.contains("fn k_scale") && included.contains("fn k_scale"));
        assert!(included.contains("const QB: u32 = 144u;") && !included.contains("34u;"));
        let missing = Shader::MatmulGemvQuant
            .source()
            .replace("quant.wgsl", "nope.wgsl");
        let mut out = String::new();
        let mut inc = Vec::new();
        expand("x.wgsl", &missing, &[], &mut out, &mut inc).unwrap();
        assert_eq!(inc, ["nope.wgsl"]);
    }
}
