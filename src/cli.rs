//! Command-line interface: every flag and subcommand, with help that teaches.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Real-time retail analytics over Apache Kafka.
///
/// Aisle turns store streams (cart cameras, the inventory table, till data) into decisions while the
/// shopper is still in the store. It runs on one of two runtimes:
///
///   embedded (default)  one process, no servers: Aisle's own durable log in --data-dir
///   kafka               a real Kafka cluster (--kafka HOST:PORT) and a schema registry (--registry URL)
///
/// Settings come from, lowest to highest precedence: built-in defaults, the TOML file given by
/// --config, AISLE_SECTION__KEY environment variables (e.g. AISLE_EMBEDDED__FSYNC__MODE=always),
/// and the flags below. `aisle config` prints the result.
///
/// Exit codes: 0 success, 1 failure, 2 usage error, 3 bad configuration, 4 corrupt data found,
/// 5 a service (Kafka, registry, database) unreachable or the data directory held by another
/// writer, 65 bad input records, 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "aisle", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand understands.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// TOML configuration file (see config/*.toml for annotated examples).
    #[arg(long, global = true, env = "AISLE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory of the embedded runtime: its log, offsets and databases [default: ./aisle-data].
    #[arg(long, global = true, env = "AISLE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Use the Kafka runtime with these bootstrap servers (e.g. 127.0.0.1:9092).
    #[arg(long, global = true, env = "AISLE_KAFKA", value_name = "BOOTSTRAP")]
    pub kafka: Option<String>,

    /// Schema registry URL (Confluent-compatible, e.g. http://127.0.0.1:8081). Without it, Aisle
    /// keeps schemas in the log's own `_schemas` topic, in process.
    #[arg(long, global = true, env = "AISLE_REGISTRY", value_name = "URL")]
    pub registry: Option<String>,

    /// Log filter, e.g. `info`, `debug`, `aisle=debug,rdkafka=warn` (also RUST_LOG).
    #[arg(long, global = true, env = "AISLE_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// Serve this process's Prometheus metrics at http://ADDR/metrics while the command runs
    /// (e.g. 127.0.0.1:9100; any command: replay, forecast run, demo, ...).
    #[arg(long, global = true, env = "AISLE_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, create and read topics.
    #[command(subcommand)]
    Topic(crate::commands::topic::TopicCmd),
    /// Inspect the embedded runtime's on-disk log.
    #[command(subcommand)]
    Log(crate::commands::log::LogCmd),
    /// Run the Confluent-compatible schema registry.
    #[command(subcommand)]
    Registry(crate::commands::registry::RegistryCmd),
    /// Measure throughput (results go to stdout; record them in BENCHMARKS.md).
    #[command(subcommand)]
    Bench(crate::commands::bench::BenchCmd),
    /// Replay historical data (the M5 Walmart sales) as live streams.
    #[command(subcommand)]
    Replay(crate::commands::replay::ReplayCmd),
    /// Forecast unit sales 28 days ahead and score forecasts with the M5 metric (WRMSSE).
    #[command(subcommand)]
    Forecast(crate::commands::forecast::ForecastCmd),
    /// Capture external sources into topics (the store's inventory table).
    #[command(subcommand)]
    Connect(crate::commands::inventory::ConnectCmd),
    /// Manage the store's inventory table (create it with its seed rows).
    #[command(subcommand)]
    Inventory(crate::commands::inventory::InventoryCmd),
    /// Run the Green Light Special: cart objects joined with the inventory table, counted per
    /// store in event-time windows; each closed window writes `windowed_items` and the store's
    /// special to `green_light_specials`, exactly once. Late records go to
    /// `shopping_cart_objects.late`. Start several with the same --application-id to share the
    /// partitions (Kafka); restart a crashed one with the same --instance-id.
    Greenlight(crate::commands::greenlight::GreenlightArgs),
    /// Cart cameras: detect objects in photos (ONNX detector on ONNX Runtime) into
    /// `shopping_cart_objects`, or simulate detections without a model.
    #[command(subcommand)]
    Camera(crate::commands::camera::CameraCmd),
    /// Run the whole pipeline on embedded defaults until Ctrl-C or --duration.
    Demo(crate::commands::demo::DemoArgs),
    /// Serve the live dashboard, the JSON API (OpenAPI at /openapi.yaml) and /metrics
    /// (default http://127.0.0.1:8080). Read-only: it tails the topics, it changes nothing.
    ///
    /// On the embedded runtime it opens --data-dir read-only and takes no lock, so it can watch
    /// a pipeline another process runs there (`aisle demo`, `aisle replay sales`, ...), and
    /// that pipeline can start after it.
    Serve(crate::commands::serve::ServeArgs),
    /// Print the resolved configuration as TOML.
    Config,
}
