//! Writes a Hugging Face-format model directory with random weights, of any Mistral shape.
//!
//! Data is generated in fixed-size chunks, each from its own seed (tensor index, chunk index), so
//! the output is the same whatever the thread count, and streamed to disk: the 14.5 GB of the 7B
//! shape never sit in memory. Linear and embedding weights are uniform with std 0.02 (the model's
//! `initializer_range`), RMSNorm weights uniform in [0.9, 1.1].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use mistral_core::testutil::Rng;
use mistral_core::{DType, Error, Result};
use rayon::prelude::*;

use crate::weights::expected_tensors;
use crate::MistralConfig;

/// Elements generated per task.
const CHUNK: usize = 1 << 20;

/// Options of [`write_random_model`].
#[derive(Clone, Debug)]
pub struct RandomModel {
    pub dtype: DType,
    pub shards: usize,
    pub seed: u64,
}

/// Writes `config.json` (the given config text, `torch_dtype` set to `dtype`) and random weights
/// into `out`, as one `model.safetensors` or `shards` files plus `model.safetensors.index.json`.
pub fn write_random_model(
    config_text: &str,
    out: &Path,
    opts: &RandomModel,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<()> {
    let cfg = MistralConfig::from_json(config_text)
        .map_err(|m| Error::InvalidInput(format!("config: {m}")))?;
    let Some(st_name) = opts.dtype.safetensors_name() else {
        return Err(Error::InvalidInput(format!(
            "a safetensors model cannot hold {} weights (f32, f16 or bf16)",
            opts.dtype
        )));
    };
    if opts.shards == 0 {
        return Err(Error::InvalidInput("--shards must be at least 1".into()));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut config: serde_json::Value =
        serde_json::from_str(config_text).map_err(|e| Error::InvalidInput(e.to_string()))?;
    config["torch_dtype"] = match opts.dtype {
        DType::F32 => "float32",
        DType::F16 => "float16",
        _ => "bfloat16",
    }
    .into();
    let path = out.join("config.json");
    let text =
        serde_json::to_string_pretty(&config).map_err(|e| Error::InvalidInput(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;

    let tensors = expected_tensors(&cfg);
    let size = |shape: &[usize]| shape.iter().product::<usize>() * opts.dtype.block_bytes();
    let total: usize = tensors.iter().map(|(_, s)| size(s)).sum();
    // Split into shards of about equal bytes, keeping file order.
    let per_shard = total.div_ceil(opts.shards);
    let mut shards: Vec<Vec<usize>> = vec![Vec::new()];
    let mut acc = 0;
    for (i, (_, shape)) in tensors.iter().enumerate() {
        if acc >= per_shard && shards.len() < opts.shards {
            shards.push(Vec::new());
            acc = 0;
        }
        shards.last_mut().expect("one shard at least").push(i);
        acc += size(shape);
    }
    let n_files = shards.len();
    let name = |s: usize| {
        if opts.shards == 1 {
            "model.safetensors".to_string()
        } else {
            format!("model-{:05}-of-{:05}.safetensors", s + 1, n_files)
        }
    };
    let mut written = 0u64;
    let mut weight_map = serde_json::Map::new();
    for (s, members) in shards.iter().enumerate() {
        let file = out.join(name(s));
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
        let mut offset = 0;
        for &i in members {
            let (tname, shape) = &tensors[i];
            let end = offset + size(shape);
            header.insert(
                tname.clone(),
                serde_json::json!({"dtype": st_name, "shape": shape, "data_offsets": [offset, end]}),
            );
            weight_map.insert(tname.clone(), name(s).into());
            offset = end;
        }
        let mut head =
            serde_json::to_vec(&header).map_err(|e| Error::InvalidInput(e.to_string()))?;
        head.resize(head.len().div_ceil(8) * 8, b' ');
        let f = File::create(&file).map_err(|e| Error::io(&file, e))?;
        let mut w = BufWriter::with_capacity(1 << 22, f);
        let io = |e| Error::io(&file, e);
        w.write_all(&(head.len() as u64).to_le_bytes())
            .map_err(io)?;
        w.write_all(&head).map_err(io)?;
        for &i in members {
            let (tname, shape) = &tensors[i];
            let numel: usize = shape.iter().product();
            let is_norm = tname.ends_with("norm.weight");
            // Generate a few chunks in parallel, write them, repeat: bounded memory.
            let chunks: Vec<usize> = (0..numel.div_ceil(CHUNK)).collect();
            for group in chunks.chunks(rayon::current_num_threads() * 4) {
                let data: Vec<Vec<u8>> = group
                    .par_iter()
                    .map(|&c| {
                        let len = CHUNK.min(numel - c * CHUNK);
                        let mut rng = Rng::new(opts.seed ^ ((i as u64) << 32) ^ c as u64);
                        let vals: Vec<f32> = if is_norm {
                            rng.vec(len, 0.9, 1.1)
                        } else {
                            // Uniform on [-a, a] has std a/sqrt(3): a = 0.02·sqrt(3).
                            rng.vec(len, -0.034_641, 0.034_641)
                        };
                        opts.dtype.encode(&vals)
                    })
                    .collect();
                for d in data {
                    w.write_all(&d).map_err(io)?;
                    written += d.len() as u64;
                }
                progress(written, total as u64);
            }
        }
        w.flush().map_err(io)?;
    }
    if opts.shards > 1 {
        let index =
            serde_json::json!({"metadata": {"total_size": total}, "weight_map": weight_map});
        let path = out.join("model.safetensors.index.json");
        let text =
            serde_json::to_string_pretty(&index).map_err(|e| Error::InvalidInput(e.to_string()))?;
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
