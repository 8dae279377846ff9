//! The runtimes under test: the [`Fixture`] trait and one implementation per runtime.
//!
//! A fixture gives a case a fresh log and knows the runtime-specific parts a case cannot express
//! through the [`Log`] trait: how to make a compacted topic compact *now*, and which topic
//! settings make that possible.

use aisle_log::{CleanupPolicy, Log, Result, TopicSpec};
use async_trait::async_trait;
use std::sync::Arc;

/// Key of the records [`Fixture::compact`] appends to roll the active segment (neither runtime
/// compacts the segment being written); cases checking a compacted topic ignore this key.
pub const ROLL_KEY: &str = "__aisle_testkit_roll";

/// A runtime under test. One fixture per case: it owns whatever the case needs to be isolated
/// (a temporary directory, a connection), and topics are named randomly so a shared broker is fine.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// `"embedded"` or `"kafka"`, for messages.
    fn name(&self) -> &'static str;

    /// The log under test; the same log on every call.
    async fn log(&self) -> Result<Arc<dyn Log>>;

    /// Forces compaction of `topic` (a topic made from [`Fixture::compacted_topic`]) and returns
    /// once it has happened: every record written before the call is in a cleaned segment, so
    /// each of those keys appears at most once. May append [`ROLL_KEY`] records to do so.
    async fn compact(&self, topic: &str) -> Result<()>;

    /// A compacted topic spec that [`Fixture::compact`] can compact promptly.
    fn compacted_topic(&self, name: &str, partitions: i32) -> TopicSpec {
        TopicSpec::new(name, partitions).cleanup(CleanupPolicy::Compact)
    }
}

#[cfg(feature = "embedded")]
pub use embedded::{EmbeddedFixture, TempEmbeddedLog, temp_embedded_log};

#[cfg(feature = "embedded")]
mod embedded {
    use super::*;
    use aisle_log::{LogError, ProduceRecord, ProducerConfig};
    use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
    use tempfile::TempDir;

    /// An embedded log in a temporary directory that is removed when this is dropped.
    pub struct TempEmbeddedLog {
        /// The open log. Declared before `dir` so it is dropped (and its files closed) first.
        pub log: EmbeddedLog,
        /// The data directory.
        pub dir: TempDir,
    }

    impl std::ops::Deref for TempEmbeddedLog {
        type Target = EmbeddedLog;
        fn deref(&self) -> &EmbeddedLog {
            &self.log
        }
    }

    /// Opens an embedded log with default settings in a fresh temporary directory.
    pub fn temp_embedded_log() -> Result<TempEmbeddedLog> {
        let dir = tempfile::Builder::new()
            .prefix("aisle-testkit-")
            .tempdir()
            .map_err(|e| LogError::io(std::env::temp_dir(), e))?;
        let log = EmbeddedLog::open(dir.path(), EmbeddedConfig::default())?;
        Ok(TempEmbeddedLog { log, dir })
    }

    /// The embedded runtime, in a temporary directory per fixture.
    pub struct EmbeddedFixture {
        log: tokio::sync::OnceCell<TempEmbeddedLog>,
    }

    impl EmbeddedFixture {
        /// A fixture whose log is opened on first use.
        pub fn new() -> Self {
            EmbeddedFixture {
                log: tokio::sync::OnceCell::new(),
            }
        }

        async fn temp(&self) -> Result<&TempEmbeddedLog> {
            self.log
                .get_or_try_init(|| async { temp_embedded_log() })
                .await
        }
    }

    impl Default for EmbeddedFixture {
        fn default() -> Self {
            Self::new()
        }
    }

    #[async_trait]
    impl Fixture for EmbeddedFixture {
        fn name(&self) -> &'static str {
            "embedded"
        }

        async fn log(&self) -> Result<Arc<dyn Log>> {
            Ok(Arc::new(self.temp().await?.log.clone()))
        }

        async fn compact(&self, topic: &str) -> Result<()> {
            // Like Kafka, the embedded cleaner leaves the active segment alone. With
            // `segment.bytes=1024` (see `compacted_topic`), a 1 KiB record fills the active
            // segment and the next record rolls it, sealing everything written before.
            let log = &self.temp().await?.log;
            let partitions = log.describe_topic(topic).await?.partitions;
            let producer = log.producer(&ProducerConfig::default())?;
            for filler in [vec![b'x'; SEGMENT_BYTES], b"roll".to_vec()] {
                let mut deliveries = Vec::new();
                for p in 0..partitions {
                    let rec = ProduceRecord::new(topic)
                        .partition(p)
                        .key(ROLL_KEY)
                        .value(filler.clone());
                    deliveries.push(producer.send(rec).await?);
                }
                for d in deliveries {
                    d.await?;
                }
            }
            log.compact_now(topic).await
        }

        fn compacted_topic(&self, name: &str, partitions: i32) -> TopicSpec {
            TopicSpec::new(name, partitions)
                .cleanup(CleanupPolicy::Compact)
                .config("segment.bytes", SEGMENT_BYTES.to_string())
        }
    }

    /// The smallest segment the embedded log accepts, so a test can fill one cheaply.
    const SEGMENT_BYTES: usize = 1024;
}

#[cfg(feature = "kafka")]
pub use kafka::{KafkaFixture, kafka_bootstrap};

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;
    use crate::read::read_all;
    use aisle_log::{LogError, ProduceRecord, ProducerConfig};
    use aisle_log_kafka::{KafkaConfig, KafkaLog};
    use std::collections::HashSet;
    use std::time::Duration;
    use tokio::time::Instant;

    /// The broker to test against: `AISLE_TEST_KAFKA` (bootstrap servers), if set and not empty.
    pub fn kafka_bootstrap() -> Option<String> {
        std::env::var("AISLE_TEST_KAFKA")
            .ok()
            .filter(|s| !s.trim().is_empty())
    }

    /// Whether a missing broker must fail tests (`AISLE_REQUIRE_KAFKA=1`, set by CI) instead of
    /// skipping them.
    fn kafka_required() -> bool {
        crate::required("AISLE_REQUIRE_KAFKA")
    }

    /// How long [`Fixture::compact`] waits for Kafka's log cleaner. The cleaner wakes every
    /// `log.cleaner.backoff.ms` (15 s by default), so this allows several passes.
    const COMPACTION_WAIT: Duration = Duration::from_secs(120);

    /// A real Kafka broker, from `AISLE_TEST_KAFKA`.
    pub struct KafkaFixture {
        bootstrap: String,
        log: tokio::sync::OnceCell<KafkaLog>,
    }

    impl KafkaFixture {
        /// A fixture for the broker at `bootstrap`; connects on first use.
        pub fn new(bootstrap: impl Into<String>) -> Self {
            KafkaFixture {
                bootstrap: bootstrap.into(),
                log: tokio::sync::OnceCell::new(),
            }
        }

        /// The fixture for `AISLE_TEST_KAFKA`, or `None` (after printing
        /// `skipped: set AISLE_TEST_KAFKA`) when it is unset.
        ///
        /// # Panics
        /// When it is unset and `AISLE_REQUIRE_KAFKA=1`: CI promised a broker, so a missing one is a
        /// failure, not a skip.
        pub fn from_env() -> Option<Self> {
            match kafka_bootstrap() {
                Some(bootstrap) => Some(Self::new(bootstrap)),
                None if kafka_required() => {
                    panic!(
                        "AISLE_REQUIRE_KAFKA=1 but AISLE_TEST_KAFKA (bootstrap servers) is unset"
                    )
                }
                None => {
                    println!("skipped: set AISLE_TEST_KAFKA");
                    None
                }
            }
        }

        async fn kafka(&self) -> Result<&KafkaLog> {
            self.log
                .get_or_try_init(|| async {
                    KafkaLog::connect(KafkaConfig::new(self.bootstrap.clone())).await
                })
                .await
        }

        /// Appends a [`ROLL_KEY`] record to every partition of `topic`: Kafka never cleans the
        /// active segment, and with `segment.ms=100` a new record rolls it.
        async fn roll(&self, topic: &str) -> Result<()> {
            let log = self.kafka().await?;
            let partitions = log.describe_topic(topic).await?.partitions;
            let producer = log.producer(&ProducerConfig::default())?;
            let mut deliveries = Vec::new();
            for p in 0..partitions {
                let rec = ProduceRecord::new(topic)
                    .partition(p)
                    .key(ROLL_KEY)
                    .value("roll");
                deliveries.push(producer.send(rec).await?);
            }
            for d in deliveries {
                d.await?;
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Fixture for KafkaFixture {
        fn name(&self) -> &'static str {
            "kafka"
        }

        async fn log(&self) -> Result<Arc<dyn Log>> {
            Ok(Arc::new(self.kafka().await?.clone()))
        }

        async fn compact(&self, topic: &str) -> Result<()> {
            let log = self.kafka().await?;
            let deadline = Instant::now() + COMPACTION_WAIT;
            let mut last_roll = Instant::now();
            // Let the records under test age past segment.ms, so the roll record starts a new
            // segment and leaves them all in cleanable ones.
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.roll(topic).await?;
            loop {
                let records = read_all(log, topic).await?;
                let mut seen = HashSet::new();
                let duplicates = records
                    .iter()
                    .filter(|r| r.key.as_deref() != Some(ROLL_KEY.as_bytes()))
                    .filter(|r| !seen.insert((r.partition, r.key.clone())))
                    .count();
                if duplicates == 0 {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(LogError::Timeout(format!(
                        "Kafka's cleaner did not compact {topic} within {COMPACTION_WAIT:?}: \
                         {duplicates} superseded records remain"
                    )));
                }
                // A fresh roll now and then: if the cleaner ran before our records left the
                // active segment, it needs another closed segment to look at.
                if last_roll.elapsed() > Duration::from_secs(10) {
                    self.roll(topic).await?;
                    last_roll = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }

        fn compacted_topic(&self, name: &str, partitions: i32) -> TopicSpec {
            // Small segments and an eager cleaner, so compaction happens within seconds.
            TopicSpec::new(name, partitions)
                .cleanup(CleanupPolicy::Compact)
                .config("segment.ms", "100")
                .config("min.cleanable.dirty.ratio", "0.001")
                .config("delete.retention.ms", "100")
                .config("min.compaction.lag.ms", "0")
        }
    }
}
