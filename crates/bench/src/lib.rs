//! Aisle's benchmark drivers and the runners of the reference implementations they are compared
//! with: everything behind `aisle bench log|replay|inventory|greenlight|forecast|camera`. The binary
//! parses the flags, opens the configured runtime and hands this crate a [`Target`] (the open
//! log and schema registry, plus the Kafka settings raw comparisons need) and one plain options
//! struct per bench; figures go to stdout as the drivers print them, and BENCHMARKS.md records
//! them.
//!
//! # Layout
//! * [`log`]: produce / consume throughput of ~200-byte Avro records through the `Log`
//!   interface; on Kafka also raw rdkafka on the same broker (`aisle bench log`).
//! * [`replay`]: the synthetic M5 sales replay into a fresh topic; on Kafka also raw rdkafka
//!   sending the replay's own records, and the Python producer of
//!   `benches/reference/sales_producer.py` (`aisle bench replay`).
//! * [`inventory`]: the inventory connector on a fresh table of any database it speaks
//!   (MySQL/MariaDB, PostgreSQL, SQLite): initial capture rows/s, then UPDATE → rekeyed-record
//!   latency (`aisle bench inventory`). The table is loaded ([`inventory::load`]) before the
//!   runtime is opened, and dropped afterwards.
//! * [`greenlight`]: the Green Light Special's exactly-once throughput on pre-produced input and
//!   its end-to-end latency; on Kafka also the Kafka Streams app of
//!   `benches/reference/kafka-streams-greenlight` (`aisle bench greenlight`).
//! * [`forecast`]: the streaming forecaster as a consumer group of `--instances` members on a
//!   replayed synthetic chain: records/s until every series is forecast, peak memory and bytes
//!   written (`aisle bench forecast`).
//! * [`camera`]: per-image time of the cart camera, pass by pass beside Python ONNX Runtime
//!   (`benches/reference/camera_onnxruntime.py --serve`), and its pipelined rate
//!   (`aisle bench camera`).
//!
//! # Example
//!
//! ```no_run
//! # async fn example(
//! #     log: std::sync::Arc<dyn aisle_log::Log>,
//! #     registry: std::sync::Arc<dyn aisle_registry::SchemaRegistry>,
//! # ) -> Result<(), aisle_bench::BenchError> {
//! use aisle_bench::{Target, log};
//!
//! let target = Target::new(log, registry);
//! let opts = log::Options {
//!     records: 20_000,
//!     partitions: 4,
//!     produce_only: false,
//!     ack_log: None,
//! };
//! log::run(&target, &opts).await?;
//! # Ok(())
//! # }
//! ```

pub mod camera;
pub mod forecast;
pub mod greenlight;
pub mod inventory;
pub mod log;
pub mod replay;

use aisle_log::Log;
use aisle_registry::SchemaRegistry;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a bench runs against: the runtime the binary opened, and the settings of it the
/// comparisons need.
#[derive(Clone)]
pub struct Target {
    /// The log every bench writes its fresh topics to.
    pub log: Arc<dyn Log>,
    /// The schema registry the benches register their value schemas with.
    pub registry: Arc<dyn SchemaRegistry>,
    /// The Kafka cluster behind [`Target::log`], when it is one: raw rdkafka comparisons and
    /// the reference implementations connect to the same broker. `None` on the embedded runtime.
    pub kafka: Option<Kafka>,
    /// Replication factor of the topics `bench log` and `bench replay` create
    /// (`kafka.replication`; 1 on the embedded runtime).
    pub replication: i16,
    /// The configured schema registry's URL (`--registry`), which the replay's Python reference
    /// uses; without one, Aisle's own registry over `_schemas` is served on a local port for it.
    pub registry_url: Option<String>,
}

impl Target {
    /// A target without Kafka settings or registry URL, replication 1.
    pub fn new(log: Arc<dyn Log>, registry: Arc<dyn SchemaRegistry>) -> Target {
        Target {
            log,
            registry,
            kafka: None,
            replication: 1,
            registry_url: None,
        }
    }
}

/// How to reach the Kafka cluster directly, as the binary's `[kafka]` section says.
#[derive(Clone, Debug)]
pub struct Kafka {
    /// Bootstrap servers (`--kafka`).
    pub bootstrap: String,
    /// librdkafka properties passed verbatim to every client (`[kafka] properties`).
    pub properties: BTreeMap<String, String>,
}

/// Why a bench did not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The options are out of range (e.g. zero records): the caller's input; retrying the same
    /// options fails the same way.
    #[error("{0}")]
    Options(String),
    /// The machine's setup: no images or models where the options point, a model or ONNX
    /// Runtime that does not load. Fix the paths or install what is missing.
    #[error("{0}")]
    Setup(String),
    /// Anything else while running: the log, the registry, a reference implementation. The
    /// cause chain says which (and whether the service was merely unreachable).
    #[error(transparent)]
    Run(anyhow::Error),
}

impl From<anyhow::Error> for BenchError {
    /// A [`BenchError`] that travelled inside an `anyhow::Error` comes out as itself.
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<BenchError>() {
            Ok(b) => b,
            Err(e) => BenchError::Run(e),
        }
    }
}

/// The repository's `benches/reference/`, where the reference implementations live: two levels
/// above this crate's manifest (`crates/bench`), so it resolves as it did from the root crate.
pub fn reference_dir() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .ancestors()
        .nth(2)
        .unwrap_or(crate_dir)
        .join("benches/reference")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_dir_is_the_repository_one() {
        let dir = reference_dir();
        assert!(dir.join("sales_producer.py").is_file(), "{}", dir.display());
        assert!(
            dir.join("kafka-streams-greenlight/run").is_file(),
            "{}",
            dir.display()
        );
        assert!(!dir.to_string_lossy().contains(".."), "{}", dir.display());
    }

    #[test]
    fn a_bench_error_comes_back_out_of_anyhow() {
        let e = anyhow::Error::from(BenchError::Setup("no models".into()));
        assert!(matches!(BenchError::from(e), BenchError::Setup(m) if m == "no models"));
        let e = anyhow::anyhow!("broker down");
        assert!(matches!(BenchError::from(e), BenchError::Run(_)));
    }
}
