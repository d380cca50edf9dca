//! The chat template of Mistral-7B-Instruct-v0.1: mistral-common's tokenizer v1
//! (`InstructTokenizerV1`, reached through `MistralTokenizer.encode_chat_completion` with the
//! default `ValidationMode.test`), reproduced rule for rule. Read from mistral-common 1.13.1
//! (`tokens/tokenizers/instruct.py`, `protocol/instruct/normalize.py`, `protocol/instruct/validator.py`)
//! and checked against ids that the library itself produced (`tests/data/chat_mistral_common.jsonl`).
//!
//! **Validation** (on the messages as given):
//! - at least one message; a single message must be `user` or `system`;
//! - with more than one message, the last must not be `assistant` (mistral-common only allows
//!   that for a `prefix` continuation, which this API does not model);
//! - `system` must not follow `assistant` directly (every other order is accepted);
//! - an `assistant` message must have non-empty content. `user` and `system` may be empty.
//!
//! **Normalization** (`InstructRequestNormalizer`, v1):
//! - all non-empty `system` contents, wherever they are, are joined with `"\n\n"` into one system
//!   prompt, and the system messages are dropped;
//! - runs of consecutive messages of the same role (a system message in between breaks a run) are
//!   merged into one, their non-empty contents joined with `"\n\n"`;
//! - if the result is empty or does not start with a user message, an empty user message is put first.
//!
//! **Tokenization**: `[BOS]`, then per message, each part tokenized on its own with the SentencePiece
//! dummy prefix (so `[INST]` becomes `▁[`, `INST`, `]`: ids 733, 16289, 28793):
//! - user: `"[INST] {content} [/INST]"`, where the first user message's content is
//!   `"{system prompt}\n\n{content}"` when there is a system prompt. The spaces around the content
//!   come from this f-string; the content itself is **not** stripped;
//! - assistant: `"{content}"` followed by EOS (id 2).
//!
//! So `[user "Hi"]` is `<s>▁[INST]▁Hi▁[/INST]` and a reply is appended as `▁Hello…</s>`.
//! `<s>`, `</s>` and `[INST]` inside a message are plain text.
//!
//! [`validate_strict`] is an optional, stricter check for callers that want to reject what
//! mistral-common silently merges (see its doc).

use std::fmt;
use std::str::FromStr;

use mistral_core::{Error, Result};
use serde_json::Value;

use crate::Tokenizer;

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    /// `"system"`, `"user"` or `"assistant"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    /// Parses `system`, `user` or `assistant` (exactly, lower case).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "system" => Ok(Role::System),
            "user" => Ok(Role::User),
            "assistant" => Ok(Role::Assistant),
            _ => Err(Error::InvalidInput(format!(
                "unknown message role {s:?} (expected \"system\", \"user\" or \"assistant\")"
            ))),
        }
    }
}

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidInput(msg.into())
}

/// mistral-common's validation (see the module doc).
fn validate(messages: &[Message]) -> Result<()> {
    let Some(last) = messages.last() else {
        return Err(invalid("the conversation has no messages"));
    };
    if messages.len() == 1 && last.role == Role::Assistant {
        return Err(invalid(
            "the conversation must start with a user or system message",
        ));
    }
    // (A lone assistant message was refused above, so this is a conversation of two or more.)
    if last.role == Role::Assistant {
        return Err(invalid(
            "the last message must be a user message, not an assistant message",
        ));
    }
    for (i, pair) in messages.windows(2).enumerate() {
        if pair[0].role == Role::Assistant && pair[1].role == Role::System {
            return Err(invalid(format!(
                "message {}: a system message cannot follow an assistant message",
                i + 1
            )));
        }
    }
    if let Some(i) = messages
        .iter()
        .position(|m| m.role == Role::Assistant && m.content.is_empty())
    {
        return Err(invalid(format!(
            "message {i}: an assistant message must have content"
        )));
    }
    Ok(())
}

/// Stricter rules than mistral-common, for callers that want them: an optional system message
/// first, then user and assistant strictly alternating, starting and ending with user, and no
/// empty message. Everything that passes is encoded by [`encode_chat`] without merging.
pub fn validate_strict(messages: &[Message]) -> Result<()> {
    validate(messages)?;
    let start = usize::from(messages[0].role == Role::System);
    for (i, m) in messages.iter().enumerate() {
        if m.content.is_empty() {
            return Err(invalid(format!("message {i} ({}) is empty", m.role)));
        }
        if i < start {
            continue;
        }
        let want = if (i - start) % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        if m.role != want {
            return Err(invalid(format!(
                "message {i} has role {} where {want} was expected (an optional system message, then user and assistant alternating)",
                m.role
            )));
        }
    }
    if messages.len() == start {
        return Err(invalid("the conversation has no user message"));
    }
    Ok(())
}

/// The normalized conversation: one system prompt and merged user/assistant turns.
struct Normalized {
    system_prompt: Option<String>,
    turns: Vec<(Role, String)>,
}

/// Joins the non-empty contents with `"\n\n"`.
fn join_non_empty<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn normalize(messages: &[Message]) -> Normalized {
    let system = join_non_empty(
        messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str()),
    );
    let mut turns = Vec::new();
    for run in messages.chunk_by(|a, b| a.role == b.role) {
        if run[0].role != Role::System {
            turns.push((
                run[0].role,
                join_non_empty(run.iter().map(|m| m.content.as_str())),
            ));
        }
    }
    if !matches!(turns.first(), Some((Role::User, _))) {
        turns.insert(0, (Role::User, String::new()));
    }
    Normalized {
        system_prompt: (!system.is_empty()).then_some(system),
        turns,
    }
}

/// Token ids of a conversation, exactly as mistral-common's tokenizer v1 produces them (see the
/// module doc for the rules and errors). Ends with `[/INST]`, ready for the reply to be generated.
pub fn encode_chat(tok: &Tokenizer, messages: &[Message]) -> Result<Vec<u32>> {
    validate(messages)?;
    let norm = normalize(messages);
    let mut ids = vec![tok.bos_id()];
    let mut first_user = true;
    for (role, content) in &norm.turns {
        match role {
            Role::User => {
                let text = match (&norm.system_prompt, first_user) {
                    (Some(sys), true) => format!("[INST] {sys}\n\n{content} [/INST]"),
                    _ => format!("[INST] {content} [/INST]"),
                };
                first_user = false;
                ids.extend(tok.encode(&text, false)?);
            }
            Role::Assistant => {
                ids.extend(tok.encode(content, false)?);
                ids.push(tok.eos_id());
            }
            Role::System => {}
        }
    }
    Ok(ids)
}

/// Reads one message's `content`: a string, or an array of `{"type": "text", "text": ...}` parts
/// (joined like mistral-common joins text chunks: non-empty ones with `"\n\n"`).
fn parse_content(i: usize, v: Option<&Value>) -> Result<String> {
    match v {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::with_capacity(parts.len());
            for (j, part) in parts.iter().enumerate() {
                let kind = part.get("type").and_then(Value::as_str);
                match (kind, part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => texts.push(t),
                    _ => {
                        return Err(invalid(format!(
                            "message {i}: content part {j} is not {{\"type\": \"text\", \"text\": \"...\"}} (only text is supported)"
                        )))
                    }
                }
            }
            Ok(join_non_empty(texts.into_iter()))
        }
        Some(Value::Null) | None => Err(invalid(format!("message {i} has no \"content\""))),
        Some(_) => Err(invalid(format!(
            "message {i}: \"content\" must be a string or an array of text parts"
        ))),
    }
}

/// Parses OpenAI-shaped JSON: `{"messages": [{"role": "user", "content": "..."}, ...]}` (a bare
/// array of messages is accepted too). Other fields are ignored. Does not validate the order;
/// [`encode_chat`] does.
pub fn parse_messages_json(text: &str) -> Result<Vec<Message>> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("invalid chat JSON: {e}")))?;
    let list = match &v {
        Value::Array(list) => list,
        Value::Object(o) => match o.get("messages") {
            Some(Value::Array(list)) => list,
            Some(_) => return Err(invalid("chat JSON: \"messages\" must be an array")),
            None => return Err(invalid("chat JSON has no \"messages\" array")),
        },
        _ => {
            return Err(invalid(
                "chat JSON must be an object with a \"messages\" array",
            ))
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            if !m.is_object() {
                return Err(invalid(format!("message {i} is not a JSON object")));
            }
            let role = match m.get("role") {
                Some(Value::String(r)) => r
                    .parse::<Role>()
                    .map_err(|e| invalid(format!("message {i}: {e}")))?,
                _ => return Err(invalid(format!("message {i} has no \"role\" string"))),
            };
            Ok(Message {
                role,
                content: parse_content(i, m.get("content"))?,
            })
        })
        .collect()
}
