//! Shared helpers for the tests against a real broker.

#![allow(dead_code)]

use aisle_log::{Consumer, Log, Record, TopicSpec};
use aisle_log_kafka::{KafkaConfig, KafkaLog};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The broker's bootstrap servers from `AISLE_TEST_KAFKA`, or `None` (after saying why) when the
/// test should be skipped. With `AISLE_REQUIRE_KAFKA=1` a missing broker fails the test instead.
pub fn bootstrap() -> Option<String> {
    match std::env::var("AISLE_TEST_KAFKA") {
        Ok(b) if !b.trim().is_empty() => Some(b),
        _ => {
            if std::env::var("AISLE_REQUIRE_KAFKA").as_deref() == Ok("1") {
                panic!(
                    "AISLE_REQUIRE_KAFKA=1 but AISLE_TEST_KAFKA is not set (scripts/kafka-up prints it)"
                );
            }
            eprintln!("skipped: set AISLE_TEST_KAFKA (scripts/kafka-up prints it)");
            None
        }
    }
}

/// Connects to the test broker, or returns `None` to skip.
pub async fn log() -> Option<KafkaLog> {
    let b = bootstrap()?;
    Some(
        KafkaLog::connect(KafkaConfig::new(b))
            .await
            .expect("connect to AISLE_TEST_KAFKA"),
    )
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    #[expect(
        clippy::disallowed_methods,
        reason = "seeds a unique name; nothing is decided by the time"
    )]
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a fresh topic with `partitions` partitions and returns its name.
pub async fn topic(log: &KafkaLog, prefix: &str, partitions: i32) -> String {
    let name = unique(prefix);
    assert!(
        log.create_topic(&TopicSpec::new(&name, partitions))
            .await
            .unwrap()
    );
    name
}

/// Polls until `n` records arrived or `within` passed; returns what arrived.
pub async fn read_n(consumer: &mut dyn Consumer, n: usize, within: Duration) -> Vec<Record> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        out.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
    }
    out
}

/// Polls until the consumer is caught up (or `within` passed); returns everything read.
pub async fn read_to_end(consumer: &mut dyn Consumer, within: Duration) -> Vec<Record> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    loop {
        out.extend(consumer.poll(Duration::from_millis(300)).await.unwrap());
        if consumer.is_caught_up() || Instant::now() >= deadline {
            return out;
        }
    }
}
