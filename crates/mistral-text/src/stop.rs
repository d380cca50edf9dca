//! [`StopChecker`]: ends generation when a stop string appears in the streamed text.
//!
//! Text is fed piece by piece as [`crate::StreamDecoder`] yields it. A stop string may be split
//! over several pieces, so the checker holds back the end of the text while it could still be the
//! start of a stop string, and releases it once it cannot. When a stop string appears, the text
//! before it is released and everything from the stop string on is dropped.

/// What [`StopChecker::push`] says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StopUpdate {
    /// Text that is safe to print now.
    pub text: String,
    /// A stop string appeared: print `text`, then stop generating.
    pub stopped: bool,
}

/// Watches streamed text for stop strings.
#[derive(Clone, Debug, Default)]
pub struct StopChecker {
    stops: Vec<String>,
    held: String,
    stopped: bool,
}

impl StopChecker {
    /// A checker for `stops`; empty strings are ignored. With no stop strings it passes text through.
    pub fn new<S: Into<String>>(stops: impl IntoIterator<Item = S>) -> Self {
        let stops = stops
            .into_iter()
            .map(Into::into)
            .filter(|s: &String| !s.is_empty())
            .collect();
        StopChecker {
            stops,
            held: String::new(),
            stopped: false,
        }
    }

    /// Whether a stop string has appeared (later pushes return nothing).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Feeds the next piece of text.
    pub fn push(&mut self, text: &str) -> StopUpdate {
        if self.stopped {
            return StopUpdate {
                text: String::new(),
                stopped: true,
            };
        }
        self.held.push_str(text);
        if let Some(pos) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            self.held.truncate(pos);
            self.stopped = true;
            return StopUpdate {
                text: std::mem::take(&mut self.held),
                stopped: true,
            };
        }
        // Hold back the longest end of the text that some stop string starts with.
        let keep_from = self
            .held
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| {
                let tail = &self.held[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(self.held.len());
        let rest = self.held.split_off(keep_from);
        StopUpdate {
            text: std::mem::replace(&mut self.held, rest),
            stopped: false,
        }
    }

    /// Ends the text (no more pieces): returns what was held back, unless a stop string appeared.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}
