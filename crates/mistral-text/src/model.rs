//! [`TextModel`]: everything on the text side of one model: its tokenizer, its chat format, the
//! ids generation stops at, and whether plain text gets a BOS.
//!
//! **Which chat format** ([`ChatFormat`]):
//! - [`ChatFormat::MistralV1`], mistral-common's exact v1 encoding ([`crate::chat::encode_chat`]),
//!   for Mistral-7B-Instruct-v0.1 and its kin: a SentencePiece vocabulary of exactly 32,000 pieces
//!   whose pieces 0, 1, 2 are `<unk>`, `<s>`, `</s>`, and either no chat template or one that
//!   contains `[INST]` but not `<<SYS>>` (Llama 2's template has `<<SYS>>` and the same
//!   vocabulary shape, so it goes through Jinja). A SentencePiece vocabulary with no template at
//!   all also gets it (what every model directory got before templates were read).
//! - [`ChatFormat::Jinja`]: any other model with a template, rendered as transformers renders it
//!   ([`ChatTemplate`]) and tokenized as `apply_chat_template(tokenize=True)` does: special-token
//!   text is recognised (the template writes `<|im_start|>` as text) and nothing is added around
//!   it, so a BOS appears once, where the template writes it. Special-token text typed inside a
//!   message (a user writing `<|im_end|>`) becomes that control token too: that is what
//!   transformers does by default (`sanitize_control_tokens=False`), and matching its ids is the
//!   rule here. The Mistral path keeps such text as text, as mistral-common does.
//! - [`ChatFormat::None`]: no template and not Mistral: [`TextModel::encode_chat`] is an error.
//!
//! **Plain text** ([`TextModel::encode_text`]): BOS first when the model says so
//! (`tokenizer.ggml.add_bos_token`, `add_bos_token` of `tokenizer_config.json`; default: yes for
//! SentencePiece, no for byte-level BPE, as transformers), EOS last when `add_eos_token`. Special
//! token text is recognised for Jinja models (transformers' `tokenizer(text)`) and kept as text
//! for Mistral v1 (this crate's behaviour before, and mistral-common's).
//!
//! **Stops** ([`TextModel::stop_ids`]): the EOS id, `tokenizer.ggml.eot_token_id` when given, and
//! the end-of-turn token of the template: the control token the template writes right after an
//! assistant message's content (found by rendering a probe conversation; `<|im_end|>` for ChatML,
//! `<|eot_id|>` for Llama 3, `</s>` for Mistral).

use std::path::Path;

use mistral_core::{Error, Result};
use serde_json::Value;

use crate::chat::{self, Message};
use crate::template::ChatTemplate;
use crate::{GgufVocab, Tokenizer};

/// How a conversation becomes ids.
#[derive(Debug)]
pub enum ChatFormat {
    /// mistral-common's tokenizer v1 (`[INST] … [/INST]`), exactly.
    MistralV1,
    /// A Hugging Face chat template.
    Jinja(Box<ChatTemplate>),
    /// The model has no chat template.
    None,
}

/// A model's tokenizer, chat format and stop ids.
#[derive(Debug)]
pub struct TextModel {
    tokenizer: Tokenizer,
    chat: ChatFormat,
    stop_ids: Vec<u32>,
    add_bos: bool,
    add_eos: bool,
}

/// Text the probe conversation's assistant says; found again in the rendering.
const PROBE: &str = "PROBE_REPLY_5d41402abc";

/// Whether `tok` has the vocabulary shape of Mistral-7B v0.1 (see the module doc).
fn has_mistral_vocab(tok: &Tokenizer) -> bool {
    !tok.is_byte_level()
        && tok.vocab_size() == 32000
        && tok.piece(0) == Some("<unk>")
        && tok.piece(1) == Some("<s>")
        && tok.piece(2) == Some("</s>")
}

impl TextModel {
    /// Puts the parts together; chooses the chat format and finds the stop ids (see the module
    /// doc). `extra_stops` are added to them (an `eot_token_id`).
    pub fn new(
        tokenizer: Tokenizer,
        template: Option<ChatTemplate>,
        add_bos: bool,
        add_eos: bool,
        extra_stops: &[u32],
    ) -> Result<Self> {
        let chat = match template {
            Some(t)
                if has_mistral_vocab(&tokenizer)
                    && t.source().contains("[INST]")
                    && !t.source().contains("<<SYS>>") =>
            {
                ChatFormat::MistralV1
            }
            Some(t) => ChatFormat::Jinja(Box::new(t)),
            None if !tokenizer.is_byte_level() => ChatFormat::MistralV1,
            None => ChatFormat::None,
        };
        let mut model = TextModel {
            tokenizer,
            chat,
            stop_ids: Vec::new(),
            add_bos,
            add_eos,
        };
        let mut stops = vec![model.tokenizer.eos_id()];
        stops.extend(extra_stops);
        stops.extend(model.end_of_turn());
        for id in stops {
            if !model.stop_ids.contains(&id) && model.tokenizer.check_id(id).is_ok() {
                model.stop_ids.push(id);
            }
        }
        Ok(model)
    }

    /// A Hugging Face model directory: the tokenizer of [`Tokenizer::from_dir`], and the chat
    /// template of `tokenizer_config.json` (`chat_template`, a string or a list of named
    /// templates, `"default"` first) or of `chat_template.jinja`, with `bos_token`, `eos_token`
    /// and `add_bos_token`/`add_eos_token` from `tokenizer_config.json`.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let tokenizer = Tokenizer::from_dir(dir)?;
        let config_path = dir.join("tokenizer_config.json");
        let config: Value = if config_path.is_file() {
            let text =
                std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
            serde_json::from_str(&text)
                .map_err(|e| Error::model(&config_path, format!("not valid JSON: {e}")))?
        } else {
            Value::Null
        };
        let jinja_path = dir.join("chat_template.jinja");
        let source = match template_of_config(&config) {
            Some(s) => Some(s),
            None if jinja_path.is_file() => {
                Some(std::fs::read_to_string(&jinja_path).map_err(|e| Error::io(&jinja_path, e))?)
            }
            None => None,
        };
        let token = |key: &str, id: u32| -> Option<String> {
            match config.get(key) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => o.get("content").and_then(Value::as_str).map(Into::into),
                _ => tokenizer.piece(id).map(Into::into),
            }
        };
        let template = source
            .map(|s| {
                ChatTemplate::new(
                    s,
                    token("bos_token", tokenizer.bos_id()),
                    token("eos_token", tokenizer.eos_id()),
                )
            })
            .transpose()?;
        let flag = |key: &str| config.get(key).and_then(Value::as_bool);
        let add_bos = flag("add_bos_token").unwrap_or(!tokenizer.is_byte_level());
        let add_eos = flag("add_eos_token").unwrap_or(false);
        Self::new(tokenizer, template, add_bos, add_eos, &[])
    }

    /// The text side of a GGUF file (see [`TextModel::from_gguf_vocab`]).
    pub fn from_gguf(f: &mistral_gguf::GgufFile) -> Result<Self> {
        Self::from_gguf_vocab(&GgufVocab::from_gguf(f)?, f.path())
    }

    /// Opens a GGUF file for its text side only.
    pub fn from_gguf_path(path: &Path) -> Result<Self> {
        Self::from_gguf(&mistral_gguf::GgufFile::open(path)?)
    }

    /// The text side of GGUF tokenizer metadata; `origin` names the file in errors.
    /// BOS is added to plain text per `add_bos_token` (default: yes for `llama`, no for `gpt2`,
    /// as transformers).
    pub fn from_gguf_vocab(v: &GgufVocab, origin: &Path) -> Result<Self> {
        let tokenizer = Tokenizer::from_gguf_vocab(v, origin)?;
        let template = match &v.chat_template {
            Some(src) => {
                let mut t = ChatTemplate::new(
                    src.clone(),
                    v.token(v.bos_id).map(Into::into),
                    v.token(v.eos_id).map(Into::into),
                )
                .map_err(|e| Error::model(origin, e.to_string()))?;
                if let Some(unk) = v.token(v.unk_id) {
                    t = t.with_token("unk_token", unk);
                }
                if let Some(pad) = v.token(v.pad_id) {
                    t = t.with_token("pad_token", pad);
                }
                Some(t)
            }
            None => None,
        };
        let add_bos = v.add_bos.unwrap_or(v.model == "llama");
        let add_eos = v.add_eos.unwrap_or(false);
        let extra: Vec<u32> = v.eot_id.into_iter().collect();
        Self::new(tokenizer, template, add_bos, add_eos, &extra)
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn chat_format(&self) -> &ChatFormat {
        &self.chat
    }

    /// Ids that end a reply: EOS, end of turn (see the module doc). Never empty.
    pub fn stop_ids(&self) -> &[u32] {
        &self.stop_ids
    }

    /// Whether [`TextModel::encode_text`] puts BOS first.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Ids of plain text as this model's tokenizer would give them (see the module doc).
    pub fn encode_text(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = match self.chat {
            ChatFormat::MistralV1 => self.tokenizer.encode(text, self.add_bos)?,
            _ => self.tokenizer.encode_special(text, self.add_bos)?,
        };
        if self.add_eos {
            ids.push(self.tokenizer.eos_id());
        }
        Ok(ids)
    }

    /// The rendered template text, for a Jinja model (`None` for the other formats).
    pub fn render_chat(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<Option<String>> {
        match &self.chat {
            ChatFormat::Jinja(t) => t.render(messages, add_generation_prompt).map(Some),
            _ => Ok(None),
        }
    }

    /// Ids of a conversation. Mistral v1 always ends ready for the reply (`[/INST]`) and ignores
    /// `add_generation_prompt`; a template adds the assistant header when it is set.
    pub fn encode_chat(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>> {
        match &self.chat {
            ChatFormat::MistralV1 => chat::encode_chat(&self.tokenizer, messages),
            ChatFormat::Jinja(t) => {
                if messages.is_empty() {
                    return Err(Error::InvalidInput(
                        "the conversation has no messages".into(),
                    ));
                }
                let text = t.render(messages, add_generation_prompt)?;
                self.tokenizer.encode_special(&text, false)
            }
            ChatFormat::None => Err(Error::InvalidInput(format!(
                "{} has no chat template: give the prompt as plain text",
                self.tokenizer.source().display()
            ))),
        }
    }

    /// The control token a template writes right after an assistant message's content.
    fn end_of_turn(&self) -> Option<u32> {
        let t = match &self.chat {
            ChatFormat::Jinja(t) => t,
            _ => return None,
        };
        let probes = [
            vec![Message::user("Hi"), Message::assistant(PROBE)],
            vec![
                Message::system("S"),
                Message::user("Hi"),
                Message::assistant(PROBE),
            ],
        ];
        for probe in &probes {
            let Ok(text) = t.render(probe, false) else {
                continue;
            };
            let Some(at) = text.find(PROBE) else {
                continue;
            };
            let tail = &text[at + PROBE.len()..];
            let first = self
                .tokenizer
                .encode_special(tail, false)
                .ok()?
                .first()
                .copied();
            return first.filter(|&id| self.tokenizer.is_control(id));
        }
        None
    }
}

/// `chat_template` of a `tokenizer_config.json`: a string, or a list of `{name, template}` (the
/// one named `default`, else the first).
fn template_of_config(config: &Value) -> Option<String> {
    match config.get("chat_template")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(list) => {
            let named = |want: Option<&str>| {
                list.iter().find(|t| match want {
                    None => true,
                    Some(w) => t.get("name").and_then(Value::as_str) == Some(w),
                })
            };
            named(Some("default"))
                .or_else(|| named(None))
                .and_then(|t| t.get("template")?.as_str().map(Into::into))
        }
        _ => None,
    }
}
