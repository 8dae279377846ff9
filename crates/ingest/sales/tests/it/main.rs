//! Integration tests of this crate, in one test binary (rdkafka and the rest linked once).
//! Each module was one test file; run one with a filter, e.g. `cargo test --test it bad_input::`.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

mod common;

mod bad_input;
mod chain;
mod m5_embedded;
mod m5_kafka;
mod retention;
