//! `aisle topic list|create|dump|produce`. `list` and `dump` only read, so they also work on an
//! embedded data directory a running pipeline holds (opened read-only beside it).

use crate::config::Config;
use crate::exit;
use crate::runtime::{self, Reading};
use aisle_events::topics;
use aisle_log::{
    CleanupPolicy, ConsumerConfig, Isolation, Log, Offset, Record, TopicPartition, TopicSpec,
};
use aisle_registry::SchemaRegistry;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

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

pub async fn run(config: &Config, cmd: TopicCmd) -> anyhow::Result<()> {
    match cmd {
        // Readers: beside a running pipeline, the embedded log is opened read-only.
        TopicCmd::List => {
            let opened = runtime::open_log_for_reading(config, Reading::Once).await?;
            list(opened.log.as_ref()).await
        }
        TopicCmd::Dump(args) => {
            let reading = if args.follow {
                Reading::Follow
            } else {
                Reading::Once
            };
            let opened = runtime::open_log_for_reading(config, reading).await?;
            let registry = if args.raw {
                None
            } else {
                Some(runtime::registry_for_reading(config, &opened).await?)
            };
            dump(opened.log, registry, args).await
        }
        // Writers: a data directory another process holds is refused.
        TopicCmd::Create(args) => {
            let opened = runtime::open_log(config).await?;
            create(config, opened.log.as_ref(), args).await
        }
        TopicCmd::Produce(args) => {
            let opened = runtime::open_log(config).await?;
            let registry = runtime::registry(config, &opened.log).await?;
            produce(opened.log, registry, args).await
        }
    }
}

async fn list(log: &dyn Log) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<40} {:>10} {:>14} {:>12}",
        "TOPIC", "PARTITIONS", "CLEANUP", "RECORDS"
    )?;
    for t in log.list_topics().await? {
        let mut records = 0i64;
        for p in 0..t.partitions {
            let (low, high) = log
                .watermarks(&TopicPartition::new(t.name.clone(), p))
                .await?;
            records += high - low;
        }
        writeln!(
            out,
            "{:<40} {:>10} {:>14} {:>12}",
            t.name,
            t.partitions,
            t.cleanup.as_kafka(),
            records
        )?;
    }
    Ok(())
}

async fn create(config: &Config, log: &dyn Log, args: TopicCreateArgs) -> anyhow::Result<()> {
    let replication = args.replication.unwrap_or(config.kafka.spec_replication());
    let specs: Vec<TopicSpec> = if args.standard {
        topics::default_specs()
            .into_iter()
            .map(|s| s.replication(replication))
            .collect()
    } else {
        let name = args.name.unwrap_or_default();
        if args.partitions < 1 {
            return Err(exit::fail(
                2,
                format!("--partitions must be at least 1 (topic `{name}`)"),
            ));
        }
        let cleanup = if args.compact {
            CleanupPolicy::Compact
        } else {
            CleanupPolicy::Delete
        };
        vec![
            TopicSpec::new(name, args.partitions)
                .cleanup(cleanup)
                .replication(replication),
        ]
    };
    for spec in specs {
        let created = log.create_topic(&spec).await?;
        println!(
            "{} {} ({} partitions, {})",
            if created { "created" } else { "exists " },
            spec.name,
            spec.partitions,
            spec.cleanup.as_kafka()
        );
    }
    Ok(())
}

/// Reads the topic and prints one JSON object per record. Values that can't be decoded are
/// reported on stderr naming topic/partition/offset and printed raw; the dump goes on, and the
/// exit code says some records were bad.
async fn dump(
    log: Arc<dyn Log>,
    registry: Option<Arc<dyn SchemaRegistry>>,
    args: TopicDumpArgs,
) -> anyhow::Result<()> {
    let info = log.describe_topic(&args.topic).await?;
    let parts: Vec<i32> = match args.partition {
        Some(p) if p < 0 || p >= info.partitions => {
            return Err(exit::fail(
                2,
                format!(
                    "topic `{}` has no partition {p} (it has {})",
                    args.topic, info.partitions
                ),
            ));
        }
        Some(p) => vec![p],
        None => (0..info.partitions).collect(),
    };
    // Without --follow a dump reads everything there is; with it, only new records unless
    // --from-beginning.
    let start = if args.follow && !args.from_beginning {
        Offset::End
    } else {
        Offset::Beginning
    };
    let mut consumer = log.consumer(&ConsumerConfig {
        client_id: "aisle-topic-dump".into(),
        isolation: Isolation::ReadCommitted,
        ..Default::default()
    })?;
    let assignment: Vec<_> = parts
        .iter()
        .map(|p| (TopicPartition::new(args.topic.clone(), *p), start))
        .collect();
    consumer.assign(&assignment)?;

    let mut printed = 0u64;
    let mut bad = 0u64;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let max = args.max.unwrap_or(u64::MAX);
    while printed < max {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        for rec in &batch {
            if printed >= max {
                break;
            }
            let line = render(rec, registry.as_deref(), &mut bad).await;
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
            printed += 1;
        }
        if batch.is_empty() {
            out.flush()?;
            if !args.follow && consumer.is_caught_up() {
                break;
            }
        }
    }
    out.flush()?;
    if bad > 0 {
        return Err(exit::fail(
            exit::DATA_ERR,
            format!(
                "{bad} of {printed} values in `{}` could not be decoded (see above)",
                args.topic
            ),
        ));
    }
    Ok(())
}

/// One line of `topic produce` input.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InputLine {
    key: Option<String>,
    value: Option<Value>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
}

/// Encodes JSON lines from stdin and writes them. A bad line is reported with its line number and
/// skipped; the others are written; the exit code then says some input was bad.
async fn produce(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    args: TopicProduceArgs,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::BufRead;
    let schema = std::fs::read_to_string(&args.schema)
        .with_context(|| format!("reading schema {}", args.schema.display()))?;
    log.describe_topic(&args.topic).await?;
    let id = registry
        .register(&topics::value_subject(&args.topic), &schema)
        .await
        .with_context(|| format!("registering {} for `{}`", args.schema.display(), args.topic))?;
    let producer = log.producer(&aisle_log::ProducerConfig::default())?;
    let (mut sent, mut bad) = (0u64, 0u64);
    let mut deliveries = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let rec = match encode_line(&line, &schema, id) {
            Ok(v) => v,
            Err(e) => {
                bad += 1;
                eprintln!("warning: stdin line {}: {e:#}; skipped", n + 1);
                continue;
            }
        };
        let mut out = aisle_log::ProduceRecord::new(&args.topic);
        out.key = rec.key.map(|k| k.into_bytes().into());
        out.value = rec.value.map(Into::into);
        out.partition = rec.partition;
        out.timestamp = rec.timestamp;
        for (k, v) in rec.headers {
            out = out.header(k, v.into_bytes());
        }
        deliveries.push(producer.send(out).await?);
        sent += 1;
    }
    for d in deliveries {
        d.await?;
    }
    eprintln!("wrote {sent} records to `{}` (schema id {id})", args.topic);
    if bad > 0 {
        return Err(exit::fail(
            exit::DATA_ERR,
            format!("{bad} input lines were bad (see above)"),
        ));
    }
    Ok(())
}

struct Encoded {
    key: Option<String>,
    value: Option<Vec<u8>>,
    partition: Option<i32>,
    timestamp: Option<i64>,
    headers: std::collections::BTreeMap<String, String>,
}

fn encode_line(line: &str, schema: &str, id: u32) -> anyhow::Result<Encoded> {
    let input: InputLine = serde_json::from_str(line)?;
    let value = match input.value {
        None | Some(Value::Null) => None,
        Some(v) => {
            let mut buf = Vec::new();
            aisle_events::wire::write_header(&mut buf, id);
            buf.extend_from_slice(&aisle_events::json_to_datum(schema, &v)?);
            Some(buf)
        }
    };
    Ok(Encoded {
        key: input.key,
        value,
        partition: input.partition,
        timestamp: input.timestamp,
        headers: input.headers,
    })
}

async fn render(rec: &Record, registry: Option<&dyn SchemaRegistry>, bad: &mut u64) -> Value {
    let key = rec.key.as_ref().map(|k| match std::str::from_utf8(k) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => json!({ "hex": hex(k) }),
    });
    let value = match (&rec.value, registry) {
        (None, _) => Value::Null,
        (Some(v), None) => json!({ "hex": hex(v) }),
        (Some(v), Some(reg)) => match decode(v, reg).await {
            Ok(json) => json,
            Err(e) => {
                *bad += 1;
                eprintln!(
                    "warning: {}/{} offset {}: cannot decode value: {e:#}",
                    rec.topic, rec.partition, rec.offset
                );
                json!({ "hex": hex(v), "error": format!("{e:#}") })
            }
        },
    };
    let mut obj = json!({
        "topic": rec.topic,
        "partition": rec.partition,
        "offset": rec.offset,
        "timestamp": rec.timestamp,
        "key": key,
        "value": value,
    });
    if !rec.headers.is_empty() {
        let headers: serde_json::Map<String, Value> = rec
            .headers
            .iter()
            .map(|h| {
                (
                    h.key.clone(),
                    Value::String(String::from_utf8_lossy(&h.value).into_owned()),
                )
            })
            .collect();
        obj["headers"] = Value::Object(headers);
    }
    obj
}

async fn decode(payload: &[u8], registry: &dyn SchemaRegistry) -> anyhow::Result<Value> {
    let (id, datum) = aisle_events::wire::split(payload)?;
    let schema = registry.schema_by_id(id).await?;
    Ok(aisle_events::datum_to_json(&schema.schema_json, datum)?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
