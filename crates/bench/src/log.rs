//! `aisle bench log`: produce and consume throughput of ~200-byte Avro records through the
//! `Log` interface, on whichever runtime is configured. On Kafka it also runs raw rdkafka (no
//! Avro, no Aisle layer) on the same broker with the same settings, so the two figures come from
//! one run. Figures go to stdout as a table; BENCHMARKS.md records them with the command.
//!
//! What each line measures:
//! * `encode`: building and Avro-encoding `ShoppingCartObject`s with Confluent framing (CPU only);
//! * `produce`: sending already-encoded records (a pool of distinct values, cycled) through
//!   `Producer::send` until every one is durable — the log's own cost, as the target defines it;
//! * `consume`: reading them back from the beginning and decoding every value.

use crate::{BenchError, Target};
use aisle_events::{Event, ShoppingCartObject, wire};
use aisle_log::{
    ConsumerConfig, Log, Offset, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec,
};
use anyhow::{Context, bail};
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
// tokio's clock (the workspace's rule: paused-time tests control it); unpaused it is std's.
use tokio::time::Instant;

/// What `aisle bench log` runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Records to produce (`--records`).
    pub records: u64,
    /// Partitions of the benchmark topic (`--partitions`).
    pub partitions: i32,
    /// Skip the consume phase (`--produce-only`).
    pub produce_only: bool,
    /// Write `seq partition offset` lines here as deliveries are confirmed, and keep the topic
    /// (`--ack-log`, for crash tests).
    pub ack_log: Option<PathBuf>,
}

impl Options {
    /// Refuses options the bench cannot run with; [`run`] checks too, but a caller can check
    /// before it opens the log.
    pub fn check(&self) -> Result<(), BenchError> {
        if self.records == 0 || self.partitions < 1 {
            return Err(BenchError::Options(
                "--records and --partitions must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Keys: COCO labels of the seed inventory, the same the raw rdkafka run uses.
use aisle_log_kafka::bench::KEYS as ITEMS;

/// Timestamp of record 0; record `i` carries `BASE_TS + i` (the kill -9 test relies on it).
pub const BASE_TS: i64 = 1_763_800_000_000;

/// One benchmark record: a detection as the camera writes it, ~200 bytes framed.
fn record(i: u64) -> ShoppingCartObject {
    let item = ITEMS[(i % ITEMS.len() as u64) as usize];
    ShoppingCartObject {
        timestamp: BASE_TS + i as i64,
        image_name: format!(
            "/var/lib/aisle/cameras/store-0042/aisle-07-housewares/cart-{:04}/camera-front-0/2026-11-22/10-15-30.{:09}Z.jpg",
            i % 500,
            i
        ),
        class_id: 41 + (i % 7) as i32,
        class_name: item.to_string(),
        score: 0.5 + (i % 50) as f32 / 100.0,
        box_x: (i % 640) as i32,
        box_y: (i % 480) as i32,
        box_w: 64,
        box_h: 48,
        store_id: Some("store-0042".into()),
        cart_id: Some(format!("cart-{:04}", i % 500)),
        camera_id: Some("smart-cart-camera-front-0".into()),
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {human_pos}/{human_len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(what.to_string());
    pb
}

/// Runs the bench on `target`, printing its table to stdout.
pub async fn run(target: &Target, opts: &Options) -> Result<(), BenchError> {
    opts.check()?;
    Ok(bench_log(target, opts).await?)
}

async fn bench_log(target: &Target, args: &Options) -> anyhow::Result<()> {
    let log = target.log.clone();
    let registry = &target.registry;
    let topic = format!(
        "aisle-bench-log-{}-{}",
        std::process::id(),
        aisle_log::now_ms()
    );
    log.create_topic(&TopicSpec::new(&topic, args.partitions).replication(target.replication))
        .await?;
    let schema_id = registry
        .register(
            &aisle_events::topics::value_subject(&topic),
            ShoppingCartObject::SCHEMA_JSON,
        )
        .await?;
    let sample = encode(schema_id, &record(0))?;
    println!(
        "runtime={} topic={topic} records={} partitions={} value_bytes~{}",
        log.runtime(),
        args.records,
        args.partitions,
        sample.len()
    );

    let (pool, encode) = encode_phase(schema_id, args.records)?;
    println!(
        "encode   aisle  {:>12.0} records/s  {:>8.1} MB/s  (build + Avro + framing, {} records)",
        encode.rate(),
        encode.mb_per_s(),
        encode.records
    );
    let produce = produce_phase(log.clone(), &topic, &pool, args).await?;
    println!(
        "produce  aisle  {:>12.0} records/s  {:>8.1} MB/s  ({} records in {:.2} s, durable)",
        produce.rate(),
        produce.mb_per_s(),
        produce.records,
        produce.secs
    );
    if !args.produce_only {
        let consume = consume_phase(log.as_ref(), &topic, args.partitions, args.records).await?;
        println!(
            "consume  aisle  {:>12.0} records/s  {:>8.1} MB/s  ({} records decoded in {:.2} s)",
            consume.rate(),
            consume.mb_per_s(),
            consume.records,
            consume.secs
        );
    }
    if let Some(kafka) = &target.kafka {
        let raw_topic = format!("{topic}-raw");
        log.create_topic(
            &TopicSpec::new(&raw_topic, args.partitions).replication(target.replication),
        )
        .await?;
        let raw = aisle_log_kafka::bench::raw_produce(
            &kafka.bootstrap,
            &kafka.properties,
            &raw_topic,
            args.records,
            sample.len(),
        )
        .await?;
        println!(
            "produce  raw    {:>12.0} records/s  {:>8.1} MB/s  (rdkafka FutureProducer, same settings)",
            raw.records as f64 / raw.secs,
            raw.bytes as f64 / raw.secs / 1e6
        );
        println!(
            "aisle/raw produce ratio: {:.2}",
            produce.rate() / (raw.records as f64 / raw.secs)
        );
        log.delete_topic(&raw_topic).await.ok();
    }
    if args.ack_log.is_none() {
        log.delete_topic(&topic).await.ok();
    }
    Ok(())
}

fn encode(schema_id: u32, obj: &ShoppingCartObject) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256);
    wire::write_header(&mut buf, schema_id);
    obj.encode(&mut buf)?;
    Ok(buf)
}

/// Distinct encoded values the produce phase cycles through.
const POOL: usize = 4096;

/// Encodes `min(records, 1M)` records, timing it; keeps the first [`POOL`] as the produce pool.
fn encode_phase(schema_id: u32, records: u64) -> anyhow::Result<(Vec<Bytes>, Phase)> {
    let n = records.clamp(POOL as u64, 1_000_000);
    let mut pool = Vec::with_capacity(POOL);
    let mut buf = Vec::with_capacity(256);
    let mut bytes = 0u64;
    let start = Instant::now();
    for i in 0..n {
        let obj = record(i);
        buf.clear();
        wire::write_header(&mut buf, schema_id);
        obj.encode(&mut buf)?;
        bytes += buf.len() as u64;
        if pool.len() < POOL {
            pool.push(Bytes::copy_from_slice(&buf));
        }
        std::hint::black_box(&buf);
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((
        pool,
        Phase {
            records: n,
            bytes,
            secs,
        },
    ))
}

struct Phase {
    records: u64,
    bytes: u64,
    secs: f64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.records as f64 / self.secs
    }
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

/// Sends `--records` records cycling through the pool, each with its own timestamp
/// (`BASE_TS + sequence`), then waits until all are durable.
async fn produce_phase(
    log: Arc<dyn Log>,
    topic: &str,
    pool: &[Bytes],
    args: &Options,
) -> anyhow::Result<Phase> {
    let producer = log.producer(&ProducerConfig::default())?;
    let (ack_tx, ack_task) = match &args.ack_log {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating ack log {}", path.display()))?;
            let (tx, rx) = tokio::sync::mpsc::channel::<(u64, aisle_log::DeliveryFuture)>(100_000);
            (Some(tx), Some(tokio::spawn(write_acks(file, rx))))
        }
        None => (None, None),
    };
    let pb = progress(args.records, "produce");
    let mut bytes = 0u64;
    let start = Instant::now();
    for i in 0..args.records {
        let value = pool[(i % pool.len() as u64) as usize].clone();
        bytes += value.len() as u64;
        let rec = ProduceRecord::new(topic)
            .key(Bytes::from_static(
                ITEMS[(i % ITEMS.len() as u64) as usize].as_bytes(),
            ))
            .value(value)
            .timestamp(BASE_TS + i as i64);
        let fut = producer.send(rec).await?;
        if let Some(tx) = &ack_tx {
            tx.send((i, fut))
                .await
                .map_err(|_| anyhow::anyhow!("ack log writer stopped"))?;
        }
        if i % 65_536 == 0 {
            pb.set_position(i);
        }
    }
    producer.flush(Duration::from_secs(300)).await?;
    let secs = start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    drop(ack_tx);
    if let Some(task) = ack_task {
        task.await.context("ack log writer panicked")??;
    }
    Ok(Phase {
        records: args.records,
        bytes,
        secs,
    })
}

/// Awaits each delivery in send order and appends `seq partition offset` lines: after a kill -9
/// the file lists only records the log had acknowledged.
async fn write_acks(
    file: std::fs::File,
    mut rx: tokio::sync::mpsc::Receiver<(u64, aisle_log::DeliveryFuture)>,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(file);
    let mut since_flush = 0u32;
    while let Some((seq, fut)) = rx.recv().await {
        let meta = fut.await?;
        writeln!(out, "{seq} {} {}", meta.partition, meta.offset)?;
        since_flush += 1;
        if since_flush >= 1000 || rx.is_empty() {
            out.flush()?;
            since_flush = 0;
        }
    }
    out.flush()?;
    Ok(())
}

/// Reads the topic back from the beginning, decoding every value.
async fn consume_phase(
    log: &dyn Log,
    topic: &str,
    partitions: i32,
    expected: u64,
) -> anyhow::Result<Phase> {
    let mut consumer = log.consumer(&ConsumerConfig::default())?;
    let parts: Vec<_> = (0..partitions)
        .map(|p| (TopicPartition::new(topic, p), Offset::Beginning))
        .collect();
    consumer.assign(&parts)?;
    let pb = progress(expected, "consume");
    let (mut records, mut bytes) = (0u64, 0u64);
    let start = Instant::now();
    let mut idle = 0;
    while records < expected {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        if batch.is_empty() {
            idle += 1;
            if idle > 60 {
                bail!("consume stalled at {records} of {expected} records");
            }
            continue;
        }
        idle = 0;
        for rec in &batch {
            let value = rec
                .value
                .as_ref()
                .context("benchmark record without a value")?;
            let (_, datum) = wire::split(value)?;
            let obj = ShoppingCartObject::decode(datum)?;
            bytes += value.len() as u64;
            records += 1;
            std::hint::black_box(obj);
        }
        pb.set_position(records);
    }
    pb.finish_and_clear();
    Ok(Phase {
        records,
        bytes,
        secs: start.elapsed().as_secs_f64(),
    })
}
