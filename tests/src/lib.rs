//! Shared helpers of the workspace's integration tests.
//!
//! - [`naive`]: slow, obviously-correct f64 twins of every op, written from the `Backend` docs.
//! - [`fixtures`]: tiny random models written with our own writer, and the Hugging Face golden
//!   directories under `tests/golden/` (made by `tools/golden/make_golden.py`).
//! - [`readme`]: the commands the README shows, for the tests that run them.

pub mod fixtures;
pub mod naive;
pub mod readme;
