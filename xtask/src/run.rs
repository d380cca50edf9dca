//! Running commands, or only printing them with `--dry-run`.

use std::process::Command;

/// Runs the commands a task needs; with `dry` set, prints them and runs nothing.
pub struct Runner {
    pub dry: bool,
}

/// Extra environment variables for a command.
pub type Env = [(String, String)];

impl Runner {
    /// Runs `program args` with `env` added; an error naming the command if it fails.
    pub fn cmd(&self, program: &str, args: &[&str], env: &Env) -> Result<(), String> {
        let line = shown(program, args, env);
        eprintln!("$ {line}");
        if self.dry {
            return Ok(());
        }
        let status = Command::new(program)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .status()
            .map_err(|e| format!("{program}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("`{line}` failed ({status})"))
        }
    }

    /// Runs the cargo that runs this task.
    pub fn cargo(&self, args: &[&str], env: &Env) -> Result<(), String> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        self.cmd(&cargo, args, env)
    }
}

/// Whether `program args` runs and exits 0 (a probe: nothing is printed, dry run or not).
pub fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The standard output of a probe, if it ran and succeeded.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    Command::new(program)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn shown(program: &str, args: &[&str], env: &Env) -> String {
    let name = std::path::Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy().into_owned());
    let mut words: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    words.push(name);
    words.extend(args.iter().map(|a| {
        if a.is_empty() || a.contains([' ', '*', '"', '\'']) {
            format!("'{a}'")
        } else {
            a.to_string()
        }
    }));
    words.join(" ")
}

/// Today's UTC date and time, for reports (`date -u`).
pub fn today() -> String {
    output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
        .map_or_else(|| "unknown date".into(), |d| d.trim().to_string())
}
