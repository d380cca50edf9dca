//! [`ChatTemplate`]: a Hugging Face chat template (Jinja) rendered the way transformers'
//! `apply_chat_template` renders it (transformers 5.24, `utils/chat_template_utils.py`), with
//! minijinja:
//!
//! - `trim_blocks` and `lstrip_blocks` on, `keep_trailing_newline` off, loop controls
//!   (`break`/`continue`) on, undefined values printing as empty (jinja2's default `Undefined`);
//! - Python string, list and dict methods (`.strip()`, `.startswith()`, `.items()`, ...) through
//!   minijinja-contrib's `pycompat`;
//! - the context: `messages` (a list of `{role, content}`), `add_generation_prompt`, and the special
//!   tokens given (`bos_token`, `eos_token`, ...);
//! - `raise_exception(msg)`: rendering fails with `msg`; `tojson` writes JSON as Python's
//!   `json.dumps(ensure_ascii=False)` does (`", "` and `": "` separators, optional `indent`; keys
//!   in insertion order). Its `separators`, `ensure_ascii` and `sort_keys` arguments are accepted
//!   and ignored.
//! - `tools` and `documents` are `none`, as transformers passes them when unused;
//! - rendering is bounded (minijinja fuel), so a hostile template cannot hang a load.
//!
//! Not provided: `strftime_now` (templates that use it test `is defined` and fall back).
//!
//! Errors are one line: a template that does not parse, or that fails while rendering, is an
//! [`Error::InvalidInput`] naming minijinja's message; `raise_exception("...")` is an
//! [`Error::InvalidInput`] carrying exactly the template's message.

use std::cell::RefCell;
use std::fmt;

use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, Value};
use mistral_core::{Error, Result};

use crate::chat::Message;

/// Name of the one template in the environment (no extension, so no auto-escaping).
const NAME: &str = "chat_template";

/// Instructions one render may execute (minijinja's fuel).
const TEMPLATE_FUEL: u64 = 50_000_000;

thread_local! {
    /// The message of the last `raise_exception` on this thread (rendering is synchronous).
    static RAISED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A parsed chat template and the special tokens its context gets.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    tokens: Vec<(&'static str, String)>,
}

impl fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bytes", &self.source.len())
            .field("tokens", &self.tokens)
            .finish()
    }
}

/// Collapses a message onto one line.
fn one_line(msg: impl fmt::Display) -> String {
    msg.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn raise_exception(msg: String) -> std::result::Result<Value, minijinja::Error> {
    RAISED.with(|r| *r.borrow_mut() = Some(msg.clone()));
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
}

/// `json.dumps(value, ensure_ascii=False, indent=indent)`.
fn tojson(value: Value, kwargs: Kwargs) -> std::result::Result<Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    // Accepted for compatibility; the output is always as with their defaults.
    for unused in ["ensure_ascii", "separators", "sort_keys"] {
        let _: Option<Value> = kwargs.get(unused)?;
    }
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    let mut out = String::new();
    write_py_json(&json, indent, 0, &mut out);
    Ok(Value::from_safe_string(out))
}

/// Python's `json.dumps` layout: `", "`/`": "` inline, or one item a line with `indent`.
fn write_py_json(v: &serde_json::Value, indent: Option<usize>, depth: usize, out: &mut String) {
    use serde_json::Value as J;
    let newline = |out: &mut String, depth: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.push_str(&" ".repeat(n * depth));
        }
    };
    let sep = if indent.is_some() { "," } else { ", " };
    match v {
        J::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, depth + 1);
                write_py_json(x, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        J::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (k, x)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                newline(out, depth + 1);
                out.push_str(&J::String(k.clone()).to_string());
                out.push_str(": ");
                write_py_json(x, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

impl ChatTemplate {
    /// Parses `source`. `bos_token`/`eos_token` are given to the template under those names when
    /// known (transformers passes the tokenizer's special tokens).
    pub fn new(
        source: impl Into<String>,
        bos_token: Option<String>,
        eos_token: Option<String>,
    ) -> Result<Self> {
        let source = source.into();
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(false)
            .build()
            .map_err(|e| Error::InvalidInput(format!("chat template: {}", one_line(e))))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        // A template comes from the model file: bound its work so a hostile one cannot hang a
        // load (real chat templates use a few thousand units per conversation).
        env.set_fuel(Some(TEMPLATE_FUEL));
        env.add_function("raise_exception", raise_exception);
        env.add_filter("tojson", tojson);
        env.add_template_owned(NAME, source.clone()).map_err(|e| {
            Error::InvalidInput(format!("chat template does not parse: {}", one_line(e)))
        })?;
        let tokens = [("bos_token", bos_token), ("eos_token", eos_token)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        Ok(ChatTemplate {
            env,
            source,
            tokens,
        })
    }

    /// Adds another special token to the context (`unk_token`, `pad_token`).
    pub fn with_token(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.tokens.retain(|(k, _)| *k != name);
        self.tokens.push((name, value.into()));
        self
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The special token passed to the template as `name` (`bos_token`, ...), if any.
    pub fn token(&self, name: &str) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The text of `messages`, ending with the assistant header when `add_generation_prompt`.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let mut ctx = serde_json::Map::new();
        let list: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        ctx.insert("messages".into(), list.into());
        ctx.insert("add_generation_prompt".into(), add_generation_prompt.into());
        // transformers always passes these, as None when unused: templates test `is not none`.
        ctx.insert("tools".into(), serde_json::Value::Null);
        ctx.insert("documents".into(), serde_json::Value::Null);
        for (k, v) in &self.tokens {
            ctx.insert((*k).into(), v.as_str().into());
        }
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| Error::InvalidInput(format!("chat template: {}", one_line(e))))?;
        RAISED.with(|r| r.borrow_mut().take());
        template
            .render(Value::from(minijinja::value::Serde(&ctx)))
            .map_err(|e| match RAISED.with(|r| r.borrow_mut().take()) {
                Some(msg) => Error::InvalidInput(format!(
                    "the chat template refused the conversation: {}",
                    one_line(msg)
                )),
                None => {
                    Error::InvalidInput(format!("chat template failed to render: {}", one_line(e)))
                }
            })
    }
}
