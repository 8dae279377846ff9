//! Integration tests of this crate, in one test binary. Each module is one area; run one with a
//! filter, e.g. `cargo test -p aisle-greenlight --test it stores::`.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

mod common;

mod embedded_group;
mod stores;
