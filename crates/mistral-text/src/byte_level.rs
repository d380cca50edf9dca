//! Byte-level BPE (GPT-2's scheme, used by Llama 3, Qwen 2, SmolLM2, ...) built from GGUF
//! metadata, as Hugging Face transformers 5.24 builds it (`integrations/gguf/gguf_tokenizer_mapping.py`,
//! `byte_level_tokenizer`, `add_gguf_special_tokens`, `set_split_regex`):
//!
//! - every token is spelled in GPT-2's byte alphabet (each byte a printable character: `Ġ` is the
//!   space); a token with a character outside the alphabet is respelled from its UTF-8 bytes;
//! - merges are the file's `"a b"` strings, in order (rank = position);
//! - tokens of type 3 (control) become special added tokens, matched whole in the text, unless
//!   they use a character outside the alphabet (a llama.cpp mislabel transformers skips); tokens
//!   of type 4 (user-defined) become plain added tokens;
//! - the pre-tokenizer is chosen by `tokenizer.ggml.pre` ([`pre_tokenizer`]).
//!
//! The result is a `tokenizers::Tokenizer` assembled as a `tokenizer.json` document, so the
//! encoding is the `tokenizers` crate's own.

use std::collections::HashMap;

use serde_json::{json, Value};

/// GPT-2's `bytes_to_unicode`: the character that spells each byte.
pub(crate) fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[b as usize] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or('\0');
            next += 1;
            c
        };
    }
    table
}

/// The inverse of [`byte_to_char`].
pub(crate) fn char_to_byte() -> HashMap<char, u8> {
    byte_to_char()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect()
}

/// The bytes a byte-level piece stands for. A character outside the alphabet (only in pieces
/// added as text) stands for its own UTF-8.
pub(crate) fn unspell(piece: &str, map: &HashMap<char, u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(piece.len());
    for c in piece.chars() {
        match map.get(&c) {
            Some(&b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// Llama 3's split (transformers' `_LLAMA3_SPLIT`, llama.cpp's `LLAMA_VOCAB_PRE_TYPE_LLAMA3`).
const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen 2's split (transformers' `models/qwen2/tokenization_qwen2.py`, `PRETOKENIZE_REGEX`).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Mistral's Tekken split (transformers' `_TEKKEN_SPLIT`).
const TEKKEN_SPLIT: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GPT-4o's split (transformers' `_GPT4O_SPLIT`).
const GPT4O_SPLIT: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The `tokenizer.ggml.pre` values this crate knows, for error messages.
pub(crate) const KNOWN_PRE: &[&str] = &[
    "default",
    "gpt-2",
    "gpt2",
    "smollm",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "smaug-bpe",
    "dbrx",
    "pixtral",
    "qwen2",
    "deepseek-r1-qwen",
    "tekken",
    "gpt-4o",
    "llama4",
];

/// GPT-2's byte-level pre-tokenizer with its own regex.
fn gpt2_byte_level() -> Value {
    json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true})
}

/// A regex split followed by the byte-level mapping (no second regex), as transformers sets it.
fn split_then_bytes(regex: &str) -> Value {
    json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
    ]})
}

/// The pre-tokenizer (as `tokenizer.json` spells it) for a `tokenizer.ggml.pre` value, `None` if
/// unknown. An absent value is `"default"`.
///
/// - `default`, `gpt-2`, `gpt2`: GPT-2's ByteLevel regex (what transformers uses for every value
///   it has no regex for);
/// - `smollm`: each digit split off, then GPT-2's regex: llama.cpp's `LLAMA_VOCAB_PRE_TYPE_SMOLLM`
///   and SmolLM2's own `tokenizer.json`. (transformers 5.24 uses plain GPT-2 for it; the two agree
///   on SmolLM2's vocabulary, which has no token joining a digit to anything, and the tests
///   check the ids against transformers.)
/// - the Llama 3, Qwen 2, Tekken and GPT-4o families: transformers' split regexes.
pub(crate) fn pre_tokenizer(pre: &str) -> Option<Value> {
    Some(match pre {
        "default" | "gpt-2" | "gpt2" => gpt2_byte_level(),
        "smollm" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            gpt2_byte_level(),
        ]}),
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "smaug-bpe" | "dbrx" | "pixtral" => {
            split_then_bytes(LLAMA3_SPLIT)
        }
        "qwen2" | "deepseek-r1-qwen" => split_then_bytes(QWEN2_SPLIT),
        "tekken" => split_then_bytes(TEKKEN_SPLIT),
        "gpt-4o" | "llama4" => split_then_bytes(GPT4O_SPLIT),
        _ => return None,
    })
}

/// The `tokenizer.json` document of a byte-level BPE: `tokens` in id order, GGUF token types
/// (empty: all normal), merges `"a b"`, and the pre-tokenizer. Errors are one line.
pub(crate) fn tokenizer_json(
    tokens: &[String],
    token_types: &[i64],
    merges: &[String],
    pre_tokenizer: Value,
) -> Result<Value, String> {
    let spelling = byte_to_char();
    let alphabet: std::collections::HashSet<char> = spelling.iter().copied().collect();
    let in_alphabet = |t: &str| t.chars().all(|c| alphabet.contains(&c));
    let mut vocab = serde_json::Map::with_capacity(tokens.len());
    let mut added = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        let spelled = in_alphabet(token);
        let key = if spelled {
            token.clone()
        } else {
            token.bytes().map(|b| spelling[b as usize]).collect()
        };
        // A duplicate keeps its last id, as transformers' dict comprehension does.
        vocab.insert(key, json!(id));
        let special = match token_types.get(id) {
            Some(3) if spelled => true,
            Some(4) if spelled => false,
            _ => continue,
        };
        added.push(json!({
            "id": id, "content": token, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": special,
        }));
    }
    let merges = merges
        .iter()
        .enumerate()
        .map(|(i, m)| match m.split_once(' ') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains(' ') => Ok(json!([a, b])),
            _ => Err(format!(
                "merge {i} is {m:?}, not two tokens separated by one space"
            )),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": false, "vocab": vocab, "merges": merges,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_is_gpt2s() {
        let t = byte_to_char();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'a' as usize], 'a');
        let map = char_to_byte();
        assert_eq!(map.len(), 256);
        assert_eq!(unspell("Ġhi", &map), b" hi");
    }

    #[test]
    fn every_known_pre_has_a_pre_tokenizer() {
        for p in KNOWN_PRE {
            assert!(pre_tokenizer(p).is_some(), "{p}");
        }
        assert!(pre_tokenizer("no-such-pre").is_none());
    }
}
