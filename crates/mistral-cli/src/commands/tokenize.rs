use mistral_core::Result;
use mistral_text::{chat, ChatFormat};

use super::text::{load_text_model, read_utf8};
use crate::args::TokenizeArgs;

/// Prints the ids transformers would give: `tokenizer(text)` for `--text`, and
/// `apply_chat_template(messages, add_generation_prompt=True, tokenize=True)` for `--chat`
/// (mistral-common's ids for Mistral-7B-Instruct-v0.1).
pub fn run(a: TokenizeArgs) -> Result<()> {
    let text_model = load_text_model(&a.model, &a.tok)?;
    let ids = match (&a.text, &a.chat) {
        (Some(text), _) => text_model.encode_text(text)?,
        (None, Some(path)) => {
            let messages = chat::parse_messages_json(&read_utf8(path)?)?;
            if matches!(text_model.chat_format(), ChatFormat::MistralV1) {
                chat::validate_strict(&messages)?;
            }
            text_model.encode_chat(&messages, true)?
        }
        (None, None) => unreachable!("clap requires --text or --chat"),
    };
    if a.json {
        println!("{}", serde_json::json!({ "ids": ids }));
    } else {
        println!(
            "{}",
            ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        );
    }
    Ok(())
}
