//! `aisle bench ...`: the flags of each benchmark, mapped to the options of its driver in
//! `aisle-bench` (which also runs the reference implementations), on the configured runtime.

use crate::config::Config;
use crate::exit;
use crate::runtime;
use aisle_bench::{BenchError, Kafka, Target};
use aisle_inventory::InventoryError;
use clap::{Args, Subcommand};
use std::path::PathBuf;

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
    /// Forecaster as a consumer group: a synthetic chain (M5's shape by default) replayed into a
    /// fresh topic, then --instances members forecast every series; records/s until every
    /// forecast is readable, peak memory and bytes written. E.g. the full M5 length:
    /// `aisle bench forecast --days 1941`.
    Forecast(crate::commands::bench::BenchForecastArgs),
    /// Cart camera per model in ../shared/vision: images/s and p50/p99 per image (decode +
    /// detect + produce), beside Python ONNX Runtime on the same model and images.
    Camera(crate::commands::bench::BenchCameraArgs),
}

pub async fn run(config: &Config, cmd: BenchCmd) -> anyhow::Result<()> {
    let result = match cmd {
        BenchCmd::Log(args) => {
            let opts = args.options();
            opts.check().map_err(fail)?;
            aisle_bench::log::run(&target(config).await?, &opts).await
        }
        BenchCmd::Replay(args) => {
            aisle_bench::replay::run(&target(config).await?, &args.options()).await
        }
        BenchCmd::Inventory(args) => {
            // The table is loaded before the runtime is opened: a database that is not there
            // fails first, with nothing of the data directory touched.
            let loaded = aisle_bench::inventory::load(args.options())
                .await
                .map_err(fail)?;
            aisle_bench::inventory::run(&target(config).await?, loaded).await
        }
        BenchCmd::Greenlight(args) => {
            aisle_bench::greenlight::run(&target(config).await?, &args.options()).await
        }
        BenchCmd::Forecast(args) => {
            aisle_bench::forecast::run(&target(config).await?, &args.options()).await
        }
        BenchCmd::Camera(args) => {
            let plan = aisle_bench::camera::Plan::new(args.options(config)).map_err(fail)?;
            aisle_bench::camera::run(&target(config).await?, plan).await
        }
    };
    result.map_err(fail)
}

/// The configured runtime, opened for writing, with its registry.
async fn target(config: &Config) -> anyhow::Result<Target> {
    let opened = runtime::open_log(config).await?;
    let registry = runtime::registry(config, &opened.log).await?;
    Ok(Target {
        log: opened.log,
        registry,
        kafka: config.kafka.bootstrap.clone().map(|bootstrap| Kafka {
            bootstrap,
            properties: config.kafka.properties.clone(),
        }),
        replication: config.kafka.spec_replication(),
        registry_url: config.registry.url.clone(),
    })
}

/// A bench's error as the process reports it: a setup problem (images, models, ONNX Runtime)
/// is bad configuration (exit 3); the inventory connector's errors get the codes of
/// `connect inventory` (configuration 3, database unreachable 5); anything else keeps its cause
/// chain for [`exit::code_for`].
fn fail(e: BenchError) -> anyhow::Error {
    match e {
        BenchError::Setup(m) => exit::fail(exit::CONFIG, m),
        BenchError::Options(m) => anyhow::anyhow!(m),
        BenchError::Run(e) => match e.downcast::<InventoryError>() {
            Ok(e) => crate::commands::inventory::exit_error(e),
            Err(e) => e,
        },
    }
}

/// `aisle bench log`.
#[derive(Debug, Args)]
pub struct BenchLogArgs {
    /// Records to produce.
    #[arg(long, default_value_t = 2_000_000)]
    pub records: u64,
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 4)]
    pub partitions: i32,
    /// Skip the consume phase.
    #[arg(long)]
    pub produce_only: bool,
    /// Print acknowledged offsets to this file as they are confirmed (for crash tests).
    #[arg(long, value_name = "FILE")]
    pub ack_log: Option<PathBuf>,
}

impl BenchLogArgs {
    fn options(self) -> aisle_bench::log::Options {
        aisle_bench::log::Options {
            records: self.records,
            partitions: self.partitions,
            produce_only: self.produce_only,
            ack_log: self.ack_log,
        }
    }
}

/// `aisle bench replay`.
#[derive(Debug, Args)]
pub struct BenchReplayArgs {
    /// Records to replay (rounded up to whole days of 30,490 series).
    #[arg(long, default_value_t = 10_000_000)]
    pub records: u64,
    /// Skip the raw rdkafka comparison (Kafka runtime only).
    #[arg(long)]
    pub no_raw: bool,
    /// Also run the Python reference producer (benches/reference/sales_producer.py: confluent-kafka,
    /// Avro serializer, one process per store) with the same record count (Kafka runtime only;
    /// needs python3 with confluent-kafka and fastavro).
    #[arg(long)]
    pub reference: bool,
}

impl BenchReplayArgs {
    fn options(self) -> aisle_bench::replay::Options {
        aisle_bench::replay::Options {
            records: self.records,
            raw: !self.no_raw,
            reference: self.reference,
        }
    }
}

/// `aisle bench inventory`.
#[derive(Debug, Args)]
pub struct BenchInventoryArgs {
    /// Database to benchmark on (a fresh table is created there and dropped afterwards).
    #[arg(long, value_name = "URL")]
    pub db: String,
    /// Rows of the initial capture.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// UPDATEs whose latency (commit → record readable in the rekeyed topic) is measured.
    #[arg(long, default_value_t = 1000)]
    pub updates: u64,
    /// UPDATEs per second during the latency phase.
    #[arg(long, default_value_t = 50)]
    pub update_rate: u64,
    /// Poll interval of the latency phase, ms.
    #[arg(long, default_value_t = 100)]
    pub poll_interval_ms: u64,
    /// Timestamp delay, ms (see `connect inventory --help`).
    #[arg(long, default_value_t = 200)]
    pub timestamp_delay_ms: u64,
    /// Rows per query and transaction.
    #[arg(long, default_value_t = 10_000)]
    pub batch_rows: u32,
}

impl BenchInventoryArgs {
    fn options(self) -> aisle_bench::inventory::Options {
        aisle_bench::inventory::Options {
            db_url: self.db,
            rows: self.rows,
            updates: self.updates,
            update_rate: self.update_rate,
            poll_interval_ms: self.poll_interval_ms,
            timestamp_delay_ms: self.timestamp_delay_ms,
            batch_rows: self.batch_rows,
        }
    }
}

/// `aisle bench greenlight`.
#[derive(Debug, Args)]
pub struct BenchGreenlightArgs {
    /// Cart objects in the throughput run (pre-produced, 1 ms of event time apart, keys among
    /// the seven seed inventory items, ten stores or those of --stores).
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Window length of the throughput run, ms (grace 0, as the 2019 topology).
    #[arg(long, default_value_t = 60_000)]
    pub window_ms: u64,
    /// Seconds of the latency run (1 s windows, objects produced live); 0 skips it.
    #[arg(long, default_value_t = 20)]
    pub latency_secs: u64,
    /// Cart objects per second in the latency run.
    #[arg(long, default_value_t = 2_000)]
    pub latency_rate: u64,
    /// Also run the Kafka Streams reference (benches/reference/kafka-streams-greenlight/run) on
    /// the same input, after Aisle, and print both (Kafka runtime only).
    #[arg(long)]
    pub with_reference: bool,
    /// A chain of N stores (CA_1 ... WI_3 as in M5, then CA_5, TX_4, ...) with their own
    /// inventory: cart objects spread over them, and besides the seven chain-wide seed rows every
    /// store has its own rows for cup and fork (`CA_1/cup`, with a count of its own), so joins
    /// and upsells take the per-store path. Unset: the ten M5 stores and the chain-wide rows only,
    /// as the figures in BENCHMARKS.md. The Kafka Streams reference joins chain-wide rows only.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub stores: Option<u32>,
    /// Partitions of the throughput run's input (1, as the 2019 topology). More adds the
    /// repartition-by-store hop and lets --instances share the work.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: i32,
    /// Greenlight instances of the throughput run: members of one consumer group, in this
    /// process (the scale-out figure of BENCHMARKS.md: --instances 2 --partitions 4).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub instances: u32,
}

impl BenchGreenlightArgs {
    fn options(self) -> aisle_bench::greenlight::Options {
        aisle_bench::greenlight::Options {
            records: self.records,
            window_ms: self.window_ms,
            latency_secs: self.latency_secs,
            latency_rate: self.latency_rate,
            with_reference: self.with_reference,
            stores: self.stores.map(|n| n as usize),
            partitions: self.partitions,
            instances: self.instances as usize,
        }
    }
}

/// `aisle bench forecast`.
#[derive(Debug, Args)]
pub struct BenchForecastArgs {
    /// Days of sales replayed (d_1..d_DAYS); 1941 is M5's full length.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Stores of the synthetic chain (10 = M5's).
    #[arg(long, default_value_t = 10)]
    pub stores: usize,
    /// Items per store (3,049 = M5's).
    #[arg(long, default_value_t = 3049)]
    pub items_per_store: u32,
    /// Partitions of the sales topic; default: one per store.
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Forecaster members of the consumer group, in this process.
    #[arg(long, default_value_t = 1)]
    pub instances: usize,
    /// Days to forecast.
    #[arg(long, default_value_t = 28)]
    pub horizon: usize,
    /// Model, as `forecast run --model`.
    #[arg(long, default_value = "pooled")]
    pub model: String,
}

impl BenchForecastArgs {
    fn options(self) -> aisle_bench::forecast::Options {
        aisle_bench::forecast::Options {
            days: self.days,
            stores: self.stores,
            items_per_store: self.items_per_store,
            partitions: self.partitions,
            instances: self.instances,
            horizon: self.horizon,
            model: self.model,
        }
    }
}

/// `aisle bench camera`.
#[derive(Debug, Args)]
pub struct BenchCameraArgs {
    /// Directory of test images.
    #[arg(long, value_name = "DIR", default_value = "../shared/vision/images")]
    pub images: PathBuf,
    /// Models to measure (default: every .onnx in ../shared/vision).
    #[arg(long = "model", value_name = "PATH")]
    pub models: Vec<PathBuf>,
    /// ONNX Runtime library (as for `aisle camera run`).
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Passes over the images per model.
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Skip the Python ONNX Runtime reference (benches/reference/camera_onnxruntime.py).
    #[arg(long)]
    pub no_python: bool,
}

impl BenchCameraArgs {
    fn options(self, config: &Config) -> aisle_bench::camera::Options {
        let cam = &config.camera;
        aisle_bench::camera::Options {
            runtime: crate::commands::camera::runtime_options(cam, self.ort_lib.as_deref()),
            images: self.images,
            models: self.models,
            rounds: self.rounds,
            python: !self.no_python,
            camera: cam.clone(),
        }
    }
}
