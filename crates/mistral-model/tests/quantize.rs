//! `mistral quantize`: the types each scheme gives each tensor, the written file against the
//! in-memory quantization (logits bit for bit, which proves the q/k permutation round trip), GGUF
//! sources, tied embeddings, one-line errors, and (ignored) the quality table.

use std::path::{Path, PathBuf};

use mistral_core::{DType, HostTensor};
use mistral_cpu::CpuBackend;
use mistral_gguf::GgufFile;
use mistral_model::gguf::gguf_name;
use mistral_model::quantize::{quantize_weights, write_quantized_gguf, Scheme, SCHEME_NAMES};
use mistral_model::random::{write_random_model, RandomModel};
use mistral_model::weights::expected_tensors;
use mistral_model::{HostWeights, Logits, MistralConfig, Model, ModelOptions};

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p =
            std::env::temp_dir().join(format!("mistral-quantize-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden")
        .join(name)
}

/// A random model whose rows are whole K-quant blocks (256): hidden 256, ffn 512, 8 layers (so
/// `use_more_bits` picks layers 0, 3, 6 and 7), GQA 4/2, head_dim 64.
fn k_config(tied: bool, vocab: usize) -> String {
    format!(
        r#"{{"architectures":["MistralForCausalLM"],"model_type":"mistral","hidden_act":"silu",
        "hidden_size":256,"intermediate_size":512,"num_hidden_layers":8,"num_attention_heads":4,
        "num_key_value_heads":2,"head_dim":64,"vocab_size":{vocab},"rms_norm_eps":1e-5,
        "rope_theta":10000.0,"sliding_window":16,"max_position_embeddings":4096,
        "tie_word_embeddings":{tied},"bos_token_id":1,"eos_token_id":2}}"#
    )
}

fn random_model(dir: &Path, config: &str, dtype: DType, seed: u64) {
    let opts = RandomModel {
        dtype,
        shards: 1,
        seed,
    };
    write_random_model(config, dir, &opts, &mut |_, _| {}).unwrap();
}

fn logits(cfg: &MistralConfig, w: &HostWeights, tokens: &[u32]) -> Vec<f32> {
    let opts = ModelOptions {
        max_batch: 64,
        context_limit: 256,
        kv_dtype: None,
    };
    let mut m = Model::new(CpuBackend::new(), cfg.clone(), w, opts, &mut |_, _| {}).unwrap();
    m.forward(tokens, 0, Logits::All).unwrap()
}

fn tokens(vocab: usize, n: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 7919 + 13) % vocab) as u32).collect()
}

/// Writes `src` with `scheme`, checks every tensor's type and shape against
/// [`Scheme::tensor_dtype`], and checks that the file's logits equal the in-memory quantization's
/// bit for bit. Returns the GGUF file.
fn write_and_compare(src: &Path, out: &Path, scheme: Scheme) -> GgufFile {
    let report = write_quantized_gguf(src, out, &scheme, None, &[], &mut |_, _| {}).unwrap();
    let (cfg, host) = HostWeights::load(src).unwrap();
    let f = GgufFile::open(out).unwrap();
    let expected = expected_tensors(&cfg);
    assert_eq!(f.tensors().len(), expected.len());
    assert_eq!(report.tensors.len(), expected.len());
    for (hf, shape) in &expected {
        let t = f.tensor(&gguf_name(hf)).unwrap();
        assert_eq!(&t.shape(), shape, "{hf}");
        assert_eq!(t.dtype, scheme.tensor_dtype(hf, shape, &cfg).dtype, "{hf}");
    }
    assert_eq!(
        f.get_u64("general.file_type").unwrap(),
        Some(u64::from(scheme.file_type()))
    );
    assert_eq!(f.get_u64("general.quantization_version").unwrap(), Some(2));

    let (qcfg, from_file) = HostWeights::load(out).unwrap();
    let in_memory = quantize_weights(&host, &cfg, &scheme).unwrap();
    for (a, b) in from_file.iter().zip(in_memory.iter()) {
        assert_eq!(a.dtype, b.dtype);
        assert!(
            a.bytes.as_slice() == b.bytes.as_slice(),
            "{scheme:?}: bytes differ"
        );
    }
    let ids = tokens(cfg.vocab_size, 24);
    let want = logits(&cfg, &in_memory, &ids);
    let got = logits(&qcfg, &from_file, &ids);
    assert!(got == want, "{scheme:?}: file logits differ from in-memory");
    f
}

#[test]
fn k_quant_schemes_choose_llama_cpp_types_and_round_trip() {
    let s = Scratch::new("k");
    let src = s.0.join("src");
    random_model(&src, &k_config(false, 512), DType::BF16, 1);
    for name in ["q4_k_m", "q5_k_m", "q4_k", "q6_k"] {
        let scheme = Scheme::parse(name).unwrap();
        let f = write_and_compare(&src, &s.0.join(format!("{name}.gguf")), scheme);
        let ty = |n: &str| f.tensor(n).unwrap().dtype;
        assert_eq!(ty("output.weight"), DType::Q6K, "{name}");
        assert_eq!(ty("blk.0.attn_norm.weight"), DType::F32, "{name}");
        assert_eq!(ty("output_norm.weight"), DType::F32, "{name}");
        for l in 0..8 {
            let v = ty(&format!("blk.{l}.attn_v.weight"));
            let down = ty(&format!("blk.{l}.ffn_down.weight"));
            let q = ty(&format!("blk.{l}.attn_q.weight"));
            let more = [0, 3, 6, 7].contains(&l);
            match name {
                "q4_k_m" => {
                    let want = if more { DType::Q6K } else { DType::Q4K };
                    assert_eq!((v, down, q), (want, want, DType::Q4K), "{name} layer {l}");
                }
                "q5_k_m" => {
                    let want = if more { DType::Q6K } else { DType::Q5K };
                    assert_eq!((v, down, q), (want, want, DType::Q5K), "{name} layer {l}");
                }
                // Q4_K_S: attn_v of the first 4 layers, ffn_down of the first eighth at Q5_K.
                "q4_k" => {
                    let v_want = if l < 4 { DType::Q5K } else { DType::Q4K };
                    let d_want = if l < 1 { DType::Q5K } else { DType::Q4K };
                    assert_eq!(
                        (v, down, q),
                        (v_want, d_want, DType::Q4K),
                        "{name} layer {l}"
                    );
                }
                _ => assert_eq!((v, down, q), (DType::Q6K, DType::Q6K, DType::Q6K)),
            }
        }
        assert_eq!(
            f.get_u64("llama.attention.sliding_window").unwrap(),
            Some(16)
        );
        assert_eq!(f.get_str("general.architecture").unwrap(), Some("llama"));
    }
}

#[test]
fn legacy_schemes_on_a_golden_model_and_their_fallbacks() {
    let s = Scratch::new("legacy");
    let src = golden("gqa4_f32");
    for name in ["q8_0", "q4_0", "q4_1", "q5_0"] {
        let scheme = Scheme::parse(name).unwrap();
        let out = s.0.join(format!("{name}.gguf"));
        let f = write_and_compare(&src, &out, scheme);
        // Rows of 64: output.weight wants Q6_K and falls back to Q8_0, as llama.cpp does.
        assert_eq!(f.tensor("output.weight").unwrap().dtype, DType::Q8_0);
        assert_eq!(
            f.tensor("blk.1.ffn_down.weight").unwrap().dtype,
            scheme.default_dtype()
        );
    }
    // Under Q4_K_M every matrix of this 64-wide model falls back, and the report names them: 15,
    // as output.weight's own rule already picks Q8_0 for rows that are not whole Q4_K blocks.
    // Of 2 layers, use_more_bits picks layer 1 only: its attn_v wants Q6_K and gets Q8_0.
    let r = write_quantized_gguf(
        &src,
        &s.0.join("km.gguf"),
        &Scheme::Q4KM,
        Some(None),
        &[],
        &mut |_, _| {},
    )
    .unwrap();
    let fb = r.fallbacks();
    assert_eq!(fb.len(), 15, "{:?}", r.dtype_counts());
    assert!(fb
        .iter()
        .any(|t| t.name == "blk.0.attn_q.weight" && t.dtype == DType::Q5_0));
    assert!(fb
        .iter()
        .any(|t| t.name == "blk.1.attn_v.weight" && t.dtype == DType::Q8_0));
    let f = GgufFile::open(&s.0.join("km.gguf")).unwrap();
    // --sliding-window none: no window recorded.
    assert_eq!(f.get_u64("llama.attention.sliding_window").unwrap(), None);
}

#[test]
fn a_gguf_source_keeps_its_rows_and_metadata() {
    let s = Scratch::new("gguf");
    let src = golden("gguf/f32/model.gguf");
    for name in ["q4_k_m", "q8_0"] {
        let out = s.0.join(format!("{name}.gguf"));
        write_and_compare(&src, &out, Scheme::parse(name).unwrap());
        let (a, b) = (GgufFile::open(&src).unwrap(), GgufFile::open(&out).unwrap());
        for (k, v) in a.metadata() {
            if k != "general.file_type" {
                assert_eq!(b.get(k), Some(v), "{k}");
            }
        }
    }
    // Re-quantizing the output (Q4_K_M to Q4_K_M) copies every tensor's bytes.
    let again = s.0.join("again.gguf");
    write_quantized_gguf(
        &s.0.join("q4_k_m.gguf"),
        &again,
        &Scheme::Q4KM,
        Some(Some(32)),
        &[],
        &mut |_, _| {},
    )
    .unwrap();
    let (a, b) = (
        GgufFile::open(&s.0.join("q4_k_m.gguf")).unwrap(),
        GgufFile::open(&again).unwrap(),
    );
    for t in a.tensors() {
        let u = b.tensor(&t.name).unwrap();
        assert!(a.tensor_bytes(t).as_slice() == b.tensor_bytes(u).as_slice());
    }
    assert_eq!(
        b.get_u64("llama.attention.sliding_window").unwrap(),
        Some(32)
    );
}

#[test]
fn tied_embeddings_are_quantized_once_with_the_output_rule() {
    let s = Scratch::new("tied");
    let src = s.0.join("src");
    random_model(&src, &k_config(true, 512), DType::F32, 2);
    let f = write_and_compare(&src, &s.0.join("t.gguf"), Scheme::Q4KM);
    assert!(f.tensor("output.weight").is_none());
    assert_eq!(f.tensor("token_embd.weight").unwrap().dtype, DType::Q6K);
    let (cfg, host) = HostWeights::load(&src).unwrap();
    let q = quantize_weights(&host, &cfg, &Scheme::Q4KM).unwrap();
    let ptr = |t: &HostTensor| t.bytes.as_slice().as_ptr();
    assert_eq!(
        ptr(&q.embed),
        ptr(&q.lm_head),
        "lm_head shares the embedding's bytes"
    );
}

#[test]
fn errors_are_one_line() {
    let e = Scheme::parse("q3_k").unwrap_err().to_string();
    assert!(e.contains(SCHEME_NAMES) && !e.contains('\n'), "{e}");
    assert_eq!(Scheme::parse("Q4_K_M").unwrap(), Scheme::Q4KM);
    for n in SCHEME_NAMES.split(", ") {
        assert_eq!(Scheme::parse(n).unwrap().name(), n);
    }

    let s = Scratch::new("errors");
    let src = golden("gqa4_f32");
    let q8 = Scheme::Uniform(DType::Q8_0);
    let mut none = |_: u64, _: u64| {};
    let err = |r: mistral_core::Result<_>| {
        let e = r
            .map(|_: mistral_model::quantize::QuantizeReport| ())
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\n'), "{e}");
        e
    };
    let missing_dir = s.0.join("no/such/dir/out.gguf");
    let e = err(write_quantized_gguf(
        &src,
        &missing_dir,
        &q8,
        None,
        &[],
        &mut none,
    ));
    assert!(e.contains("does not exist"), "{e}");
    let e = err(write_quantized_gguf(
        &s.0.join("nope"),
        &s.0.join("o.gguf"),
        &q8,
        None,
        &[],
        &mut none,
    ));
    assert!(e.contains("nope"), "{e}");

    // A checkpoint with an i32 weight.
    let bad = s.0.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(src.join("config.json"), bad.join("config.json")).unwrap();
    let cfg = MistralConfig::from_file(&src.join("config.json")).unwrap();
    let datas: Vec<(String, Vec<usize>, Vec<u8>)> = expected_tensors(&cfg)
        .into_iter()
        .map(|(n, shape)| {
            let len = shape.iter().product::<usize>() * 4;
            (n, shape, vec![0u8; len])
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = datas
        .iter()
        .enumerate()
        .map(|(i, (n, shape, d))| {
            let dt = if i == 1 {
                safetensors::Dtype::I32
            } else {
                safetensors::Dtype::F32
            };
            (
                n.clone(),
                safetensors::tensor::TensorView::new(dt, shape.clone(), d).unwrap(),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, &None, &bad.join("model.safetensors")).unwrap();
    let e = err(write_quantized_gguf(
        &bad,
        &s.0.join("o.gguf"),
        &q8,
        None,
        &[],
        &mut none,
    ));
    assert!(e.contains("unsupported dtype"), "{e}");
    assert!(!s.0.join("o.gguf").exists());
}

// ---------------------------------------------------------------------------------------------
// Quality: KL divergence and top-1 agreement against the unquantized model.

/// Mean KL(P_ref ‖ P_q) over positions (nats) and the fraction of positions whose argmax agrees,
/// from `[positions, vocab]` logits: what llama.cpp's `perplexity --kl-divergence` reports.
fn kl_top1(reference: &[f32], quant: &[f32], vocab: usize) -> (f64, f64) {
    let log_softmax = |row: &[f32]| -> Vec<f64> {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let lse = row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln() + m;
        row.iter().map(|&x| x as f64 - lse).collect()
    };
    let argmax = |row: &[f32]| {
        row.iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |a, (i, &x)| if x > a.1 { (i, x) } else { a },
            )
            .0
    };
    let (mut kl, mut agree, mut n) = (0.0, 0usize, 0usize);
    for (r, q) in reference.chunks_exact(vocab).zip(quant.chunks_exact(vocab)) {
        let (lp, lq) = (log_softmax(r), log_softmax(q));
        kl += lp
            .iter()
            .zip(&lq)
            .map(|(a, b)| a.exp() * (a - b))
            .sum::<f64>();
        agree += usize::from(argmax(r) == argmax(q));
        n += 1;
    }
    (kl / n as f64, agree as f64 / n as f64)
}

fn golden_tokens(dir: &Path) -> Vec<u32> {
    let bytes = std::fs::read(dir.join("golden.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("tokens").unwrap();
    t.data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as u32)
        .collect()
}

/// Prints the quality table (Markdown). Run:
/// `cargo test -p mistral-model --test quantize -- --ignored --nocapture quality_table`
#[test]
#[ignore = "prints the quality table; a few seconds"]
fn quality_table() {
    let s = Scratch::new("quality");
    let k_src = s.0.join("k256");
    random_model(&k_src, &k_config(false, 2048), DType::BF16, 3);
    let mut models: Vec<(String, PathBuf, Vec<u32>)> = Vec::new();
    for g in [
        "gqa4_f32",
        "window8_bf16",
        "nowindow_f32",
        "head128_bf16_sharded",
    ] {
        let dir = golden(g);
        let t = golden_tokens(&dir);
        models.push((g.to_string(), dir, t));
    }
    models.push(("random k256 (8 layers)".into(), k_src, tokens(2048, 64)));
    let smol = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if smol.is_file() {
        // A ChatML prompt's shape: <|im_start|>system … <|im_end|> <|im_start|>user … (ids fixed).
        let mut ids = vec![1u32, 9690, 198];
        ids.extend((0..60).map(|i| 100 + ((i * 2654435761u64 as usize) % 30000) as u32));
        ids.extend([2, 198, 1, 4093, 198]);
        models.push(("SmolLM2-135M Q4_1 (real)".into(), smol, ids));
    }
    let schemes = ["q8_0", "q6_k", "q5_k_m", "q5_0", "q4_k_m", "q4_1", "q4_0"];
    println!("| model | scheme | bits/weight | fallbacks | top-1 agreement | mean KL (nats) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, src, ids) in &models {
        let (cfg, host) = HostWeights::load(src).unwrap();
        let reference = logits(&cfg, &host, ids);
        for name in schemes {
            let scheme = Scheme::parse(name).unwrap();
            let out = s.0.join("q.gguf");
            let r = write_quantized_gguf(src, &out, &scheme, None, &[], &mut |_, _| {}).unwrap();
            let (qcfg, q) = HostWeights::load(&out).unwrap();
            let got = logits(&qcfg, &q, ids);
            let (kl, top1) = kl_top1(&reference, &got, cfg.vocab_size);
            println!(
                "| {label} | {name} | {:.2} | {} | {:.1}% | {kl:.2e} |",
                r.bits_per_weight(),
                r.fallbacks().len(),
                top1 * 100.0
            );
        }
    }
}
