//! `mistral-bench` (run it as `cargo xtask bench`): every backend present, its measured ceilings,
//! kernels at Mistral-7B shapes and the model end to end, as a markdown table and JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mistral_benches::report::{markdown, BenchFile, Report};
use mistral_benches::suite::{self, Options};
use mistral_benches::weights::RandomWeights;
use mistral_core::DType;
use mistral_cpu::CpuBackend;
use mistral_cuda::CudaBackend;
use mistral_model::quantize::Scheme;
use mistral_wgpu::{WgpuBackend, WgpuOptions};

#[derive(Parser, Debug)]
#[command(
    name = "mistral-bench",
    about = "Benchmark each backend against the card's measured limits"
)]
struct Args {
    /// cpu, cuda, wgpu or all present (default).
    #[arg(long, default_value = "all")]
    backend: String,
    /// A subset that finishes in under a minute.
    #[arg(long)]
    quick: bool,
    /// Only figures whose `group/name` contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Real weights (a Hugging Face directory or a GGUF file) instead of random ones.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Write every figure as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print the change against an earlier `--json` file.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Weight dtype for random weights (with --model, the model's own): f32, f16, bf16 or a
    /// block format (q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k; CPU only for now).
    #[arg(long, default_value = "bf16")]
    dtype: String,
    /// Random weights quantized as a llama.cpp mixture (q4_k_m, q5_k_m) or one block format for
    /// every matrix (q8_0, q4_0, q4_1, q5_0, q4_k, q5_k, q6_k), by llama.cpp's per-tensor rules;
    /// overrides --dtype.
    #[arg(long)]
    quant: Option<String>,
    /// Run the CPU backend on the true 7B shape instead of the reduced one (slow: minutes).
    #[arg(long)]
    cpu_full: bool,
    /// Decode steps per end-to-end run (default: the plan's; fewer keeps a CPU 7B run short).
    #[arg(long)]
    decode_tokens: Option<usize>,
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// UTC date and time, `YYYY-MM-DD HH:MM`, from the system clock (civil-from-days).
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn bench<B: RandomWeights>(
    make: &dyn Fn() -> mistral_core::Result<B>,
    card: String,
    driver: String,
    opts: &Options,
) -> Result<Report, String> {
    let b = &make().map_err(|e| e.to_string())?;
    eprintln!(
        "benchmarking {} on {card}{}",
        b.name(),
        if opts.reduced { " (reduced model)" } else { "" }
    );
    let mut rows = Vec::new();
    let layers_note = suite::run(b, make, opts, &mut |row| {
        eprintln!("  {:<60} {:>12.4} {}", row.key(), row.value, row.unit);
        rows.push(row)
    })
    .map_err(|e| format!("{}: {e}", b.name()))?;
    let reduced = match (opts.reduced, layers_note) {
        (true, _) if opts.model_dir.is_some() => Some(
            "software device: the reduced plan (short prompts and blocks, few runs) on the given model".into(),
        ),
        (true, _) => Some(
            "software device: the reduced shape in benches/src/suite.rs (REDUCED), not Mistral-7B; \
             figures exercise the code, they are not 7B numbers"
                .into(),
        ),
        (false, n) => n,
    };
    Ok(Report {
        backend: b.name(),
        card,
        driver,
        git_commit: git_commit(),
        date: now(),
        reduced,
        rows,
    })
}

fn main() -> ExitCode {
    let a = Args::parse();
    let Some(dtype) = DType::parse(&a.dtype) else {
        eprintln!(
            "error: --dtype {:?}: expected f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q4_k, q5_k or q6_k",
            a.dtype
        );
        return ExitCode::FAILURE;
    };
    let previous = match &a.compare {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<BenchFile>(&t).map_err(|e| e.to_string()))
        {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("error: --compare {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    // Real weights decide the dtype every figure is computed for.
    let dtype = match &a.model {
        Some(dir) => match mistral_model::HostWeights::load(dir) {
            Ok((_, host)) => host.dtype(),
            Err(e) => {
                eprintln!("error: --model: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => dtype,
    };
    let scheme = match a.quant.as_deref().map(Scheme::parse) {
        Some(Ok(s)) if a.model.is_some() => {
            eprintln!(
                "error: --quant {}: random weights only; --model brings its own types",
                s.name()
            );
            return ExitCode::FAILURE;
        }
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("error: --quant: {e}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let dtype = scheme.as_ref().map_or(dtype, |s| s.default_dtype());
    let base = Options {
        quick: a.quick,
        filter: a.filter.clone(),
        model_dir: a.model.clone(),
        reduced: false,
        dtype,
        scheme,
        decode_tokens: a.decode_tokens,
    };
    let want = |name: &str| a.backend == "all" || a.backend == name;
    if !["all", "cpu", "cuda", "wgpu"].contains(&a.backend.as_str()) {
        eprintln!(
            "error: --backend {:?}: expected cpu, cuda, wgpu or all",
            a.backend
        );
        return ExitCode::FAILURE;
    }
    let mut reports = Vec::new();
    let mut failed = false;
    let mut record = |r: Result<Report, String>| match r {
        Ok(r) => reports.push(r),
        Err(e) => {
            eprintln!("error: {e}");
            failed = true;
        }
    };
    if want("cpu") {
        let opts = Options {
            reduced: !a.cpu_full,
            ..base.clone()
        };
        record(bench(
            &|| Ok(CpuBackend::new()),
            cpu_name(),
            "-".into(),
            &opts,
        ));
    }
    if want("wgpu") {
        // The adapter the backend prefers (discrete first), named by the backend itself.
        match WgpuBackend::new(WgpuOptions::default()).map(|b| b.adapter().clone()) {
            Ok(info) => {
                // A software adapter (lavapipe) gets the reduced model.
                let opts = Options {
                    reduced: info.device_type == "Cpu",
                    ..base.clone()
                };
                let make = || {
                    WgpuBackend::new(WgpuOptions {
                        adapter: Some(info.index),
                        ..Default::default()
                    })
                };
                record(bench(
                    &make,
                    format!("{} ({})", info.name, info.backend),
                    info.driver.clone(),
                    &opts,
                ));
            }
            Err(e) if a.backend == "wgpu" => record(Err(e.to_string())),
            Err(e) => eprintln!("wgpu: {e}, skipped"),
        }
    }
    if want("cuda") {
        match CudaBackend::new(0) {
            Ok(b) => {
                let (card, driver) = (b.device_name().to_string(), b.driver_version());
                drop(b);
                // The CUDA emulator (crates/cuda-emu, CI) is a software device: reduced model.
                let opts = Options {
                    reduced: card.contains("CUDA emulator"),
                    ..base.clone()
                };
                record(bench(&|| CudaBackend::new(0), card, driver, &opts));
            }
            Err(e) if a.backend == "cuda" => record(Err(e.to_string())),
            Err(e) => eprintln!("cuda: {e}, skipped"),
        }
    }
    let file = BenchFile { reports };
    println!("{}", markdown(&file, previous.as_ref()));
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&file).expect("report serialises");
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
