//! Integration tests of this crate, in one test binary (rdkafka and the rest linked once).
//! Each module was one test file; run one with a filter, e.g. `cargo test --test it capture::`.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

mod common;

mod capture;
mod faults;
mod stores;
