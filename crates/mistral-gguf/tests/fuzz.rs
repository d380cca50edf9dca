//! Random corruptions of a valid file: parsing returns Ok or a one-line Err, never panics, and
//! every tensor of an Ok file lies inside the file.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use proptest::sample::Index;

fn sample() -> &'static [u8] {
    static SAMPLE: OnceLock<Vec<u8>> = OnceLock::new();
    SAMPLE.get_or_init(sample_file)
}

/// Where the header (everything before the data section) ends in [`sample`].
fn header_len() -> usize {
    parse(sample().to_vec()).unwrap().data_offset() as usize
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Set one header byte.
    Byte(Index, u8),
    /// Overwrite 8 header bytes (a count, a length or an offset, when aligned on one).
    U64(Index, u64),
    /// Overwrite 4 header bytes (a type, a dimension count, a version).
    U32(Index, u32),
    /// Cut the file.
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let huge = prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX - 7),
        Just(1u64 << 63),
        Just(1u64 << 32),
        Just(u64::from(u32::MAX)),
        0u64..64,
        any::<u64>(),
    ];
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (any::<Index>(), huge).prop_map(|(i, v)| Mutation::U64(i, v)),
        (any::<Index>(), prop_oneof![0u32..16, any::<u32>()])
            .prop_map(|(i, v)| Mutation::U32(i, v)),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, header: usize) {
    let put = |bytes: &mut Vec<u8>, i: &Index, v: &[u8]| {
        let end = header.min(bytes.len());
        if end >= v.len() {
            let at = i.index(end - v.len() + 1);
            bytes[at..at + v.len()].copy_from_slice(v);
        }
    };
    match m {
        Mutation::Byte(i, b) => put(bytes, i, &[*b]),
        Mutation::U64(i, v) => put(bytes, i, &v.to_le_bytes()),
        Mutation::U32(i, v) => put(bytes, i, &v.to_le_bytes()),
        Mutation::Truncate(i) => {
            let len = i.index(bytes.len() + 1);
            bytes.truncate(len);
        }
    }
}

/// The property: Ok with every tensor inside the file and readable, or a one-line error.
fn check(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let len = bytes.len() as u64;
    match parse(bytes) {
        Ok(f) => {
            for t in f.tensors() {
                let end = f.data_offset() + t.offset + t.n_bytes;
                prop_assert!(end <= len, "tensor {} ends at {end} of {len}", t.name);
                let want = t.dtype.bytes_for(t.numel() as usize).map(|b| b as u64);
                prop_assert_eq!(want, Some(t.n_bytes));
                prop_assert_eq!(f.tensor_bytes(t).len() as u64, t.n_bytes);
                prop_assert!(f.host_tensor(&t.name).is_some());
            }
            let _ = f.architecture();
        }
        Err(e) => prop_assert!(!e.to_string().contains('\n'), "{}", e),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_files_never_panic(ms in prop::collection::vec(mutation(), 1..4)) {
        let mut bytes = sample().to_vec();
        let header = header_len();
        for m in &ms {
            apply(&mut bytes, m, header);
        }
        check(bytes)?;
    }

    #[test]
    fn random_bodies_never_panic(
        (version, n_tensors, n_kv) in (2u32..4, 0u64..3, 0u64..4),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = B::default().raw(b"GGUF").u32(version).u64(n_tensors).u64(n_kv).0;
        bytes.extend_from_slice(&body);
        check(bytes)?;
    }
}
