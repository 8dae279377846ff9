//! Integration tests of this crate, in one test binary (rdkafka and the rest linked once).
//! Each module was one test file; run one with a filter, e.g. `cargo test --test it admin::`.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

mod common;

mod admin;
mod bench;
mod cluster_new_topics;
mod compaction;
mod produce_consume;
mod topic_checks;
mod transactions;
