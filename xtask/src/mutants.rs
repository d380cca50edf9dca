//! `cargo xtask mutants`: mutation testing of the kernels, and the planted-bug regression list.
//!
//! A mutant is one small edit of `kernels/*.cu` or `shaders/*.wgsl` (see [`OPERATORS`]): a
//! comparison flipped (`<` ↔ `<=`, `>` ↔ `>=`, `==` ↔ `!=`), a `+ 1` / `- 1` dropped from a
//! bound or index, `min` and `max` swapped, or a barrier dropped. Each runs in a copy of the
//! workspace (`target/mutants/src`, built in `target/mutants/target`; the checkout is never
//! touched; `$CARGO_TARGET_DIR/mutants` when that is set) against its backend's suite, in
//! stages so a caught mutant stops early:
//!
//! | file | stage 1 | stage 2 |
//! | --- | --- | --- |
//! | `kernels/*.cu` | CUDA parity table on the emulator | every CUDA parity/golden test, NVRTC compile of every kernel |
//! | `shaders/*.wgsl` | wgpu parity table (lavapipe) | wgpu golden models |
//! | `crates/mistral-cpu/**` (planted only) | CPU against the naive twins | CPU against transformers |
//!
//! A mutant is *caught* when its build fails (the emulator compiles every kernel with the system
//! C++ compiler), a test fails, or the suite runs past its timeout (3× the unmutated time + 60 s);
//! otherwise it *survives*. `tools/mutants/equivalent.txt` lists survivors that change no
//! behaviour, with the reason; they are reported apart. `tools/mutants/planted.txt` holds bugs
//! once planted by hand; `--planted` replays them, and each must be caught.
//!
//! Options: `--planted` (the regression list instead of generated mutants), `--sample N` (N
//! mutants drawn with `--seed S`), `--filter TEXT` (only mutants whose id contains it),
//! `--budget MINUTES` (start no mutant after that), `--list` (print the mutants, run nothing),
//! `--report PATH` (write the Markdown report there), `--shared-target` (build in
//! `$CARGO_TARGET_DIR` itself: CI's last step). Exits non-zero if a planted bug survives.
//! `--rust CRATE [--shard K/N]` runs cargo-mutants over a Rust crate instead (`rust_mutants.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::root;

/// The mutation operators: what a token becomes. Comparisons are matched with a space on each
/// side (how the kernels are written), so `<<`, `->` and template brackets are never touched.
const OPERATORS: &[(&str, &str, &str)] = &[
    ("compare", " < ", " <= "),
    ("compare", " <= ", " < "),
    ("compare", " > ", " >= "),
    ("compare", " >= ", " > "),
    ("compare", " == ", " != "),
    ("compare", " != ", " == "),
    ("off-by-one", " + 1", ""),
    ("off-by-one", " - 1", ""),
    ("min-max", "min(", "max("),
    ("min-max", "max(", "min("),
    ("min-max", "fminf(", "fmaxf("),
    ("min-max", "fmaxf(", "fminf("),
    ("barrier", "__syncthreads();", ""),
    ("barrier", "__syncwarp();", ""),
    ("barrier", "workgroupBarrier();", ""),
    ("barrier", "storageBarrier();", ""),
];

/// Memory each process of a mutant's build or tests may take (KiB): a third of a 24 GB machine.
const MEMORY_LIMIT_KIB: u64 = 8 << 20;

/// One edit of one file.
#[derive(Clone, Debug)]
pub struct Mutant {
    /// `file:line:col operator`, or the planted bug's title.
    pub id: String,
    pub file: String,
    pub op: String,
    /// Byte offset of `from` in the file.
    pub at: usize,
    pub from: String,
    pub to: String,
}

impl Mutant {
    fn apply(&self, text: &str) -> String {
        assert_eq!(&text[self.at..self.at + self.from.len()], self.from);
        format!(
            "{}{}{}",
            &text[..self.at],
            self.to,
            &text[self.at + self.from.len()..]
        )
    }

    fn family(&self) -> &str {
        Path::new(&self.file)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&self.file)
    }
}

/// Every mutant of one source file's text.
pub fn mutants_of(file: &str, text: &str) -> Vec<Mutant> {
    let mut out = Vec::new();
    let mut offset = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        // Code only: not comments, not preprocessor lines.
        let code = line.split("//").next().unwrap_or("");
        if !code.trim_start().starts_with('#') {
            for &(op, from, to) in OPERATORS {
                for (col, _) in code.match_indices(from) {
                    if !is_whole(code, col, from) {
                        continue;
                    }
                    out.push(Mutant {
                        id: format!(
                            "{file}:{}:{} {op} `{}`→`{}`",
                            n + 1,
                            col + 1,
                            from.trim(),
                            to.trim()
                        ),
                        file: file.to_string(),
                        op: op.to_string(),
                        at: offset + col,
                        from: from.to_string(),
                        to: to.to_string(),
                    });
                }
            }
        }
        offset += line.len();
    }
    out
}

/// Whether the match of `pat` at `col` is a whole token: `+ 1` not followed by a digit or `.`
/// (so `+ 16` and `+ 1.0f` stay), `min(` not part of a longer name (`fminf(`, `umin(`).
fn is_whole(code: &str, col: usize, pat: &str) -> bool {
    let before = code[..col].chars().next_back();
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if pat.ends_with(" 1") {
        // `1u` is still one; `10`, `1.0`, `1e3`, `1 << k` are not.
        let rest = &code[col + pat.len()..];
        let rest = rest.strip_prefix('u').unwrap_or(rest);
        let next = rest.chars().next();
        return !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            && !rest.trim_start().starts_with("<<");
    }
    if pat.ends_with('(') {
        return !ident(before);
    }
    true
}

/// The generated mutants of every kernel and shader, in a fixed order.
pub fn all_mutants() -> Result<Vec<Mutant>, String> {
    let mut files = Vec::new();
    for (dir, ext) in [("kernels", "cu"), ("shaders", "wgsl")] {
        let rd = std::fs::read_dir(root().join(dir)).map_err(|e| format!("{dir}: {e}"))?;
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == ext) {
                files.push(format!(
                    "{dir}/{}",
                    p.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = read(&root().join(&f))?;
        out.extend(mutants_of(&f, &text));
    }
    Ok(out)
}

/// The planted-bug list (`tools/mutants/planted.txt`): `[title]` then `file =`, `find =`,
/// `replace =` lines (`\n` and `\\` escapes). Each `find` must occur exactly once.
pub fn planted() -> Result<Vec<Mutant>, String> {
    let path = root().join("tools/mutants/planted.txt");
    let text = read(&path)?;
    let mut out = Vec::new();
    let mut cur: Option<(String, BTreeMap<String, String>)> = None;
    let mut finish = |cur: Option<(String, BTreeMap<String, String>)>| -> Result<(), String> {
        let Some((title, kv)) = cur else {
            return Ok(());
        };
        let get = |k: &str| {
            kv.get(k)
                .cloned()
                .ok_or_else(|| format!("planted.txt [{title}]: no `{k} =`"))
        };
        let (file, find, replace) = (get("file")?, get("find")?, get("replace")?);
        let src = read(&root().join(&file))?;
        let hits: Vec<usize> = src.match_indices(&find).map(|(i, _)| i).collect();
        if hits.len() != 1 {
            return Err(format!(
                "planted.txt [{title}]: `find` occurs {} times in {file} (must be once)",
                hits.len()
            ));
        }
        out.push(Mutant {
            id: title,
            file,
            op: "planted".into(),
            at: hits[0],
            from: find,
            to: replace,
        });
        Ok(())
    };
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(title) = t.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            finish(cur.take())?;
            cur = Some((title.to_string(), BTreeMap::new()));
        } else if let (Some((k, v)), Some((_, kv))) = (line.split_once(" = "), cur.as_mut()) {
            kv.insert(k.trim().to_string(), unescape(v));
        } else {
            return Err(format!("planted.txt: cannot read line {line:?}"));
        }
    }
    finish(cur)?;
    Ok(out)
}

fn unescape(v: &str) -> String {
    let (mut out, mut it) = (String::new(), v.chars());
    while let Some(c) = it.next() {
        match (c, c == '\\') {
            (_, true) => match it.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// `tools/mutants/equivalent.txt`: `id | reason` lines for survivors that change no behaviour.
fn equivalent() -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(root().join("tools/mutants/equivalent.txt")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(" | "))
        .map(|(id, why)| (id.trim().to_string(), why.trim().to_string()))
        .collect()
}

fn read(p: &Path) -> Result<String, String> {
    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The staged `cargo test` argument lists for a mutated file.
fn stages(file: &str) -> Vec<Vec<&'static str>> {
    if file.ends_with(".cu") || file.ends_with(".cuh") {
        vec![
            vec![
                "-p",
                "mistral-cuda",
                "--test",
                "parity",
                "--",
                "every_parity_case",
            ],
            vec![
                "-p",
                "mistral-cuda",
                "--test",
                "parity",
                "--test",
                "compile_kernels",
            ],
        ]
    } else if file.ends_with(".wgsl") {
        vec![
            vec!["-p", "mistral-wgpu", "--test", "parity"],
            vec!["-p", "mistral-wgpu", "--test", "golden"],
        ]
    } else {
        vec![
            vec!["-p", "mistral-tests", "--test", "cpu_ops"],
            vec![
                "-p",
                "mistral-tests",
                "--test",
                "hf_parity",
                "--test",
                "executor",
            ],
        ]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    CaughtBuild,
    CaughtTest,
    CaughtTimeout,
    Survived,
    Equivalent,
    NotRun,
}

impl Outcome {
    fn caught(self) -> bool {
        matches!(
            self,
            Outcome::CaughtBuild | Outcome::CaughtTest | Outcome::CaughtTimeout
        )
    }
    fn word(self) -> &'static str {
        match self {
            Outcome::CaughtBuild => "caught (build)",
            Outcome::CaughtTest => "caught (test)",
            Outcome::CaughtTimeout => "caught (timeout)",
            Outcome::Survived => "**survived**",
            Outcome::Equivalent => "equivalent",
            Outcome::NotRun => "not run (budget)",
        }
    }
}

/// The copy of the workspace the mutants run in, and how to run cargo there.
struct Sandbox {
    src: PathBuf,
    target: PathBuf,
    logs: PathBuf,
    env: Vec<(String, String)>,
}

impl Sandbox {
    /// Copies the files git knows of (tracked, and untracked ones it does not ignore).
    fn new(shared_target: bool) -> Result<Sandbox, String> {
        // Beside the build this task runs in, never in it: cargo names workspace crates by their
        // path inside the workspace, so the copy's builds would pass for the checkout's.
        let base = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root().join("target"), PathBuf::from)
            .join("mutants");
        let src = base.join("src");
        if src.exists() {
            std::fs::remove_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        }
        let out = Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(root())
            .output()
            .map_err(|e| format!("git: {e}"))?;
        if !out.status.success() {
            return Err("mutants: `git ls-files` failed (a git checkout is needed)".into());
        }
        for rel in out.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()) {
            let rel = String::from_utf8_lossy(rel).into_owned();
            let (from, to) = (root().join(&rel), src.join(&rel));
            if !from.is_file() {
                continue; // deleted in the work tree
            }
            std::fs::create_dir_all(to.parent().unwrap()).map_err(|e| e.to_string())?;
            std::fs::copy(&from, &to).map_err(|e| format!("{rel}: {e}"))?;
        }
        let logs = base.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        let env = crate::setup::test_env();
        // `--shared-target` (CI's last step): build in the invoking build directory itself, whose
        // dependencies are already built. The checkout's next build there may reuse the copy's
        // builds, which is harmless only when nothing is built there afterwards.
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if shared_target => PathBuf::from(dir),
            _ => base.join("target"),
        };
        Ok(Sandbox {
            src,
            target,
            logs,
            env,
        })
    }

    /// Runs `cargo test ARGS` in the copy; `Ok(true)` if it passed, `Ok(false)` if it failed,
    /// `Err` on a timeout. Output goes to `log`.
    fn cargo_test(&self, args: &[&str], timeout: Duration, log: &Path) -> Result<bool, ()> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let file = std::fs::File::create(log).expect("log file");
        // A mutant can make a kernel loop forever or allocate without end. coreutils `timeout`
        // runs the command in a process group of its own and kills that whole group (cargo and
        // the test binary) when time is up; the memory limit (per process, of its data segment)
        // keeps a runaway allocation from taking the machine down.
        let script = format!(
            "ulimit -d {MEMORY_LIMIT_KIB} && exec timeout -s KILL {} \"$0\" test \"$@\"",
            timeout.as_secs().max(1)
        );
        let status = Command::new("sh")
            .args(["-c", &script])
            .arg(cargo)
            .args(args)
            .current_dir(&self.src)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_TERM_COLOR", "never")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .status()
            .expect("run cargo under timeout");
        // `timeout -s KILL` exits 137 when it killed the command (124 with other signals).
        match status.code() {
            Some(0) => Ok(true),
            Some(124) | Some(137) | None => Err(()),
            Some(_) => Ok(false),
        }
    }

    /// Builds and runs the stages of `file`'s suite, each step (a stage's build, then its tests)
    /// under its own limit (`limits[step]`, or an hour past the last); the outcome, and how long
    /// each step that ran took.
    fn judge(&self, file: &str, limits: &[Duration], log: &str) -> (Outcome, Vec<Duration>) {
        let mut took = Vec::new();
        for (i, stage) in stages(file).iter().enumerate() {
            let build: Vec<&str> = stage
                .iter()
                .take_while(|a| **a != "--")
                .copied()
                .chain(["--no-run"])
                .collect();
            for (step, args) in [("build", &build), ("test", stage)] {
                let limit = limits
                    .get(took.len())
                    .copied()
                    .unwrap_or(Duration::from_secs(3600));
                let t = Instant::now();
                let result = self.cargo_test(
                    args,
                    limit,
                    &self.logs.join(format!("{log}.{i}.{step}.log")),
                );
                took.push(t.elapsed());
                let outcome = match (step, result) {
                    (_, Ok(true)) => continue,
                    ("build", _) => Outcome::CaughtBuild,
                    (_, Ok(false)) => Outcome::CaughtTest,
                    (_, Err(())) => Outcome::CaughtTimeout,
                };
                return (outcome, took);
            }
        }
        (Outcome::Survived, took)
    }
}

/// Options of `cargo xtask mutants`.
#[derive(Default)]
struct Options {
    planted: bool,
    sample: Option<usize>,
    seed: u64,
    filter: Option<String>,
    budget: Option<Duration>,
    list: bool,
    report: Option<PathBuf>,
    rust: Option<String>,
    shard: Option<String>,
    shared_target: bool,
}

fn options(rest: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--planted" => o.planted = true,
            "--list" => o.list = true,
            "--sample" => o.sample = Some(num(value()?)? as usize),
            "--seed" => o.seed = num(value()?)?,
            "--filter" => o.filter = Some(value()?),
            "--budget" => o.budget = Some(Duration::from_secs(num(value()?)? * 60)),
            "--report" => o.report = Some(PathBuf::from(value()?)),
            "--rust" => o.rust = Some(value()?),
            "--shard" => o.shard = Some(value()?),
            "--shared-target" => o.shared_target = true,
            _ => return Err(format!("mutants: unexpected argument {flag:?}")),
        }
    }
    Ok(o)
}

/// A seeded draw of `n` of `v` (splitmix64 keys; the same seed gives the same sample).
fn sample(mut v: Vec<Mutant>, n: usize, seed: u64) -> Vec<Mutant> {
    let key = |i: usize| {
        let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut keyed: Vec<(u64, Mutant)> = v.drain(..).enumerate().map(|(i, m)| (key(i), m)).collect();
    keyed.sort_by_key(|(k, _)| *k);
    // In the drawn order, not by file: under a budget, kernels and shaders both get their turn.
    keyed.into_iter().take(n).map(|(_, m)| m).collect()
}

pub fn mutants(dry: bool, rest: &[String]) -> Result<(), String> {
    let o = options(rest)?;
    if let Some(krate) = &o.rust {
        let run = crate::run::Runner { dry };
        return crate::rust_mutants::rust_mutants(&run, krate, o.shard.as_deref());
    }
    let mut list = if o.planted {
        planted()?
    } else {
        all_mutants()?
    };
    if let Some(f) = &o.filter {
        list.retain(|m| m.id.contains(f.as_str()));
    }
    if let Some(n) = o.sample {
        list = sample(list, n, o.seed);
    }
    if o.list || dry {
        for m in &list {
            println!("{}", m.id);
        }
        eprintln!("{} mutants", list.len());
        return Ok(());
    }
    let equivalent = equivalent();
    let sandbox = Sandbox::new(o.shared_target)?;
    let started = Instant::now();

    // The unmutated suites must pass; their time sets the timeout.
    let mut files: Vec<&str> = list.iter().map(|m| m.file.as_str()).collect();
    files.sort();
    files.dedup();
    // Each step's limit: 3x its unmutated time plus 30 s (a build after an edit recompiles more).
    let mut limits: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for kind in files
        .iter()
        .map(|f| kind_of(f))
        .collect::<std::collections::BTreeSet<_>>()
    {
        let file = files.iter().find(|f| kind_of(f) == kind).unwrap();
        let (outcome, took) = sandbox.judge(file, &[], &format!("baseline-{kind}"));
        if outcome != Outcome::Survived {
            return Err(format!(
                "mutants: the unmutated {kind} suite fails ({}): see {}",
                outcome.word(),
                sandbox.logs.display()
            ));
        }
        let secs: Vec<String> = took
            .iter()
            .map(|d| format!("{:.0}", d.as_secs_f64()))
            .collect();
        eprintln!("baseline {kind}: passes; steps took {} s", secs.join(" + "));
        let limit = took
            .iter()
            .map(|d| *d * 3 + Duration::from_secs(30))
            .collect();
        limits.insert(kind, limit);
    }

    let mut results: Vec<(Mutant, Outcome, f64)> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        if equivalent.contains_key(&m.id) {
            results.push((m.clone(), Outcome::Equivalent, 0.0));
            continue;
        }
        if o.budget.is_some_and(|b| started.elapsed() > b) {
            results.push((m.clone(), Outcome::NotRun, 0.0));
            continue;
        }
        let path = sandbox.src.join(&m.file);
        let original = read(&path)?;
        std::fs::write(&path, m.apply(&original)).map_err(|e| e.to_string())?;
        let t = Instant::now();
        let (outcome, _) = sandbox.judge(&m.file, &limits[kind_of(&m.file)], &format!("m{i:04}"));
        std::fs::write(&path, &original).map_err(|e| e.to_string())?;
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "[{}/{}] {} ({secs:.0} s): {}",
            i + 1,
            list.len(),
            outcome.word(),
            m.id
        );
        results.push((m.clone(), outcome, secs));
        // Kept up to date, so a run cut short still leaves its report.
        if let Some(p) = &o.report {
            let _ = std::fs::write(p, report(&o, &results, &equivalent, started.elapsed()));
        }
    }

    let report = report(&o, &results, &equivalent, started.elapsed());
    match &o.report {
        Some(p) => {
            std::fs::write(p, &report).map_err(|e| format!("{}: {e}", p.display()))?;
            eprintln!("report: {}", p.display());
        }
        None => println!("{report}"),
    }
    let escaped: Vec<&str> = results
        .iter()
        .filter(|(_, r, _)| o.planted && *r == Outcome::Survived)
        .map(|(m, _, _)| m.id.as_str())
        .collect();
    if escaped.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "planted bugs the suites no longer catch: {escaped:?}"
        ))
    }
}

fn kind_of(file: &str) -> &'static str {
    if file.ends_with(".cu") || file.ends_with(".cuh") {
        "cuda"
    } else if file.ends_with(".wgsl") {
        "wgpu"
    } else {
        "cpu"
    }
}

fn report(
    o: &Options,
    results: &[(Mutant, Outcome, f64)],
    equivalent: &BTreeMap<String, String>,
    took: Duration,
) -> String {
    let mut s = String::new();
    let what = if o.planted {
        "planted bugs"
    } else {
        "kernel mutants"
    };
    let _ = writeln!(s, "# Mutation report: {what}\n");
    let _ = writeln!(
        s,
        "`cargo xtask mutants{}{}{}{}` on {}, {:.0} min. Made by `xtask/src/mutants.rs`; \
         a mutant is caught when its build or its backend's suite fails or times out.\n",
        if o.planted { " --planted" } else { "" },
        o.sample.map_or(String::new(), |n| format!(
            " --sample {n} --seed {}",
            o.seed
        )),
        o.filter
            .as_ref()
            .map_or(String::new(), |f| format!(" --filter {f:?}")),
        o.budget
            .map_or(String::new(), |b| format!(" --budget {}", b.as_secs() / 60)),
        crate::run::today(),
        took.as_secs_f64() / 60.0
    );
    tally(&mut s, "family", results, |m| m.family().to_string());
    if !o.planted {
        tally(&mut s, "operator", results, |m| m.op.clone());
    }
    let _ = writeln!(
        s,
        "Kill rate: caught / (caught + survived); equivalent and unrun mutants excluded.\n"
    );
    let _ = writeln!(s, "| mutant | outcome | seconds |");
    let _ = writeln!(s, "| --- | --- | ---: |");
    for (m, r, secs) in results {
        let why = equivalent
            .get(&m.id)
            .map_or(String::new(), |w| format!(": {w}"));
        let _ = writeln!(
            s,
            "| {} | {}{why} | {secs:.0} |",
            m.id.replace('|', "\\|"),
            r.word()
        );
    }
    s
}

/// A table of outcomes grouped by `key`, with a total row.
fn tally(
    s: &mut String,
    what: &str,
    results: &[(Mutant, Outcome, f64)],
    key: impl Fn(&Mutant) -> String,
) {
    let _ = writeln!(
        s,
        "| {what} | mutants | caught | survived | equivalent | not run | kill rate |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut groups: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    for (m, r, _) in results {
        let c = groups.entry(key(m)).or_default();
        c[0] += 1;
        match r {
            r if r.caught() => c[1] += 1,
            Outcome::Survived => c[2] += 1,
            Outcome::Equivalent => c[3] += 1,
            _ => c[4] += 1,
        }
    }
    let total = groups.values().fold([0; 5], |mut a, c| {
        (0..5).for_each(|i| a[i] += c[i]);
        a
    });
    for (name, c) in groups.iter().chain([(&"**all**".to_string(), &total)]) {
        let judged = c[1] + c[2];
        let rate = if judged == 0 {
            "–".to_string()
        } else {
            format!("{:.0}%", 100.0 * c[1] as f64 / judged as f64)
        };
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {rate} |",
            c[0], c[1], c[2], c[3], c[4]
        );
    }
    let _ = writeln!(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_match_whole_tokens_only() {
        let text = "if (a < b && c <= d) x = y + 1u;\nz = w + 16 + 1.0f - 1;\n\
                    // a < b in a comment\n#define N (M + 1)\nfminf(a, b); umin(a, b); min(a, b);\n\
                    __syncthreads();\nq = p << 1; r = s + 1 << k;\n";
        let ids: Vec<String> = mutants_of("k.cu", text)
            .iter()
            .map(|m| format!("{}→{}", m.from.trim(), m.to.trim()))
            .collect();
        assert_eq!(
            ids,
            [
                "<→<=",
                "<=→<",
                "+ 1→", // line 1
                "- 1→", // line 2: `+ 16` and `+ 1.0f` stay
                "min(→max(",
                "fminf(→fmaxf(", // line 5: `umin(` stays
                "__syncthreads();→",
            ]
        );
    }

    #[test]
    fn a_mutant_changes_exactly_its_token() {
        let text = "a\nif (i < n) {}\n";
        let m = &mutants_of("k.wgsl", text)[0];
        assert_eq!(m.apply(text), "a\nif (i <= n) {}\n");
        assert!(m.id.starts_with("k.wgsl:2:6 compare"), "{}", m.id);
    }

    #[test]
    fn escapes_and_samples() {
        assert_eq!(unescape(r"a\nb\\n"), "a\nb\\n");
        let v: Vec<Mutant> = mutants_of("k.cu", &"x = a < b;\n".repeat(50));
        let (a, b) = (sample(v.clone(), 7, 3), sample(v.clone(), 7, 3));
        assert_eq!(a.len(), 7);
        assert_eq!(
            a.iter().map(|m| m.at).collect::<Vec<_>>(),
            b.iter().map(|m| m.at).collect::<Vec<_>>()
        );
        let c = sample(v, 7, 4);
        assert_ne!(
            a.iter().map(|m| m.at).collect::<Vec<_>>(),
            c.iter().map(|m| m.at).collect::<Vec<_>>()
        );
    }
}
