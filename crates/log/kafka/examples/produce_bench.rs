//! Produce throughput of 200-byte records: Aisle's `Producer` vs a raw rdkafka `FutureProducer`
//! with the very same librdkafka settings, on the same broker, in the same run.
//!
//! ```text
//! scripts/kafka-up
//! cargo run --release -p aisle-log-kafka --example produce_bench -- \
//!     [--bootstrap 127.0.0.1:9092] [--records 1000000] [--rounds 2] [--partitions 6] \
//!     [--size 200] [--linger-ms 5] [--set compression.type=none ...]
//! ```
//!
//! `--enqueue-only` times only the hand-over to librdkafka (no delivery waits; records are
//! dropped unsent at exit): with `--set bootstrap.servers=127.0.0.1:1` (nothing listening) it
//! measures the client-side cost per record of each path, free of broker noise. Keep
//! `--records` × `--rounds` below `queue.buffering.max.messages` (1,000,000) for that: the
//! undelivered records of every round stay queued.
//!
//! Both sides run the workload of [`aisle_log_kafka::bench`] (keys cycling through its seven
//! item names, placed by murmur2; a run ends when every record is acknowledged, acks=all).
//! Rounds alternate raw-first and Aisle-first; each run gets a fresh topic.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_log_kafka::bench::{Until, aisle_produce, raw_produce_with};
use aisle_log_kafka::{KafkaConfig, KafkaLog};
use anyhow::{Context, Result, bail};
use std::time::Duration;

struct Args {
    bootstrap: String,
    records: u64,
    rounds: usize,
    partitions: i32,
    size: usize,
    linger_ms: u64,
    properties: Vec<(String, String)>,
    enqueue_only: bool,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        bootstrap: std::env::var("AISLE_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        records: 1_000_000,
        rounds: 2,
        partitions: 6,
        size: 200,
        linger_ms: 5,
        properties: Vec::new(),
        enqueue_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = value()?,
            "--records" => a.records = value()?.parse()?,
            "--rounds" => a.rounds = value()?.parse()?,
            "--partitions" => a.partitions = value()?.parse()?,
            "--size" => a.size = value()?.parse()?,
            "--linger-ms" => a.linger_ms = value()?.parse()?,
            "--enqueue-only" => a.enqueue_only = true,
            "--set" => {
                let kv = value()?;
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--set {kv}: want key=value"))?;
                a.properties.push((k.into(), v.into()));
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let log = KafkaLog::connect(KafkaConfig::new(&args.bootstrap)).await?;
    let mut config = ProducerConfig {
        client_id: "aisle-bench".into(),
        linger: Duration::from_millis(args.linger_ms),
        ..Default::default()
    };
    config.properties.extend(args.properties.iter().cloned());
    let settings = log.producer_client_config(&config);
    let aisle = log.producer(&config)?;
    let until = if args.enqueue_only {
        Until::Enqueued
    } else {
        Until::Delivered
    };
    // A BTreeMap: already sorted by name.
    let shown: Vec<_> = settings
        .config_map()
        .into_iter()
        .filter(|(k, _)| *k != "bootstrap.servers")
        .collect();
    println!("settings (both sides): {shown:?}");
    println!(
        "{} records of {} bytes per run, {} partitions, {} rounds, broker {}",
        args.records, args.size, args.partitions, args.rounds, args.bootstrap
    );

    let (mut raw_rates, mut aisle_rates) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        // Alternate who goes first, so neither side always meets a broker warmed by the other.
        let order = if round % 2 == 1 {
            ["raw", "aisle"]
        } else {
            ["aisle", "raw"]
        };
        for side in order {
            let topic = format!("bench-produce-{side}-{}-{round}", std::process::id());
            log.create_topic(&TopicSpec::new(&topic, args.partitions))
                .await?;
            if args.enqueue_only && side == "aisle" {
                // Aisle checks each topic's metadata at its first send (at most 5 s when no
                // broker answers); take that one-off cost out of the per-record figure.
                aisle
                    .send(ProduceRecord::new(&topic).value("warm-up"))
                    .await?;
            }
            let run = match side {
                "raw" => {
                    raw_produce_with(&settings, &topic, args.records, args.size, until).await?
                }
                _ => aisle_produce(aisle.as_ref(), &topic, args.records, args.size, until).await?,
            };
            let r = run.rate();
            println!(
                "round {round} {side:>5}: {r:>10.0} records/s ({:.1} MB/s)",
                run.mb_per_s()
            );
            if side == "raw" {
                raw_rates.push(r)
            } else {
                aisle_rates.push(r)
            }
            log.delete_topic(&topic).await?;
        }
    }
    let (raw_med, aisle_med) = (median(&mut raw_rates), median(&mut aisle_rates));
    let (raw_best, aisle_best) = (max(&raw_rates), max(&aisle_rates));
    println!(
        "median: raw rdkafka {raw_med:.0} records/s, aisle {aisle_med:.0} records/s, aisle/raw = {:.1}%",
        100.0 * aisle_med / raw_med
    );
    println!(
        "best:   raw rdkafka {raw_best:.0} records/s, aisle {aisle_best:.0} records/s, aisle/raw = {:.1}%",
        100.0 * aisle_best / raw_best
    );
    Ok(())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}
