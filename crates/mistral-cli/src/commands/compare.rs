//! `mistral compare`: runs the same tokens on the CPU reference and on another backend with every
//! named intermediate captured, prints the error of each, and names the first layer and op where
//! the backend leaves the tolerance. The tool for "the GPU logits are off: where?".

use mistral_core::testutil::Tolerance;
use mistral_core::{Backend, Error, Result};
use mistral_cpu::CpuBackend;
use mistral_model::capture::Capture;
use mistral_model::{HostWeights, Logits, MistralConfig, Model, ModelOptions};

use super::OnModel;
use crate::args::CompareArgs;

pub fn run(a: CompareArgs) -> Result<()> {
    let tokens = super::parse_tokens(&a.tokens)?;
    if a.tolerance.is_nan() || a.tolerance <= 0.0 {
        return Err(Error::InvalidInput(format!(
            "--tolerance must be positive, got {}",
            a.tolerance
        )));
    }
    let task = Task {
        tokens,
        tol: Tolerance::abs(a.tolerance),
        host: super::load_host(&a.model)?,
        max_batch: a.model.max_batch,
    };
    super::with_model(&a.model, task)
}

struct Task {
    tokens: Vec<u32>,
    tol: Tolerance,
    /// The same weights and config (window override, quantization) the backend got.
    host: (MistralConfig, HostWeights),
    max_batch: usize,
}

fn captured<B: Backend>(model: &mut Model<B>, tokens: &[u32]) -> Result<Capture> {
    model.capture = Some(Capture::default());
    model.forward(tokens, 0, Logits::All)?;
    Ok(model.capture.take().unwrap_or_default())
}

impl OnModel for Task {
    fn run<B: Backend>(self, mut model: Model<B>) -> Result<()> {
        let got = captured(&mut model, &self.tokens)?;
        let (cfg, host) = self.host;
        let opts = ModelOptions {
            max_batch: self.max_batch,
            context_limit: model.opts().context_limit,
            // The reference stores its cache as the backend does: both round the same values.
            kv_dtype: Some(model.kv_dtype()),
        };
        let mut cpu = Model::new(CpuBackend::new(), cfg, &host, opts, &mut |_, _| {})?;
        let want = captured(&mut cpu, &self.tokens)?;
        println!(
            "{} against the CPU reference, {} tokens, tolerance {:e}",
            model.backend_name(),
            self.tokens.len(),
            self.tol.abs
        );
        println!("{:<24} {:>12} {:>12}", "intermediate", "max |err|", "NMSE");
        let mut first_bad = None;
        for (name, r) in got.compare_all(&want, self.tol) {
            match r {
                Ok(s) => println!("{name:<24} {:>12.3e} {:>12.3e}", s.max_abs, s.nmse),
                Err(msg) => {
                    println!("{name:<24} {msg}");
                    first_bad.get_or_insert(name);
                }
            }
        }
        match first_bad {
            None => {
                println!("every intermediate within {:e}", self.tol.abs);
                Ok(())
            }
            Some(name) => Err(Error::Backend {
                backend: "compare",
                msg: format!("first divergence at {name}"),
            }),
        }
    }
}
