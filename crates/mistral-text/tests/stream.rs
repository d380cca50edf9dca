//! Streaming decode: pieces joined equal `decode`, characters are never split.

mod common;

use common::{both, Rng};

/// Streams `ids` and checks the invariants; returns the pieces.
fn stream_pieces(tok: &mistral_text::Tokenizer, ids: &[u32]) -> Vec<String> {
    let mut dec = tok.stream();
    let mut pieces: Vec<String> = ids.iter().map(|&id| dec.push(id).unwrap()).collect();
    pieces.push(dec.finish());
    let joined = pieces.concat();
    assert_eq!(joined, tok.decode(ids).unwrap(), "stream of {ids:?}");
    pieces
}

fn bytes_ids(s: &str) -> Vec<u32> {
    s.bytes().map(|b| 3 + u32::from(b)).collect()
}

#[test]
fn multibyte_characters_split_over_byte_pieces() {
    for (name, tok) in both() {
        // "東" as <0xE6><0x9D><0xB1> after a text piece, then " 🚀!" all as byte pieces.
        let mut ids = vec![1, 22557];
        ids.extend(bytes_ids("東"));
        ids.extend(bytes_ids(" 🚀!"));
        let pieces = stream_pieces(tok, &ids);
        assert_eq!(
            pieces,
            ["", "Hello", "", "", "東", " ", "", "", "", "🚀", "!", ""],
            "{name}"
        );
        assert!(!pieces.concat().contains('\u{FFFD}'), "{name}");
    }
}

#[test]
fn reply_starts_without_space_then_spaces_from_pieces() {
    for (name, tok) in both() {
        let ids = tok.encode("Sure, here it is.", false).unwrap();
        let pieces = stream_pieces(tok, &ids);
        assert_eq!(pieces[0], "Sure", "{name}");
        assert!(pieces[2].starts_with(' '), "{name}: {pieces:?}");
        // A reply that really starts with a space keeps one.
        let ids = tok.encode("  two spaces", false).unwrap();
        assert_eq!(stream_pieces(tok, &ids).concat(), "  two spaces", "{name}");
    }
}

#[test]
fn invalid_bytes_become_replacement_at_once() {
    let tok = common::sp();
    // A lone continuation byte can never complete: U+FFFD right away.
    let mut dec = tok.stream();
    assert_eq!(dec.push(3 + 0x9D).unwrap(), "\u{FFFD}");
    // An incomplete lead byte waits, and becomes U+FFFD when a non-continuation follows.
    assert_eq!(dec.push(3 + 0xE6).unwrap(), "");
    assert!(dec.has_pending());
    assert_eq!(dec.push(3 + b'a' as u32).unwrap(), "\u{FFFD}a");
    // finish() flushes an incomplete character as one U+FFFD per byte.
    assert_eq!(dec.push(3 + 0xF0).unwrap(), "");
    assert_eq!(dec.push(3 + 0x9F).unwrap(), "");
    assert_eq!(dec.finish(), "\u{FFFD}\u{FFFD}");
    assert!(!dec.has_pending());
    // After finish the decoder starts a new reply.
    assert_eq!(dec.push(22557).unwrap(), "Hello");
}

#[test]
fn out_of_range_id_is_an_error() {
    let tok = common::sp();
    let mut dec = tok.stream();
    assert_eq!(dec.push(3 + 0xE6).unwrap(), "");
    let e = dec.push(32000).unwrap_err().to_string();
    assert!(e.contains("32000") && e.contains("out of range"), "{e}");
    assert!(tok.decode(&[1, 99999]).is_err());
    // The error did not disturb the pending bytes.
    assert_eq!(dec.push(3 + 0x9D).unwrap(), "");
    assert_eq!(dec.push(3 + 0xB1).unwrap(), "東");
}

/// Random ids (many byte pieces, controls, unknown) and the encodings of random unicode text.
#[test]
fn random_sequences_concatenate_to_decode() {
    let mut rng = Rng(99);
    for (name, tok) in both() {
        for _ in 0..300 {
            let ids: Vec<u32> = (0..rng.range(1, 30))
                .map(|_| match rng.range(0, 9) {
                    0..=4 => rng.range(3, 258) as u32,
                    5 => rng.range(0, 2) as u32,
                    _ => rng.range(259, 31999) as u32,
                })
                .collect();
            stream_pieces(tok, &ids);
        }
        for _ in 0..200 {
            let s = rng.unicode_string(40);
            let ids = tok.encode(&s, true).unwrap();
            let pieces = stream_pieces(tok, &ids);
            assert_eq!(pieces.concat(), s, "{name}");
            assert!(!pieces.concat().contains('\u{FFFD}'), "{name}: {s:?}");
        }
    }
}
