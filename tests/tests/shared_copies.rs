//! The repository keeps its own copies of the project's shared data (the real tokenizer, config
//! and mistral-common chat fixtures), so a fresh clone's tests need nothing beside it. Where the
//! shared directory is present, this checks that every copy is byte-identical to its origin.
//!
//! The shared directory is `$MISTRAL_SHARED_DIR`, else `shared/` beside the checkout. Without it
//! the test has nothing to compare and says so, unless `MISTRAL_REQUIRE_SHARED=1` (CI sets it)
//! makes its absence a failure.

use std::path::PathBuf;

use mistral_tests::fixtures::workspace_root;

/// (copy in the repository, origin under the shared directory)
const COPIES: [(&str, &str); 4] = [
    (
        "crates/mistral-text/data/tokenizer.json",
        "mistral-7b-instruct-v0.1/tokenizer.json",
    ),
    (
        "crates/mistral-text/data/tokenizer.model",
        "mistral-7b-instruct-v0.1/tokenizer.model",
    ),
    (
        "tests/data/mistral-7b-config.json",
        "mistral-7b-instruct-v0.1/config.json",
    ),
    (
        "crates/mistral-text/tests/data/chat_template_v1.jsonl",
        "fixtures/chat_template_v1.jsonl",
    ),
];

fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("MISTRAL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    dir.join("mistral-7b-instruct-v0.1").is_dir().then_some(dir)
}

#[test]
fn repository_copies_equal_the_shared_originals() {
    let Some(shared) = shared_dir() else {
        assert!(
            std::env::var("MISTRAL_REQUIRE_SHARED").map_or(true, |v| v != "1"),
            "MISTRAL_REQUIRE_SHARED=1 but no shared directory (set MISTRAL_SHARED_DIR)"
        );
        eprintln!("no shared directory beside the checkout: nothing to cross-check");
        return;
    };
    for (copy, origin) in COPIES {
        let read =
            |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let (a, b) = (read(workspace_root().join(copy)), read(shared.join(origin)));
        assert!(a == b, "{copy} differs from shared/{origin}: copy it again");
    }
}
