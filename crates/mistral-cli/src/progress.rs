//! Byte progress on stderr, only when stderr is a terminal.

use std::io::{IsTerminal, Write};

/// Returns a progress callback `(done, total)` labelled `what`; silent when not on a terminal.
pub fn bytes(what: &'static str) -> impl FnMut(u64, u64) {
    let tty = std::io::stderr().is_terminal();
    let mut last = 0u64;
    move |done, total| {
        if !tty || total == 0 {
            return;
        }
        let pct = done * 100 / total;
        if pct != last || done == total {
            last = pct;
            let gb = |b: u64| b as f64 / 1e9;
            eprint!("\r{what}: {:.2} / {:.2} GB ({pct}%)", gb(done), gb(total));
            if done == total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
    }
}
