//! Helpers shared by the integration tests.
#![allow(dead_code)]

use aisle_log::{
    ConsumerConfig, Log, Offset, ProduceRecord, ProducerConfig, Record, TopicPartition,
};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog, FsyncPolicy};
use std::time::Duration;

/// A config for tests: synced writes (acknowledged per cycle), small segments, no cleaner.
pub fn small_segments() -> EmbeddedConfig {
    EmbeddedConfig {
        fsync: FsyncPolicy::Never,
        segment_bytes: 1024,
        cleaner_interval_ms: 0,
        ..EmbeddedConfig::default()
    }
}

/// Sends `n` records `k{i % keys}` = `v{i}` to one partition, awaiting each delivery
/// (so every record is its own write cycle and segments roll).
pub async fn produce_each(
    log: &EmbeddedLog,
    topic: &str,
    partition: i32,
    n: usize,
    keys: usize,
) -> Vec<i64> {
    let p = log.producer(&ProducerConfig::default()).unwrap();
    let mut offsets = Vec::new();
    for i in 0..n {
        let rec = ProduceRecord::new(topic)
            .partition(partition)
            .key(format!("k{}", i % keys))
            .value(format!("v{i}"))
            .timestamp(1_000 + i as i64);
        offsets.push(p.send(rec).await.unwrap().await.unwrap().offset);
    }
    offsets
}

/// Every record of a partition from the beginning, until caught up.
pub async fn read_all(log: &EmbeddedLog, topic: &str, partition: i32) -> Vec<Record> {
    let mut c = log.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(TopicPartition::new(topic, partition), Offset::Beginning)])
        .unwrap();
    let mut out = Vec::new();
    loop {
        let batch = c.poll(Duration::from_millis(200)).await.unwrap();
        out.extend(batch);
        if c.is_caught_up() {
            return out;
        }
    }
}

/// The `.log` files of a partition, sorted.
pub fn segment_files(
    dir: &std::path::Path,
    topic: &str,
    partition: i32,
) -> Vec<std::path::PathBuf> {
    let pdir = dir.join("topics").join(topic).join(partition.to_string());
    let mut v: Vec<_> = std::fs::read_dir(pdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}
