//! The commands the README shows a user, so tests can run them and the documentation cannot drift.
//!
//! Every line of every `sh` block in the README's "Quick start" and "Usage" sections is a command
//! (a `# comment` ends it, a trailing `\` continues it). Each must be one of the forms below; an
//! unknown one fails the tests, so a new kind of command needs a test before it can be shown.
//! Three tests run them: `mistral-cli/tests/readme.rs` (the `mistral` ones), `benches/tests/readme.rs`
//! (`cargo xtask bench`) and `xtask/tests/readme.rs` (every other `cargo xtask` task).

use std::path::PathBuf;

/// One command of the README, split into words as a POSIX shell would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadmeCommand {
    /// `mistral ARGS`, or `cargo run --release -p mistral-cli -- ARGS`: the words after `mistral`.
    Mistral(Vec<String>),
    /// `cargo install --path PATH`.
    Install(String),
    /// `cargo xtask bench ARGS`: the words after `bench`.
    Bench(Vec<String>),
    /// `cargo xtask TASK ARGS` for any other task: the words after `xtask`.
    Xtask(Vec<String>),
}

/// The README's commands, in order, each with the line it came from.
pub fn commands() -> Vec<(String, ReadmeCommand)> {
    let path = crate::fixtures::workspace_root().join("README.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    commands_of(&text)
}

/// The README's commands that `pick` accepts, each with its line: e.g. the `mistral` ones with
/// `select(|c| match c { ReadmeCommand::Mistral(a) => Some(a), _ => None })`.
pub fn select<T>(pick: impl Fn(ReadmeCommand) -> Option<T>) -> Vec<(String, T)> {
    commands()
        .into_iter()
        .filter_map(|(line, c)| pick(c).map(|t| (line, t)))
        .collect()
}

/// The commands of a README's text (see the module docs for what counts).
pub fn commands_of(text: &str) -> Vec<(String, ReadmeCommand)> {
    let mut out = Vec::new();
    // `fence`: inside a fenced block, and whether it is an `sh` one.
    let (mut in_section, mut fence) = (false, None::<bool>);
    let mut pending = String::new();
    for line in text.lines() {
        if fence.is_none() && line.starts_with("## ") {
            let title = line[3..].trim().to_ascii_lowercase();
            in_section = title == "quick start" || title == "usage";
        }
        if line.trim_start().starts_with("```") {
            fence = match fence {
                None => Some(line.trim() == "```sh"),
                Some(_) => None,
            };
            continue;
        }
        if !(in_section && fence == Some(true)) {
            continue;
        }
        pending.push_str(line.trim_end());
        if let Some(stripped) = pending.strip_suffix('\\') {
            pending = format!("{stripped} ");
            continue;
        }
        let words = shell_words(&pending);
        let shown = std::mem::take(&mut pending).trim().to_string();
        if !words.is_empty() {
            out.push((shown.clone(), classify(&shown, words)));
        }
    }
    assert!(
        !out.is_empty(),
        "no commands found in the README's quick start and usage"
    );
    out
}

fn classify(line: &str, words: Vec<String>) -> ReadmeCommand {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let rest = |n: usize| words[n..].to_vec();
    match w.as_slice() {
        ["mistral", ..] => ReadmeCommand::Mistral(rest(1)),
        ["cargo", "run", "--release", "-p", "mistral-cli", "--", ..] => {
            ReadmeCommand::Mistral(rest(6))
        }
        ["cargo", "install", "--path", p] => ReadmeCommand::Install(p.to_string()),
        ["cargo", "xtask", "bench", ..] => ReadmeCommand::Bench(rest(3)),
        ["cargo", "xtask", ..] => ReadmeCommand::Xtask(rest(2)),
        _ => {
            panic!("README command of no known form (teach tests/src/readme.rs to run it): {line}")
        }
    }
}

/// Splits a command line into words: whitespace separates, '…' quotes literally, "…" quotes with
/// `\"` and `\\` escapes, and an unquoted `#` at the start of a word begins a comment.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    w.push(c);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            w.push(chars.next().unwrap_or('\\'))
                        }
                        c => w.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

/// A path relative to the workspace root, as the README's commands are run from there.
pub fn in_workspace(relative: &str) -> PathBuf {
    crate::fixtures::workspace_root().join(relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_and_comments() {
        assert_eq!(
            shell_words(r#"mistral generate --prompt "Say \"hi\"" --stop '\n\n' # a comment"#),
            [
                "mistral",
                "generate",
                "--prompt",
                "Say \"hi\"",
                "--stop",
                "\\n\\n"
            ]
        );
        assert_eq!(shell_words("a=#b c"), ["a=#b", "c"]);
        assert_eq!(shell_words(r#"x "" y"#), ["x", "", "y"]);
    }

    #[test]
    fn sections_blocks_and_forms() {
        let text = "# T\n## Quick start\n```sh\ncargo xtask test   # all\nmistral devices\n```\n\
                    ```text\nmistral ignored\n```\n## Tests\n```sh\ncargo test --workspace\n```\n\
                    ## Usage\n```sh\ncargo run --release -p mistral-cli -- chat \\\n  --model DIR\n\
                    cargo xtask bench --quick\ncargo install --path crates/mistral-cli\n```\n";
        let got: Vec<ReadmeCommand> = commands_of(text).into_iter().map(|(_, c)| c).collect();
        let s = |v: &[&str]| v.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            [
                ReadmeCommand::Xtask(s(&["test"])),
                ReadmeCommand::Mistral(s(&["devices"])),
                ReadmeCommand::Mistral(s(&["chat", "--model", "DIR"])),
                ReadmeCommand::Bench(s(&["--quick"])),
                ReadmeCommand::Install("crates/mistral-cli".into()),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "no known form")]
    fn unknown_commands_are_refused() {
        commands_of("## Usage\n```sh\nrm -rf /tmp/x\n```\n");
    }
}
