//! Integration tests of the `aisle` binary, in one test binary (linking rdkafka and ONNX
//! Runtime once instead of once per file). Each module is one former test file; `support`
//! holds what they share. Run one area with a filter, e.g. `cargo test --test it camera_cli::`.
//!
//! Tests against real services skip without them (Kafka: `AISLE_TEST_KAFKA`; the 3-broker
//! cluster: `AISLE_TEST_KAFKA_CLUSTER`; ONNX Runtime: `AISLE_TEST_ORT_LIB`; data in
//! `../shared`), and fail instead when the matching `AISLE_REQUIRE_*=1` is set, as
//! `scripts/test` does.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

mod support;

mod camera_bench;
mod camera_cli;
mod camera_kafka;
mod chain_cluster;
mod cli;
mod demo_camera;
mod forecast_cli;
mod greenlight_compat;
mod greenlight_golden;
mod greenlight_scale;
mod greenlight_support;
mod inventory_cli;
mod readers_cli;
mod registry_concurrency;
mod replay_cli;
mod replay_fault;
mod replay_resume;
mod serve_api;
mod signals;
