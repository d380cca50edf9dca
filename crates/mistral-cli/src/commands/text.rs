//! What the text commands share: loading the tokenizer and chat format, building the sampler from
//! the options, and streaming a reply to stdout while watching for stop strings.

use std::io::Write;
use std::path::Path;

use mistral_core::{Error, Result};
use mistral_model::generate::{Flow, Sampler};
use mistral_text::sampling::{self, SamplerConfig, StopChecker};
use mistral_text::{StreamDecoder, TextModel, Tokenizer};

use crate::args::{SamplingArgs, TokenizerArgs};

/// Whether `path` names a GGUF file rather than a directory.
fn is_gguf(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// The tokenizer, chat format and stop ids named by `--tokenizer` (a directory, a .gguf file,
/// tokenizer.model or tokenizer.json), else those of `--model` (a GGUF file or a directory).
pub fn load_text_model(model: &Path, a: &TokenizerArgs) -> Result<TextModel> {
    match &a.tokenizer {
        Some(p) if p.is_dir() => TextModel::from_dir(p),
        Some(p) if is_gguf(p) => TextModel::from_gguf_path(p),
        Some(p) if p.extension().is_some_and(|e| e == "model") => {
            TextModel::new(Tokenizer::from_sentencepiece(p)?, None, true, false, &[])
        }
        Some(p) => TextModel::new(Tokenizer::from_tokenizer_json(p)?, None, true, false, &[]),
        // A file given as --model is a GGUF file, whatever its name (as the weight loader reads it).
        None if model.is_file() => TextModel::from_gguf_path(model),
        None => TextModel::from_dir(model),
    }
}

/// Where generation stops: the config's end-of-sequence ids and the text model's stop ids (EOS
/// and end of turn, e.g. `<|im_end|>`).
pub fn stop_ids(cfg: &mistral_model::MistralConfig, text: Option<&TextModel>) -> Vec<u32> {
    let mut ids = cfg.eos_ids();
    for &id in text.map(TextModel::stop_ids).unwrap_or_default() {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// Reads a prompt file, which must be UTF-8.
pub fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes)
        .map_err(|e| Error::InvalidInput(format!("{}: not UTF-8 text ({e})", path.display())))
}

/// The validated sampler settings of the options.
pub fn sampler_config(s: &SamplingArgs) -> Result<SamplerConfig> {
    let cfg = SamplerConfig {
        temperature: s.temperature,
        top_k: s.top_k,
        top_p: s.top_p,
        repetition_penalty: s.repetition_penalty,
        seed: s.seed,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// `mistral_text`'s sampler behind the model's sampling hook. Greedy decoding without a penalty
/// lets the device take the argmax.
pub struct TextSampler(pub sampling::Sampler);

impl Sampler for TextSampler {
    fn is_greedy(&self) -> bool {
        self.0.is_greedy() && self.0.config().repetition_penalty == 1.0
    }

    fn pick(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        self.0.sample(logits, history)
    }
}

/// Streams generated ids as text: complete characters only, stop strings cut off.
pub struct ReplyPrinter<'t> {
    stream: StreamDecoder<'t>,
    stops: StopChecker,
    /// Print to stdout as text arrives.
    pub echo: bool,
    /// Everything printed (or that would have been).
    pub text: String,
    pub error: Option<Error>,
}

impl<'t> ReplyPrinter<'t> {
    pub fn new(tok: &'t Tokenizer, stops: &[String], echo: bool) -> Self {
        ReplyPrinter {
            stream: tok.stream(),
            stops: StopChecker::new(stops.iter().cloned()),
            echo,
            text: String::new(),
            error: None,
        }
    }

    fn emit(&mut self, s: &str) {
        self.text.push_str(s);
        if self.echo {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(s.as_bytes());
            let _ = out.flush();
        }
    }

    /// Feeds one generated id; says whether to go on.
    pub fn push(&mut self, id: u32) -> Flow {
        let piece = match self.stream.push(id) {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e);
                return Flow::Stop;
            }
        };
        let update = self.stops.push(&piece);
        self.emit(&update.text);
        if update.stopped {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Flushes what is still held back (an incomplete character, a partial stop-string match).
    pub fn finish(mut self) -> Result<String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if !self.stops.is_stopped() {
            let rest = self.stream.finish();
            let update = self.stops.push(&rest);
            self.emit(&update.text);
            let tail = self.stops.finish();
            self.emit(&tail);
        }
        Ok(self.text)
    }
}
