//! Every malformed file is one error line naming what is wrong: no panic, no huge allocation.

mod common;

use common::*;
use mistral_gguf::MAX_ARRAY_DEPTH;

// GGUF value type codes used below.
const U8: u32 = 0;
const U32: u32 = 4;
const BOOL: u32 = 7;
const STRING: u32 = 8;
const ARRAY: u32 = 9;
const U64: u32 = 10;
// GGML type ids.
const F32: u32 = 0;
const Q4_K: u32 = 12;

#[test]
fn every_truncation_before_the_last_tensor_end_fails() {
    let bytes = sample_file();
    let file = parse(bytes.clone()).unwrap();
    let end = file
        .tensors()
        .iter()
        .map(|t| file.data_offset() + t.offset + t.n_bytes)
        .max()
        .unwrap() as usize;
    for len in 0..end {
        let msg = err(bytes[..len].to_vec());
        let header_end = file.data_offset() as usize;
        if len < header_end {
            // Inside the header a read runs out, a count exceeds what is left, or the padding
            // is cut so that a tensor runs past the end.
            assert!(
                [
                    "truncated at offset",
                    "bytes left can hold",
                    "run past the end"
                ]
                .iter()
                .any(|w| msg.contains(w)),
                "{len}: {msg}"
            );
        } else {
            assert!(msg.contains("run past the end of the file"), "{len}: {msg}");
        }
    }
    // The zero padding after the last tensor is not needed.
    assert!(parse(bytes[..end].to_vec()).is_ok());
}

#[test]
fn truncation_messages_name_what_was_read() {
    assert_err(
        vec![],
        "truncated at offset 0: the magic needs 4 bytes, 0 left",
    );
    assert_err(b"GGUF\x03\0".to_vec(), "the version needs 4 bytes, 2 left");
    let f = raw_one_tensor(&[raw_kv("general.name", STRING, B::default().str(b"abc"))]);
    // Cut inside the string value "abc" (header 24, key 8 + 12, type 4, length 8).
    assert_err(
        f[..24 + 20 + 4 + 8 + 1].to_vec(),
        "value of key general.name (a string of 3 bytes) needs 3 bytes, 1 left",
    );
    let cut = f.len() - 16 - 32 + 5; // inside the tensor info of "t"
    assert_err(f[..cut].to_vec(), "tensor t");
}

#[test]
fn bad_magic_and_versions() {
    let mut f = sample_file();
    f[0] = b'g';
    assert_err(f, "not a GGUF file: it starts with bytes [67, 47, 55, 46]");
    let v = |version: u32| raw_file(version, &[], &[], 32, &[]);
    assert_err(v(1), "GGUF v1 is not supported (re-convert the file)");
    assert_err(v(4), "unsupported GGUF version 4");
    assert_err(v(0), "unsupported GGUF version 0");
    assert_err(
        v(3u32.swap_bytes()),
        "big-endian GGUF (version 3) is not supported",
    );
    assert_eq!(parse(v(2)).unwrap().version(), 2);
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    for n in [u64::MAX, u64::MAX - 1, 1 << 63, 1 << 40] {
        let mut f = raw_one_tensor(&[]);
        f[8..16].copy_from_slice(&n.to_le_bytes());
        assert_err(
            f,
            &format!("the tensor count is {n} (at offset 8), more than"),
        );
        let mut f = raw_one_tensor(&[]);
        f[16..24].copy_from_slice(&n.to_le_bytes());
        assert_err(f, &format!("the metadata count is {n} (at offset 16)"));
        // A key length.
        let mut f = raw_one_tensor(&[raw_kv("k", U32, B::default().u32(1))]);
        f[24..32].copy_from_slice(&n.to_le_bytes());
        assert_err(
            f,
            &format!("metadata key #0 (a string of {n} bytes) needs {n} bytes"),
        );
        // A string value's length.
        let kv = raw_kv("k", STRING, B::default().u64(n).raw(b"x"));
        assert_err(raw_one_tensor(&[kv]), "value of key k (a string of");
        // An array count, of a one-byte type and of strings.
        for ty in [U8, STRING, ARRAY] {
            let kv = raw_kv("k", ARRAY, B::default().u32(ty).u64(n).u8(0));
            assert_err(
                raw_one_tensor(&[kv]),
                &format!("element count of key k is {n} (at offset 41), more than the"),
            );
        }
        // A tensor name's length.
        let info = B::default().u64(n).u32(1).u64(4).u32(F32).u64(0).0;
        assert_err(raw_file(3, &[], &[info], 32, &[]), "name of tensor #0");
    }
    // The count bound is exact: 3 bytes left hold 3 u8 elements but not 4.
    let kv = |n| raw_kv("k", ARRAY, B::default().u32(U8).u64(n).raw(&[1, 2, 3]));
    let ok = B::default().raw(b"GGUF").u32(3).u64(0).u64(1).raw(&kv(3)).0;
    assert!(parse(ok).is_ok());
    let bad = B::default().raw(b"GGUF").u32(3).u64(0).u64(1).raw(&kv(4)).0;
    assert_err(bad, "element count of key k is 4");
}

#[test]
fn nested_arrays_are_limited() {
    // `depth` arrays, one inside the other, the innermost holding one u8.
    let nested = |depth: usize| {
        let mut b = B::default();
        for _ in 1..depth {
            b = b.u32(ARRAY).u64(1);
        }
        raw_kv("k", ARRAY, b.u32(U8).u64(1).u8(7))
    };
    assert!(parse(raw_one_tensor(&[nested(MAX_ARRAY_DEPTH)])).is_ok());
    assert_err(
        raw_one_tensor(&[nested(MAX_ARRAY_DEPTH + 1)]),
        "key k: arrays nested deeper than 8",
    );
}

#[test]
fn invalid_utf8() {
    let bad = b"a\xffb";
    let kv = B::default().str(bad).u32(U32).u32(1).0;
    assert_err(
        raw_one_tensor(&[kv]),
        "metadata key #0 (string at offset 24) is not valid UTF-8",
    );
    let kv = raw_kv("k", STRING, B::default().str(bad));
    assert_err(raw_one_tensor(&[kv]), "value of key k (string at offset");
    let info = B::default().str(bad).u32(1).u64(4).u32(F32).u64(0).0;
    assert_err(raw_file(3, &[], &[info], 32, &[0; 16]), "name of tensor #0");
}

#[test]
fn names_in_messages_are_escaped_and_cut() {
    // Found by the fuzz test: a name holding a newline made a two-line message.
    let f = raw_file(3, &[], &[raw_info("a\nb\0", &[32], 99, 0)], 32, &[]);
    assert_err(f, "tensor a\\nb\\0 has unknown GGML type 99");
    let long = "x".repeat(1000);
    let msg = err(raw_file(3, &[], &[raw_info(&long, &[32], 99, 0)], 32, &[]));
    assert!(
        msg.contains(&format!("tensor {}… has", &long[..200])),
        "{msg}"
    );
}

#[test]
fn duplicates() {
    let kv = raw_kv("a.b", U32, B::default().u32(1));
    assert_err(
        raw_one_tensor(&[kv.clone(), kv]),
        "duplicate metadata key a.b",
    );
    let t = raw_info("w", &[4], F32, 0);
    assert_err(
        raw_file(3, &[], &[t.clone(), t], 32, &[0; 64]),
        "duplicate tensor name w",
    );
}

#[test]
fn unknown_value_types() {
    let kv = raw_kv("k", 13, B::default().u32(0));
    assert_err(
        raw_one_tensor(&[kv]),
        "key k: unknown value type 13 at offset",
    );
    let kv = raw_kv("k", ARRAY, B::default().u32(99).u64(0));
    assert_err(
        raw_one_tensor(&[kv]),
        "key k: unknown array element type 99",
    );
    let kv = raw_kv("k", BOOL, B::default().u8(2));
    assert_err(
        raw_one_tensor(&[kv]),
        "key k: bool at offset 37 is 2, not 0 or 1",
    );
}

#[test]
fn refused_tensor_types() {
    let f = raw_file(
        3,
        &[],
        &[raw_info("blk.0.attn_q.weight", &[32], 7, 0)],
        32,
        &[0; 24],
    );
    assert_err(
        f,
        "tensor blk.0.attn_q.weight has type Q5_1, which is not supported (supported: F32, F16, \
         BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K)",
    );
    let f = raw_file(3, &[], &[raw_info("x", &[32], 99, 0)], 32, &[0; 24]);
    assert_err(f, "tensor x has unknown GGML type 99");
}

#[test]
fn bad_dims() {
    let one = |dims: &[u64], ty: u32| raw_file(3, &[], &[raw_info("x", dims, ty, 0)], 32, &[0; 64]);
    assert_err(
        one(&[1; 5], F32),
        "tensor x has 5 dimensions (GGML allows at most 4)",
    );
    // A huge dimension count is refused before any dim is read.
    let info = B::default().str(b"x").u32(u32::MAX).0;
    assert_err(
        raw_file(3, &[], &[info], 32, &[]),
        "has 4294967295 dimensions",
    );
    assert_err(
        one(&[1 << 32, 1 << 32], F32),
        "tensor x: dimensions [4294967296, 4294967296] overflow",
    );
    assert_err(one(&[u64::MAX], F32), "overflow");
    assert_err(
        one(&[100, 2], Q4_K),
        "tensor x: row length 100 is not a multiple of the Q4_K block (256)",
    );
    // Empty tensors are legal, and a 0-dim tensor is a scalar.
    let f = parse(one(&[0, 5], F32)).unwrap();
    assert_eq!(
        (f.tensors()[0].n_bytes, f.tensors()[0].shape()),
        (0, vec![5, 0])
    );
    let f = parse(one(&[], F32)).unwrap();
    assert_eq!((f.tensors()[0].n_bytes, f.tensors()[0].numel()), (4, 1));
}

#[test]
fn bad_tensor_ranges() {
    let infos = |offsets: [u64; 2]| {
        [
            raw_info("a", &[16], F32, offsets[0]),
            raw_info("b", &[8], F32, offsets[1]),
        ]
    };
    assert!(parse(raw_file(3, &[], &infos([0, 64]), 32, &[0; 96])).is_ok());
    assert_err(
        raw_file(3, &[], &infos([0, 40]), 32, &[0; 96]),
        "tensor b: offset 40 is not a multiple of the alignment 32",
    );
    assert_err(
        raw_file(3, &[], &infos([0, 64]), 32, &[0; 95]),
        "tensor b: 32 bytes at data offset 64 (file offset 160) run past the end of the file (191 bytes)",
    );
    assert_err(
        raw_file(3, &[], &infos([0, u64::MAX - 31]), 32, &[0; 96]),
        "tensor b: 32 bytes at data offset 18446744073709551584",
    );
    assert_err(
        raw_file(3, &[], &infos([0, 32]), 32, &[0; 96]),
        "tensors a and b overlap (a ends at data offset 64, b starts at 32)",
    );
    assert_err(
        raw_file(3, &[], &infos([32, 64]), 32, &[0; 128]),
        "tensors a and b overlap (a ends at data offset 96, b starts at 64)",
    );
    // An empty tensor overlaps nothing, wherever it points.
    let empty = raw_info("e", &[0], F32, 32);
    let f = raw_file(3, &[], &[raw_info("a", &[16], F32, 0), empty], 32, &[0; 64]);
    assert!(parse(f).is_ok());
}

#[test]
fn bad_alignment() {
    for (ty, v, want) in [
        (
            U32,
            3u64,
            "general.alignment is 3, which is not a positive power of two",
        ),
        (
            U32,
            0,
            "general.alignment is 0, which is not a positive power of two",
        ),
        (U64, 64, "general.alignment has type u64, expected u32"),
    ] {
        let value = if ty == U32 {
            B::default().u32(v as u32)
        } else {
            B::default().u64(v)
        };
        assert_err(
            raw_one_tensor(&[raw_kv("general.alignment", ty, value)]),
            want,
        );
    }
    // With alignment 64 the data section moves to the next multiple of 64.
    let kv = raw_kv("general.alignment", U32, B::default().u32(64));
    let f = raw_file(3, &[kv], &[raw_info("t", &[4], F32, 0)], 64, &[1; 16]);
    let f = parse(f).unwrap();
    assert_eq!((f.alignment(), f.data_offset() % 64), (64, 0));
    assert_eq!(f.tensor_bytes(&f.tensors()[0]).as_slice(), &[1; 16]);
}

/// The header's counts are bounded by the smallest item each could be, exactly: a key/value is at
/// least 13 bytes (empty key, type, one-byte value), a tensor info at least 24 (empty name, no
/// dims, type, offset). One byte short of `count x minimum` is refused before any allocation; at
/// the minimum the count passes and parsing goes on (here to a later error about the zeros).
#[test]
fn header_counts_are_bounded_by_the_smallest_item_exactly() {
    let file = |tensors: u64, kvs: u64, body: usize| {
        B::default()
            .raw(b"GGUF")
            .u32(3)
            .u64(tensors)
            .u64(kvs)
            .raw(&vec![0; body])
            .0
    };
    let count_err = |bytes: Vec<u8>| err(bytes).contains("bytes left can hold");
    // Three key/values need 39 bytes at least.
    assert!(!count_err(file(0, 3, 39)), "{}", err(file(0, 3, 39)));
    assert!(count_err(file(0, 3, 38)), "{}", err(file(0, 3, 38)));
    // Two tensor infos need 48 bytes after the tensor count (the key/value count is 8 of them).
    assert!(!count_err(file(2, 0, 40)), "{}", err(file(2, 0, 40)));
    assert!(count_err(file(2, 0, 39)), "{}", err(file(2, 0, 39)));
}
