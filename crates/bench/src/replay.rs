//! `aisle bench replay`: the synthetic M5 sales replay (`aisle-sales`) into a fresh topic,
//! timed. On Kafka it also sends the same number of the replay's own records (read back from
//! the topic) with raw rdkafka on the same broker, and can run the Python reference producer
//! (`benches/reference/sales_producer.py`: confluent-kafka, Avro serializer, one process per
//! store) with the same record count.

use crate::{BenchError, Target};
use aisle_log::Log;
use aisle_sales::{Quiet, ReplayOptions, Source, Speed};
use anyhow::Context;
use std::sync::Arc;

/// What `aisle bench replay` runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Records to replay (`--records`), rounded up to whole days of 30,490 series.
    pub records: u64,
    /// Run the raw rdkafka comparison (Kafka runtime only; `--no-raw` turns it off).
    pub raw: bool,
    /// Also run the Python reference producer (`--reference`; Kafka runtime only, needs
    /// python3 with confluent-kafka and fastavro).
    pub reference: bool,
}

/// Runs the bench on `target`, printing its figures to stdout.
pub async fn run(target: &Target, opts: &Options) -> Result<(), BenchError> {
    Ok(bench(target, opts).await?)
}

/// A synthetic replay into a fresh topic, timed; on Kafka, raw rdkafka sending the same number
/// of the replay's own records on the same broker, in the same run.
async fn bench(target: &Target, args: &Options) -> anyhow::Result<()> {
    const SERIES: u64 = 30_490;
    let days = args.records.div_ceil(SERIES).max(1);
    let log = target.log.clone();
    let registry = target.registry.clone();
    let topic = format!(
        "aisle-bench-replay-{}-{}",
        std::process::id(),
        aisle_log::now_ms()
    );
    let mut replay = ReplayOptions::new(Source::Synthetic);
    replay.days = Some((1, u32::try_from(days).context("--records: too many days")?));
    replay.speed = Speed::Max;
    replay.topic = topic.clone();
    replay.replication = target.replication;
    println!(
        "runtime={} topic={topic} records={} (synthetic, {days} days x {SERIES} series)",
        log.runtime(),
        days * SERIES
    );
    let s = aisle_sales::replay(
        log.clone(),
        registry.clone(),
        replay,
        Arc::new(Quiet),
        std::future::pending(),
    )
    .await?;
    println!(
        "replay   aisle  {:>12.0} records/s  ({} records in {:.2} s, durable)",
        s.rate(),
        s.sent,
        s.secs
    );
    if let (Some(kafka), true) = (&target.kafka, args.raw) {
        // Raw rdkafka sends the replay's own records (read back: same partitions, keys, values,
        // timestamps and header), cycling through the first RAW_POOL of them.
        let pool = read_pool(log.as_ref(), &topic, RAW_POOL).await?;
        let raw_topic = format!("{topic}-raw");
        log.create_topic(
            &aisle_log::TopicSpec::new(&raw_topic, 10).replication(target.replication),
        )
        .await?;
        let raw = aisle_log_kafka::bench::raw_produce_pool(
            &kafka.bootstrap,
            &kafka.properties,
            &raw_topic,
            &pool,
            s.sent,
        )
        .await?;
        println!(
            "produce  raw    {:>12.0} records/s  ({} of the replay's records in {:.2} s, rdkafka FutureProducer, same settings)",
            raw.rate(),
            raw.records,
            raw.secs
        );
        println!("replay / raw = {:.0}%", 100.0 * s.rate() / raw.rate());
        log.delete_topic(&raw_topic).await.ok();
    }
    if let (Some(kafka), true) = (&target.kafka, args.reference) {
        let rate = reference(target, &kafka.bootstrap, &topic, s.sent).await?;
        println!("aisle / python reference = {:.1}x", s.rate() / rate);
    }
    log.delete_topic(&topic).await.ok();
    Ok(())
}

/// Records the raw comparison cycles through: ten days of one store's series, enough that
/// batches look like the replay's.
const RAW_POOL: usize = 300_000;

/// Up to `n` records of `topic` from the start of every partition, as records to send again
/// (partition, key, value, timestamp and headers kept).
async fn read_pool(
    log: &dyn Log,
    topic: &str,
    n: usize,
) -> anyhow::Result<Vec<aisle_log::ProduceRecord>> {
    use aisle_log::{ConsumerConfig, Offset, ProduceRecord, TopicPartition};
    let partitions = log.describe_topic(topic).await?.partitions;
    let mut consumer = log.consumer(&ConsumerConfig::default())?;
    let assignment: Vec<_> = (0..partitions)
        .map(|p| (TopicPartition::new(topic, p), Offset::Beginning))
        .collect();
    consumer.assign(&assignment)?;
    let mut pool = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while pool.len() < n && tokio::time::Instant::now() < deadline {
        for r in consumer.poll(std::time::Duration::from_millis(200)).await? {
            pool.push(ProduceRecord {
                topic: String::new(),
                partition: Some(r.partition),
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp: Some(r.timestamp),
            });
        }
    }
    anyhow::ensure!(!pool.is_empty(), "no records read back from {topic}");
    pool.truncate(n);
    Ok(pool)
}

/// Runs `benches/reference/sales_producer.py` against the same broker, with a registry: the
/// configured one, or Aisle's own served on a free local port for the run. Returns its records/s.
async fn reference(
    target: &Target,
    bootstrap: &str,
    topic: &str,
    records: u64,
) -> anyhow::Result<f64> {
    let log = &target.log;
    let (url, server) = match &target.registry_url {
        Some(url) => (url.clone(), None),
        None => {
            let store = aisle_registry::SchemaStore::open(log.clone())
                .await
                .context("loading schemas from the `_schemas` topic")?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let task = tokio::spawn(aisle_registry::serve(
                store,
                listener,
                std::future::pending::<()>(),
            ));
            (url, Some(task))
        }
    };
    let script = crate::reference_dir().join("sales_producer.py");
    let ref_topic = format!("{topic}-python");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .args([
            "--bootstrap",
            bootstrap,
            "--registry",
            &url,
            "--topic",
            &ref_topic,
        ])
        .args(["--records", &records.to_string()])
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    if let Some(t) = server {
        t.abort();
    }
    log.delete_topic(&ref_topic).await.ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        anyhow::bail!(
            "the Python reference failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("reference python"))
        .unwrap_or("");
    print!("{stdout}");
    line.split_whitespace()
        .nth(2)
        .and_then(|r| r.parse::<f64>().ok())
        .with_context(|| format!("no rate in the Python reference's output: {stdout}"))
}
