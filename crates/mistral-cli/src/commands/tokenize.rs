use mistral_core::Result;
use mistral_text::chat;

use super::text::{load_tokenizer, read_utf8};
use crate::args::TokenizeArgs;

pub fn run(a: TokenizeArgs) -> Result<()> {
    let tok = load_tokenizer(&a.model, &a.tok)?;
    let ids = match (&a.text, &a.chat) {
        (Some(text), _) => tok.encode(text, true)?,
        (None, Some(path)) => {
            let messages = chat::parse_messages_json(&read_utf8(path)?)?;
            chat::validate_strict(&messages)?;
            chat::encode_chat(&tok, &messages)?
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
