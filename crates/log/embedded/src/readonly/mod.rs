//! [`ReadOnlyLog`]: a data directory opened for reading beside the process that writes it.
//!
//! `aisle topic dump --follow` must be able to watch a running pipeline the way kcat watches a
//! broker. The writer holds the directory's lock ([`crate::EmbeddedLog::open`]); a reader
//! takes no lock and never writes, truncates, recovers or cleans anything. It reads the files
//! as they are:
//!
//! * **Records**: every whole, checksum-valid batch in the segment files, in offset order. A
//!   batch being appended right now (a partially written tail) is not an error: the reader
//!   stops before it and reads it once it is whole. A bad batch followed by a valid one, or a
//!   bad batch in a sealed segment, is [`LogError::Corrupt`].
//! * **Transactions**: a transaction's batches are returned once `journal.log` records its
//!   commit (read incrementally; `ReadCommitted` and `ReadUncommitted` alike), so a reader
//!   never sees records a crash would roll back.
//! * **Visibility**: a batch is readable once the writer has written it, which can be a write
//!   cycle (by default at most 10 ms) before the writer's own consumers see it, i.e. before it
//!   is synced and acknowledged: the reader sees what survives the writer being killed, which
//!   is what a restarted writer keeps.
//! * **Following**: `poll` looks at the files again every [`ReadOnlyOptions::poll_interval`]
//!   (no notification crosses processes), and moves to new segments as the writer rolls them.
//! * **The writer's cleaner**: a segment deleted or compacted while it is read stays readable
//!   through the open file; after it the reader continues at the next offset that exists, in
//!   the compaction result if one replaced it. Offsets retention deleted before the reader got
//!   to them are skipped, logged as a warning and listed by
//!   [`ReadOnlyConsumer::take_skipped`].
//! * **Writes** of any kind fail with [`LogError::ReadOnly`]: `send`, `commit`, `subscribe`
//!   (consumer groups live in the writer's process), topic creation or deletion, transactional
//!   producers. `create_topic` of a topic that already exists returns `Ok(false)`, as it
//!   changes nothing. Committed group offsets can be read ([`Consumer::committed`]).
//! * **Watermarks**: low is the first segment's base, high the offset after the last whole
//!   (and, for transactions, committed) batch of the newest segment.
//!
//! The directory need not have a writer: a reader of a directory a crashed writer left sees
//! what the next writer would keep after recovery (torn tail ignored, uncommitted transactions
//! hidden, an interrupted compaction's finished result used).
//!
//! # Layout
//! * `mod.rs`: [`ReadOnlyLog`], [`ReadOnlyOptions`], the `Log` trait.
//! * `tail.rs`: [`PartitionReader`](tail::PartitionReader), following one partition's files.
//! * `journal_view.rs`: the incremental view of `journal.log`.
//! * `consumer.rs`: [`ReadOnlyConsumer`], [`ReadOnlyProducer`].

mod consumer;
mod journal_view;
mod tail;

pub use consumer::{ReadOnlyConsumer, ReadOnlyProducer};
pub use tail::Skipped;

use crate::topic::{TopicMeta, validate_name};
use aisle_log::{
    Consumer, ConsumerConfig, Log, LogError, Producer, ProducerConfig, Result, TopicInfo,
    TopicPartition, TopicSpec, TxProducer,
};
use async_trait::async_trait;
use journal_view::JournalView;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Settings of a [`ReadOnlyLog`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOnlyOptions {
    /// How often a waiting `poll` looks at the files again (default 100 ms).
    pub poll_interval: Duration,
}

impl Default for ReadOnlyOptions {
    fn default() -> Self {
        ReadOnlyOptions {
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// State shared by the log handle and its clients.
pub(crate) struct Shared {
    dir: PathBuf,
    options: ReadOnlyOptions,
    journal: Mutex<JournalView>,
}

impl Shared {
    fn refused(&self, what: &str) -> LogError {
        LogError::ReadOnly(format!(
            "{what}: the embedded log in {} is open read-only (a reader beside its writer); \
             write through the process that holds it",
            self.dir.display()
        ))
    }

    fn topic_dir(&self, topic: &str) -> PathBuf {
        self.dir.join("topics").join(topic)
    }

    /// A topic's metadata, or `UnknownTopic` (also for a creation still in progress).
    fn meta(&self, topic: &str) -> Result<TopicMeta> {
        validate_name(topic)?;
        let path = self.topic_dir(topic).join("topic.json");
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| LogError::Corrupt {
                location: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(LogError::UnknownTopic(topic.to_owned()))
            }
            Err(e) => Err(LogError::io(&path, e)),
        }
    }

    fn partition_dir(&self, tp: &TopicPartition) -> Result<PathBuf> {
        let meta = self.meta(&tp.topic)?;
        if tp.partition < 0 || tp.partition >= meta.partitions {
            return Err(LogError::UnknownPartition {
                topic: tp.topic.clone(),
                partition: tp.partition,
                partitions: meta.partitions,
            });
        }
        Ok(self.topic_dir(&tp.topic).join(tp.partition.to_string()))
    }

    fn watermarks(&self, tp: &TopicPartition) -> Result<(i64, i64)> {
        let dir = self.partition_dir(tp)?;
        tail::watermarks(&dir, &tp.topic, &mut self.journal.lock())
    }
}

/// An embedded data directory opened read-only; see the [module docs](self) for what a reader
/// sees. Cheap to clone; implements [`Log`], so any reading code runs on it unchanged.
#[derive(Clone)]
pub struct ReadOnlyLog {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ReadOnlyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyLog")
            .field("dir", &self.shared.dir)
            .finish()
    }
}

impl ReadOnlyLog {
    /// Opens `dir` for reading, whether or not a writer holds it. Fails with
    /// [`LogError::InvalidArgument`] if `dir` holds no embedded log (no `topics/`).
    pub fn open(dir: impl AsRef<Path>, options: ReadOnlyOptions) -> Result<ReadOnlyLog> {
        let dir = dir.as_ref().to_owned();
        if !dir.join("topics").is_dir() {
            return Err(LogError::InvalidArgument(format!(
                "no embedded log in {} (no topics/ directory): nothing has been written there",
                dir.display()
            )));
        }
        let journal = Mutex::new(JournalView::new(&dir));
        Ok(ReadOnlyLog {
            shared: Arc::new(Shared {
                dir,
                options,
                journal,
            }),
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// A consumer with its concrete type (for [`ReadOnlyConsumer::take_skipped`]).
    pub fn read_only_consumer(&self, config: &ConsumerConfig) -> ReadOnlyConsumer {
        ReadOnlyConsumer::new(self.shared.clone(), config.clone())
    }

    fn topics(&self) -> Result<Vec<TopicMeta>> {
        let tdir = self.shared.dir.join("topics");
        let mut names: Vec<String> = std::fs::read_dir(&tdir)
            .map_err(|e| LogError::io(&tdir, e))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            match self.shared.meta(&n) {
                Ok(m) => out.push(m),
                // Being created (topic.json comes last) or deleted right now.
                Err(LogError::UnknownTopic(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

fn info(meta: &TopicMeta) -> TopicInfo {
    TopicInfo {
        name: meta.name.clone(),
        partitions: meta.partitions,
        cleanup: meta.cleanup_policy(),
    }
}

#[async_trait]
impl Log for ReadOnlyLog {
    fn runtime(&self) -> &'static str {
        "embedded"
    }

    async fn create_topic(&self, spec: &TopicSpec) -> Result<bool> {
        match self.shared.meta(&spec.name) {
            Ok(_) => Ok(false),
            Err(LogError::UnknownTopic(_)) => Err(self
                .shared
                .refused(&format!("cannot create topic `{}`", spec.name))),
            Err(e) => Err(e),
        }
    }

    async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        Ok(self
            .topics()?
            .iter()
            .filter(|m| !m.name.starts_with("__"))
            .map(info)
            .collect())
    }

    async fn describe_topic(&self, topic: &str) -> Result<TopicInfo> {
        Ok(info(&self.shared.meta(topic)?))
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        Err(self
            .shared
            .refused(&format!("cannot delete topic `{topic}`")))
    }

    async fn watermarks(&self, tp: &TopicPartition) -> Result<(i64, i64)> {
        self.shared.watermarks(tp)
    }

    fn producer(&self, _config: &ProducerConfig) -> Result<Arc<dyn Producer>> {
        Ok(Arc::new(ReadOnlyProducer {
            shared: self.shared.clone(),
        }))
    }

    fn consumer(&self, config: &ConsumerConfig) -> Result<Box<dyn Consumer>> {
        Ok(Box::new(self.read_only_consumer(config)))
    }

    async fn tx_producer(
        &self,
        transactional_id: &str,
        _config: &ProducerConfig,
    ) -> Result<Box<dyn TxProducer>> {
        Err(self.shared.refused(&format!(
            "cannot start transactional producer `{transactional_id}`"
        )))
    }
}
