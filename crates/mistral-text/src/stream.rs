//! [`StreamDecoder`]: turns generated ids into printable text as it becomes complete.

use mistral_core::Result;

use crate::Tokenizer;

/// Incremental decoding of one reply.
///
/// Each [`StreamDecoder::push`] returns the text that is complete so far: bytes of a character
/// spread over byte-fallback pieces (`<0xE6><0x9D><0xB1>` for `東`) or over byte-level BPE pieces
/// are held back until the character is complete; a byte that can never start a valid character
/// becomes U+FFFD at once. With a SentencePiece vocabulary the reply's first piece loses its
/// leading space (the `▁` every SentencePiece text starts with); later `▁` are spaces. The concatenation of every `push` result and [`StreamDecoder::finish`]
/// equals [`Tokenizer::decode`] of all the ids.
#[derive(Debug)]
pub struct StreamDecoder<'a> {
    tok: &'a Tokenizer,
    /// Bytes of an incomplete character.
    pending: Vec<u8>,
    /// No non-control piece seen yet.
    first: bool,
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(tok: &'a Tokenizer) -> Self {
        StreamDecoder {
            tok,
            pending: Vec::new(),
            first: true,
        }
    }

    /// Feeds one generated id; returns the text that can be printed now (often empty).
    /// An id outside the vocabulary is an error and leaves the decoder unchanged.
    pub fn push(&mut self, id: u32) -> Result<String> {
        self.tok.check_id(id)?;
        self.tok
            .vocab()
            .push_bytes(id, &mut self.first, &mut self.pending);
        let mut out = String::new();
        let used = self.tok.vocab().push_lossy(&self.pending, false, &mut out);
        self.pending.drain(..used);
        Ok(out)
    }

    /// Ends the reply: returns what is still held back (an incomplete character becomes
    /// U+FFFD, as in [`Tokenizer::decode`]) and resets the decoder for a new reply.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        self.tok.vocab().push_lossy(&self.pending, true, &mut out);
        self.pending.clear();
        self.first = true;
        out
    }

    /// Whether bytes of an incomplete character are held back.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }
}
