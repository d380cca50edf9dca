//! SentencePiece BPE read straight from `tokenizer.model` (a `ModelProto` protobuf), with the
//! encoding algorithm of the real library (`bpe_model.cc`), so no C++ or Python is needed.
//!
//! Encoding, as SentencePiece does it:
//! 1. Normalize: the model must use the identity normalizer (empty `precompiled_charsmap`, as
//!    Mistral's does); optional `remove_extra_whitespaces` (trim and collapse spaces); spaces become
//!    `▁`; a `▁` is prepended when `add_dummy_prefix` is set (non-empty input only).
//! 2. Split into characters (user-defined pieces are matched first, longest first, and never merged).
//! 3. Repeatedly merge the adjacent pair whose concatenation is a piece with the highest score
//!    (ties: the leftmost pair), until no adjacent pair forms a piece.
//! 4. Each resulting symbol maps to its id; one that is not a piece becomes its UTF-8 bytes as
//!    `<0xNN>` pieces (byte fallback) or `<unk>` without byte fallback. Merges into UNUSED pieces are
//!    undone again (SentencePiece's "resegment").

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use crate::proto::Reader;
use crate::vocab::{parse_byte_piece, PieceKind, Vocab, SPACE_SYMBOL};

/// `ModelProto.SentencePiece.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl SpType {
    fn from_proto(v: u64) -> Result<Self, String> {
        Ok(match v {
            1 => SpType::Normal,
            2 => SpType::Unknown,
            3 => SpType::Control,
            4 => SpType::UserDefined,
            5 => SpType::Unused,
            6 => SpType::Byte,
            _ => return Err(format!("unknown piece type {v}")),
        })
    }
}

/// The encoder half of a SentencePiece BPE model.
#[derive(Clone, Debug)]
pub(crate) struct SpBpe {
    /// NORMAL, USER_DEFINED and UNUSED pieces: the ones merges may produce.
    piece_ids: HashMap<String, u32>,
    scores: Vec<f32>,
    unused: Vec<bool>,
    /// User-defined pieces, longest first.
    user_defined: Vec<String>,
    /// `<0xNN>` ids when the model has byte fallback.
    byte_ids: Option<[u32; 256]>,
    unk_id: u32,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

struct Piece {
    text: String,
    score: f32,
    kind: SpType,
}

/// Fields of `TrainerSpec` and `NormalizerSpec` that encoding depends on (proto2 defaults).
struct Specs {
    model_type: u64,
    byte_fallback: bool,
    treat_whitespace_as_suffix: bool,
    unk_id: i32,
    bos_id: i32,
    eos_id: i32,
    normalizer_name: String,
    charsmap_len: usize,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

fn parse_piece(buf: &[u8]) -> Result<Piece, String> {
    let mut p = Piece {
        text: String::new(),
        score: 0.0,
        kind: SpType::Normal,
    };
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field()? {
        match field {
            1 => p.text = v.as_str("piece")?.to_string(),
            2 => p.score = v.as_f32("score")?,
            3 => p.kind = SpType::from_proto(v.as_varint("type")?)?,
            _ => {}
        }
    }
    Ok(p)
}

/// Reads the whole `ModelProto`.
fn parse_model(buf: &[u8]) -> Result<(Vec<Piece>, Specs), String> {
    let mut pieces = Vec::new();
    let mut s = Specs {
        model_type: 1,
        byte_fallback: false,
        treat_whitespace_as_suffix: false,
        unk_id: 0,
        bos_id: 1,
        eos_id: 2,
        normalizer_name: String::new(),
        charsmap_len: 0,
        add_dummy_prefix: true,
        remove_extra_whitespaces: true,
        escape_whitespaces: true,
    };
    let mut r = Reader::new(buf);
    while let Some((field, v)) = r.next_field()? {
        match field {
            1 => pieces.push(
                parse_piece(v.as_bytes("pieces")?)
                    .map_err(|e| format!("piece {}: {e}", pieces.len()))?,
            ),
            2 => {
                let mut t = Reader::new(v.as_bytes("trainer_spec")?);
                while let Some((f, v)) = t.next_field()? {
                    match f {
                        3 => s.model_type = v.as_varint("model_type")?,
                        24 => {
                            s.treat_whitespace_as_suffix =
                                v.as_bool("treat_whitespace_as_suffix")?
                        }
                        35 => s.byte_fallback = v.as_bool("byte_fallback")?,
                        40 => s.unk_id = v.as_i32("unk_id")?,
                        41 => s.bos_id = v.as_i32("bos_id")?,
                        42 => s.eos_id = v.as_i32("eos_id")?,
                        _ => {}
                    }
                }
            }
            3 => {
                let mut n = Reader::new(v.as_bytes("normalizer_spec")?);
                while let Some((f, v)) = n.next_field()? {
                    match f {
                        1 => s.normalizer_name = v.as_str("name")?.to_string(),
                        2 => s.charsmap_len = v.as_bytes("precompiled_charsmap")?.len(),
                        3 => s.add_dummy_prefix = v.as_bool("add_dummy_prefix")?,
                        4 => s.remove_extra_whitespaces = v.as_bool("remove_extra_whitespaces")?,
                        5 => s.escape_whitespaces = v.as_bool("escape_whitespaces")?,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok((pieces, s))
}

/// Looks up a special id from the trainer spec and checks that the piece there has the right type.
fn special_id(pieces: &[Piece], id: i32, what: &str, want: SpType) -> Result<u32, String> {
    let idx = usize::try_from(id)
        .map_err(|_| format!("the model has no {what} piece ({what}_id = {id})"))?;
    match pieces.get(idx) {
        Some(p) if p.kind == want => Ok(idx as u32),
        Some(p) => Err(format!(
            "{what}_id {id} names piece {:?}, which is not of type {want:?}",
            p.text
        )),
        None => Err(format!(
            "{what}_id {id} is out of range for {} pieces",
            pieces.len()
        )),
    }
}

/// Parses a `tokenizer.model` file's bytes into the encoder and the shared vocabulary.
/// Errors are one-line descriptions of what is wrong with the file.
pub(crate) fn load(buf: &[u8]) -> Result<(SpBpe, Vocab), String> {
    let (pieces, s) = parse_model(buf).map_err(|e| format!("not a SentencePiece model: {e}"))?;
    build(pieces, s)
}

/// What GGUF metadata says about a SentencePiece BPE (`tokenizer.ggml.model == "llama"`).
pub(crate) struct GgufSpec<'a> {
    pub tokens: &'a [String],
    pub scores: &'a [f32],
    /// llama.cpp's token types, SentencePiece's numbering (1 normal … 6 byte).
    pub token_types: &'a [i64],
    pub bos: u32,
    pub eos: u32,
    /// `None`: the piece of type 2 (unknown), else 0.
    pub unk: Option<u32>,
    pub add_space_prefix: bool,
}

/// The encoder and vocabulary of a SentencePiece BPE given as GGUF metadata, with the settings
/// llama.cpp's SPM tokenizer uses: byte fallback when the vocabulary has byte pieces, spaces kept
/// as they are (no `remove_extra_whitespaces`), the dummy prefix per `add_space_prefix`.
pub(crate) fn from_gguf(g: &GgufSpec) -> Result<(SpBpe, Vocab), String> {
    let n = g.tokens.len();
    if g.scores.len() != n || g.token_types.len() != n {
        return Err(format!(
            "{n} tokens but {} scores and {} token types",
            g.scores.len(),
            g.token_types.len()
        ));
    }
    let pieces = g
        .tokens
        .iter()
        .zip(g.scores)
        .zip(g.token_types)
        .enumerate()
        .map(|(i, ((text, &score), &t))| {
            let kind = u64::try_from(t)
                .map_err(|_| format!("token {i} has type {t}"))
                .and_then(|t| SpType::from_proto(t).map_err(|e| format!("token {i}: {e}")))?;
            Ok(Piece {
                text: text.clone(),
                score,
                kind,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let unk = match g.unk {
        Some(id) => id as i32,
        None => pieces
            .iter()
            .position(|p| p.kind == SpType::Unknown)
            .unwrap_or(0) as i32,
    };
    let specs = Specs {
        model_type: 2,
        byte_fallback: pieces.iter().any(|p| p.kind == SpType::Byte),
        treat_whitespace_as_suffix: false,
        unk_id: unk,
        bos_id: g.bos as i32,
        eos_id: g.eos as i32,
        normalizer_name: String::new(),
        charsmap_len: 0,
        add_dummy_prefix: g.add_space_prefix,
        remove_extra_whitespaces: false,
        escape_whitespaces: true,
    };
    build(pieces, specs)
}

fn build(pieces: Vec<Piece>, s: Specs) -> Result<(SpBpe, Vocab), String> {
    if pieces.is_empty() {
        return Err("not a SentencePiece model: it has no pieces".into());
    }
    if pieces.len() > u32::MAX as usize {
        return Err("too many pieces".into());
    }
    if s.model_type != 2 {
        return Err(format!(
            "unsupported SentencePiece model type {} (only BPE, type 2, is supported)",
            s.model_type
        ));
    }
    if s.treat_whitespace_as_suffix {
        return Err("unsupported SentencePiece option treat_whitespace_as_suffix".into());
    }
    if s.charsmap_len > 0 {
        return Err(format!(
            "unsupported SentencePiece normalizer {:?} (only the identity normalizer is supported)",
            s.normalizer_name
        ));
    }
    let unk_id = special_id(&pieces, s.unk_id, "unk", SpType::Unknown)?;
    let bos = special_id(&pieces, s.bos_id, "bos", SpType::Control)?;
    let eos = special_id(&pieces, s.eos_id, "eos", SpType::Control)?;

    let mut piece_ids = HashMap::with_capacity(pieces.len());
    let mut reserved = HashMap::new();
    let mut byte_ids = [u32::MAX; 256];
    let mut user_defined = Vec::new();
    let mut entries = Vec::with_capacity(pieces.len());
    for (id, p) in pieces.iter().enumerate() {
        let id = id as u32;
        if p.text.is_empty() {
            return Err(format!("piece {id} is empty"));
        }
        let merge_target = matches!(
            p.kind,
            SpType::Normal | SpType::UserDefined | SpType::Unused
        );
        let map = if merge_target {
            &mut piece_ids
        } else {
            &mut reserved
        };
        if map.insert(p.text.clone(), id).is_some() {
            return Err(format!("piece {:?} appears twice", p.text));
        }
        let kind = match p.kind {
            SpType::Normal | SpType::UserDefined | SpType::Unused => PieceKind::Text,
            SpType::Control => PieceKind::Control,
            SpType::Unknown => PieceKind::Unknown,
            SpType::Byte => {
                let b = parse_byte_piece(&p.text)
                    .ok_or_else(|| format!("byte piece {id} is {:?}, not <0xNN>", p.text))?;
                byte_ids[b as usize] = id;
                PieceKind::Byte(b)
            }
        };
        if p.kind == SpType::UserDefined {
            user_defined.push(p.text.clone());
        }
        entries.push((p.text.clone(), kind));
    }
    let byte_ids = if s.byte_fallback {
        if let Some(b) = byte_ids.iter().position(|&id| id == u32::MAX) {
            return Err(format!(
                "the model uses byte fallback but has no piece <0x{b:02X}>"
            ));
        }
        Some(byte_ids)
    } else {
        None
    };
    user_defined.sort_by_key(|u| std::cmp::Reverse(u.len()));
    let bpe = SpBpe {
        piece_ids,
        scores: pieces.iter().map(|p| p.score).collect(),
        unused: pieces.iter().map(|p| p.kind == SpType::Unused).collect(),
        user_defined,
        byte_ids,
        unk_id,
        add_dummy_prefix: s.add_dummy_prefix,
        remove_extra_whitespaces: s.remove_extra_whitespaces,
        escape_whitespaces: s.escape_whitespaces,
    };
    Ok((bpe, Vocab::new(entries, bos, eos)))
}

/// A symbol of the text being merged: a byte range of the normalized string in a linked list.
#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: usize,
    next: usize,
    freeze: bool,
}

const NONE: usize = usize::MAX;

/// A candidate merge of `left` and its right neighbour `right`, `size` bytes long when made.
#[derive(Clone, Copy, PartialEq)]
struct Pair {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl Eq for Pair {}

impl Ord for Pair {
    /// Max-heap order: the highest score first, then the leftmost.
    fn cmp(&self, o: &Self) -> Ordering {
        self.score
            .total_cmp(&o.score)
            .then_with(|| o.left.cmp(&self.left))
    }
}

impl PartialOrd for Pair {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl SpBpe {
    /// SentencePiece's normalization of the identity normalizer (see the module doc).
    fn normalize(&self, text: &str, dummy_prefix: bool) -> String {
        let mut t = if self.remove_extra_whitespaces {
            text.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            text.to_string()
        };
        if t.is_empty() {
            return t;
        }
        if self.add_dummy_prefix && dummy_prefix {
            t.insert(0, ' ');
        }
        if self.escape_whitespaces {
            t = t.replace(' ', &SPACE_SYMBOL.to_string());
        }
        t
    }

    /// Length of the first symbol of `s` and whether it is a (frozen) user-defined piece.
    fn first_symbol(&self, s: &str) -> (usize, bool) {
        if let Some(u) = self.user_defined.iter().find(|u| s.starts_with(u.as_str())) {
            return (u.len(), true);
        }
        (s.chars().next().map_or(1, char::len_utf8), false)
    }

    /// Token ids of `text` (no BOS/EOS).
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        self.encode_with_prefix(text, true)
    }

    /// [`SpBpe::encode`], where `dummy_prefix == false` suppresses the model's dummy prefix (for
    /// text that follows a special token, as `tokenizers`' Metaspace `prepend_scheme: first`).
    pub(crate) fn encode_with_prefix(&self, text: &str, dummy_prefix: bool) -> Vec<u32> {
        let norm = self.normalize(text, dummy_prefix);
        let mut symbols: Vec<Symbol> = Vec::new();
        let mut pos = 0;
        while pos < norm.len() {
            let (len, freeze) = self.first_symbol(&norm[pos..]);
            let i = symbols.len();
            let next = if pos + len < norm.len() { i + 1 } else { NONE };
            symbols.push(Symbol {
                start: pos,
                len,
                prev: i.wrapping_sub(1),
                next,
                freeze,
            });
            pos += len;
        }
        if let Some(s) = symbols.first_mut() {
            s.prev = NONE;
        }

        let mut agenda = BinaryHeap::new();
        let mut rev_merge: HashMap<&str, (usize, usize, usize)> = HashMap::new();
        let add_pair = |symbols: &[Symbol],
                        agenda: &mut BinaryHeap<Pair>,
                        rev: &mut HashMap<_, _>,
                        l: usize,
                        r: usize| {
            if l == NONE || r == NONE || symbols[l].freeze || symbols[r].freeze {
                return;
            }
            let (a, b) = (symbols[l], symbols[r]);
            let piece = &norm[a.start..a.start + a.len + b.len];
            let Some(&id) = self.piece_ids.get(piece) else {
                return;
            };
            agenda.push(Pair {
                score: self.scores[id as usize],
                left: l,
                right: r,
                size: piece.len(),
            });
            if self.unused[id as usize] {
                rev.insert(piece, (a.start, a.len, b.len));
            }
        };
        for i in 1..symbols.len() {
            add_pair(&symbols, &mut agenda, &mut rev_merge, i - 1, i);
        }
        while let Some(top) = agenda.pop() {
            let (l, r) = (symbols[top.left], symbols[top.right]);
            // Skip pairs made stale by an earlier merge.
            if l.len == 0 || r.len == 0 || l.len + r.len != top.size || l.next != top.right {
                continue;
            }
            symbols[top.left].len += r.len;
            symbols[top.left].next = r.next;
            if r.next != NONE {
                symbols[r.next].prev = top.left;
            }
            symbols[top.right].len = 0;
            let prev = symbols[top.left].prev;
            add_pair(&symbols, &mut agenda, &mut rev_merge, prev, top.left);
            let next = symbols[top.left].next;
            add_pair(&symbols, &mut agenda, &mut rev_merge, top.left, next);
        }

        let mut ids = Vec::with_capacity(symbols.len());
        let mut i = if symbols.is_empty() { NONE } else { 0 };
        while i != NONE {
            let s = symbols[i];
            self.resegment(&norm[s.start..s.start + s.len], &rev_merge, &norm, &mut ids);
            i = s.next;
        }
        ids
    }

    /// Emits the id(s) of a final symbol: undoes merges into UNUSED pieces, then byte fallback.
    fn resegment(
        &self,
        w: &str,
        rev: &HashMap<&str, (usize, usize, usize)>,
        norm: &str,
        out: &mut Vec<u32>,
    ) {
        match self.piece_ids.get(w) {
            Some(&id) if !self.unused[id as usize] => out.push(id),
            Some(&id) => match rev.get(w) {
                Some(&(start, a, b)) => {
                    self.resegment(&norm[start..start + a], rev, norm, out);
                    self.resegment(&norm[start + a..start + a + b], rev, norm, out);
                }
                None => out.push(id),
            },
            None => match &self.byte_ids {
                Some(bytes) => out.extend(w.bytes().map(|b| bytes[b as usize])),
                None => out.push(self.unk_id),
            },
        }
    }
}
