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
    Topic(TopicCmd),
    /// Inspect the embedded runtime's on-disk log.
    #[command(subcommand)]
    Log(LogCmd),
    /// Run the Confluent-compatible schema registry.
    #[command(subcommand)]
    Registry(RegistryCmd),
    /// Measure throughput (results go to stdout; record them in BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCmd),
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
    Demo(DemoArgs),
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

#[derive(Debug, Subcommand)]
pub enum TopicCmd {
    /// List topics with partitions, cleanup policy and record offsets.
    ///
    /// On an embedded --data-dir another process holds (a running `aisle demo`, a replay),
    /// it reads the directory read-only beside that process.
    List,
    /// Create a topic (or all of Aisle's standard topics with --standard). Writes: an embedded
    /// --data-dir another process holds is refused (create it through that process).
    Create(TopicCreateArgs),
    /// Print records as JSON lines: {"topic","partition","offset","timestamp","key","value"},
    /// Avro values decoded through the schema registry (like kafka-avro-console-consumer).
    ///
    /// Watch a running pipeline (like kcat -C): `aisle topic dump sales --follow` beside an
    /// `aisle demo` on the same --data-dir. On the embedded runtime a dump opens a directory
    /// another process holds read-only, and --follow never takes the lock, so the pipeline can
    /// also start after it. A reader sees whole, checksum-valid batches as they are written
    /// (within about 100 ms) and a transaction's records once it commits.
    Dump(TopicDumpArgs),
    /// Write records read as JSON lines from stdin, like kafka-avro-console-producer:
    /// {"key": "cup", "value": {...}, "partition": 0, "timestamp": 1700000000000, "headers": {"k": "v"}}.
    /// Values use Avro's JSON encoding (unions as {"string": "x"}), are encoded with --schema and
    /// registered as `<topic>-value`; "value": null writes a tombstone. Writes: an embedded
    /// --data-dir another process holds is refused.
    Produce(TopicProduceArgs),
}

#[derive(Debug, Args)]
pub struct TopicProduceArgs {
    /// Topic to write to (must exist).
    pub topic: String,
    /// Avro schema of the values (.avsc), e.g. schemas/sales_record.avsc.
    #[arg(long, value_name = "FILE")]
    pub schema: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct TopicCreateArgs {
    /// Topic name (omit with --standard).
    #[arg(required_unless_present = "standard")]
    pub name: Option<String>,
    /// Number of partitions.
    #[arg(long, default_value_t = 1)]
    pub partitions: i32,
    /// Replication factor (Kafka only).
    #[arg(long)]
    pub replication: Option<i16>,
    /// Keep only the latest record per key (cleanup.policy=compact).
    #[arg(long)]
    pub compact: bool,
    /// Create every standard Aisle topic with its default layout (see ARCHITECTURE.md).
    #[arg(long, conflicts_with = "name")]
    pub standard: bool,
}

#[derive(Debug, Args)]
pub struct TopicDumpArgs {
    /// Topic to read.
    pub topic: String,
    /// Read from the earliest retained record (default: the beginning too, unless --follow).
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Keep waiting for new records instead of exiting at the end; starts at the end of each
    /// partition unless --from-beginning. Stop with Ctrl-C or --max.
    #[arg(long)]
    pub follow: bool,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Print values as raw hex instead of decoding Avro.
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// Check every segment of the embedded log (CRCs, framing, indexes) without changing it;
    /// print per-topic record counts. Exit 4 on corruption. A torn tail left by a crash is
    /// reported but is not corruption: the next open cuts it.
    ///
    /// It takes no lock, so it also checks a directory a running pipeline is writing: a batch
    /// being appended at that moment is a note, not corruption, and the counts are a snapshot.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCmd {
    /// Serve the registry's REST API (Confluent-compatible) over the current runtime's `_schemas`.
    Serve(RegistryServeArgs),
}

#[derive(Debug, Args)]
pub struct RegistryServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081", value_name = "ADDR")]
    pub listen: String,
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Produce and consume ~200-byte Avro records through the log interface; on Kafka, also raw
    /// rdkafka with the same settings on the same broker, for comparison.
    Log(crate::commands::bench::BenchLogArgs),
    /// Synthetic M5 sales replay (10M records by default) into a fresh topic: records/s; on
    /// Kafka also raw rdkafka with same-size values on the same broker.
    Replay(crate::commands::bench::BenchReplayArgs),
    /// Inventory connector on a fresh table of --db (1,000,000 rows by default): initial
    /// capture rows/s, then UPDATE → `inventory_rekeyed` latency p50/p99 at a 100 ms poll.
    Inventory(crate::commands::bench::BenchInventoryArgs),
    /// Green Light Special: cart objects/s through join + window + emit with exactly-once on
    /// (pre-produced input, 1M by default), then end-to-end latency p50/p99 with 1 s windows;
    /// --with-reference also runs the Kafka Streams app of the original topology on the same
    /// input. Run under `taskset -c 0` to measure one core.
    Greenlight(crate::commands::bench::BenchGreenlightArgs),
    /// Cart camera per model in ../shared/vision: images/s and p50/p99 per image (decode +
    /// detect + produce), beside Python ONNX Runtime on the same model and images.
    Camera(crate::commands::bench::BenchCameraArgs),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Address for the demo's schema registry (empty to disable).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub registry_listen: String,
    /// Sample cart photos for the real detector (e.g. ../shared/vision/images); with a model
    /// (--model, AISLE_MODEL or [camera] models_dir) and ONNX Runtime installed, the demo detects
    /// them first, then the simulator keeps carts coming.
    #[arg(long, env = "AISLE_DEMO_IMAGES", value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Detector model for --images (.onnx; default: AISLE_MODEL, then [camera] models_dir).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Simulated cart detections per second.
    #[arg(long, default_value_t = 5.0, value_name = "N")]
    pub cart_rate: f64,
    /// Don't serve the dashboard ([serve] listen, default http://127.0.0.1:8080).
    #[arg(long)]
    pub no_serve: bool,
}
