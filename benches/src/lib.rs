//! The benchmark behind `cargo xtask bench`.
//!
//! - [`arith`]: bytes and FLOPs each op and each token must cost (the denominators).
//! - [`timing`]: warm-up, synchronised timing, median/min/max.
//! - [`report`]: rows against their physical limit, the markdown table, JSON and `--compare`.
//! - [`suite`]: the benchmarks themselves, generic over any `Backend`; `e2e` the whole-model part.
//! - [`weights`]: random weights, drawn on the device where the backend can.

pub mod arith;
mod e2e;
pub mod report;
pub mod suite;
pub mod timing;
pub mod weights;
