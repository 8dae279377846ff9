//! [`EmbeddedLog`]: opening a data directory, topics, and the `Log` trait.

use crate::config::EmbeddedConfig;
use crate::consumer::EmbeddedConsumer;
use crate::groups::Coordinator;
use crate::journal::Journal;
use crate::producer::{EmbeddedProducer, EmbeddedTxProducer};
use crate::readonly::{ReadOnlyLog, ReadOnlyOptions};
use crate::recovery::open_partition;
use crate::topic::{Topic, TopicMeta, validate_name};
use crate::writer::{Queue, Shared};
use aisle_log::{
    Consumer, ConsumerConfig, Log, LogError, Producer, ProducerConfig, Result, TopicInfo,
    TopicPartition, TopicSpec, TxProducer,
};
use async_trait::async_trait;
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

const CLEAN_MARKER: &str = "clean_shutdown";

/// The embedded log: a data directory opened by this process. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedLog {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedLog")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

#[derive(Default)]
struct CleanerStop {
    stop: Mutex<bool>,
    cv: Condvar,
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub shared: Arc<Shared>,
    pub topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    pub groups: Coordinator,
    /// Serializes topic creation and deletion.
    admin: Mutex<()>,
    writer: Mutex<Option<JoinHandle<()>>>,
    cleaner: Mutex<Option<JoinHandle<()>>>,
    cleaner_stop: Arc<CleanerStop>,
    trash_seq: AtomicU64,
    /// Holds the directory lock for the life of the log.
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        {
            *self.cleaner_stop.stop.lock() = true;
            self.cleaner_stop.cv.notify_all();
        }
        if let Some(h) = self.cleaner.lock().take()
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
        {
            self.shared.queue.lock().shutdown = true;
            self.shared.wake.notify_all();
        }
        if let Some(h) = self.writer.lock().take() {
            let _ = h.join();
        }
        if self.shared.poisoned.lock().is_none() {
            // Everything is synced and every index is complete: the next open may skip
            // rescanning active segments.
            let marker = self.dir.join(CLEAN_MARKER);
            if File::create(&marker).and_then(|f| f.sync_all()).is_ok() {
                let _ = crate::fsutil::sync_dir(&self.dir);
            }
        }
    }
}

fn read_names(dir: &Path) -> Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => Ok(rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(LogError::io(dir, e)),
    }
}

/// How many times, [`LOCK_RETRY`] apart, `open` tries a held lock before it reports
/// [`LogError::Locked`].
const LOCK_ATTEMPTS: u32 = 50;
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Takes the directory lock, waiting out one held only for a moment (about half a second at
/// most). The lock belongs to an open file description, which a child process forked by any
/// thread of this process shares until it execs its program: a log dropped and reopened
/// while another thread spawns a process can find its own lock still held for that moment.
/// A process that is exiting releases its lock the same way. A lock still held after the
/// wait is another process's log, and is reported.
fn lock_dir(lock: &File, lock_path: &Path, dir: &Path) -> Result<()> {
    for attempt in 1..=LOCK_ATTEMPTS {
        match fs4::FileExt::try_lock(lock) {
            Ok(()) => return Ok(()),
            Err(fs4::TryLockError::WouldBlock) if attempt < LOCK_ATTEMPTS => {
                std::thread::sleep(LOCK_RETRY);
            }
            Err(fs4::TryLockError::WouldBlock) => break,
            Err(fs4::TryLockError::Error(e)) => return Err(LogError::io(lock_path, e)),
        }
    }
    Err(LogError::Locked(dir.to_owned()))
}

impl EmbeddedLog {
    /// Opens (creating if needed) the log in `dir`, recovering from any crash.
    ///
    /// Fails with [`LogError::Locked`] if another process (or another `open` in this one)
    /// holds the directory beyond a moment's wait, and with [`LogError::Corrupt`] if data is
    /// damaged beyond a torn tail (run [`crate::verify`] for the full picture).
    pub fn open(dir: impl AsRef<Path>, config: EmbeddedConfig) -> Result<EmbeddedLog> {
        config.validate()?;
        let dir = dir.as_ref().to_owned();
        std::fs::create_dir_all(dir.join("topics")).map_err(|e| LogError::io(&dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| LogError::io(&lock_path, e))?;
        lock_dir(&lock, &lock_path, &dir)?;
        let trash = dir.join("trash");
        if trash.exists() {
            std::fs::remove_dir_all(&trash).map_err(|e| LogError::io(&trash, e))?;
        }
        let marker = dir.join(CLEAN_MARKER);
        let clean = marker.exists();
        let mut state = Journal::replay(&dir)?;
        let mut topics = BTreeMap::new();
        for name in read_names(&dir.join("topics"))? {
            let tdir = dir.join("topics").join(&name);
            let meta_path = tdir.join("topic.json");
            let meta: TopicMeta = match std::fs::read(&meta_path) {
                Ok(b) => serde_json::from_slice(&b).map_err(|e| LogError::Corrupt {
                    location: meta_path.display().to_string(),
                    reason: e.to_string(),
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A creation that never finished (topic.json is written last).
                    std::fs::remove_dir_all(&tdir).map_err(|e| LogError::io(&tdir, e))?;
                    continue;
                }
                Err(e) => return Err(LogError::io(&meta_path, e)),
            };
            let topic = load_topic(&tdir, meta, &config, &state, clean)?;
            topics.insert(name, Arc::new(topic));
        }
        state.floor = state.next_seq;
        let journal = Journal::snapshot(&dir, &state)?;
        if clean {
            std::fs::remove_file(&marker).map_err(|e| LogError::io(&marker, e))?;
            crate::fsutil::sync_dir(&dir)?;
        }
        let (data_version, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            config: config.clone(),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            offsets: Mutex::new(state.offsets.clone()),
            tx_epochs: Mutex::new(HashMap::new()),
            data_version,
            poisoned: Mutex::new(None),
            fault_crash_before_tx_commit: std::env::var("AISLE_EMBEDDED_FAULT").as_deref()
                == Ok("crash_before_tx_commit"),
        });
        let next_seq = state.next_seq;
        let ws = shared.clone();
        let writer = std::thread::Builder::new()
            .name("aisle-log-writer".into())
            .spawn(move || crate::writer::run(ws, journal, next_seq))
            .map_err(|e| LogError::io(&dir, e))?;
        let inner = Arc::new(Inner {
            dir,
            shared,
            topics: RwLock::new(topics),
            groups: Coordinator::default(),
            admin: Mutex::new(()),
            writer: Mutex::new(Some(writer)),
            cleaner: Mutex::new(None),
            cleaner_stop: Arc::new(CleanerStop::default()),
            trash_seq: AtomicU64::new(0),
            _lock: lock,
        });
        if config.cleaner_interval_ms > 0 {
            let weak = Arc::downgrade(&inner);
            let stop = inner.cleaner_stop.clone();
            let every = Duration::from_millis(config.cleaner_interval_ms);
            let h = std::thread::Builder::new()
                .name("aisle-log-cleaner".into())
                .spawn(move || cleaner_loop(weak, stop, every))
                .map_err(|e| LogError::io(&inner.dir, e))?;
            *inner.cleaner.lock() = Some(h);
        }
        Ok(EmbeddedLog { inner })
    }

    /// Opens `dir` read-only, beside whichever process writes it: no lock, no recovery, no
    /// writes (see [`ReadOnlyLog`]).
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<ReadOnlyLog> {
        ReadOnlyLog::open(dir, ReadOnlyOptions::default())
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Compacts every partition of `topic` now (a no-op for delete-policy topics).
    pub async fn compact_now(&self, topic: &str) -> Result<()> {
        let t = self.inner.topic(topic)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || crate::cleaner::compact_topic(&inner, &t))
            .await
            .map_err(|e| LogError::Transaction(format!("compaction task failed: {e}")))?
    }

    /// Deletes the segments of `topic` that are past its time or size retention, now.
    pub async fn enforce_retention_now(&self, topic: &str) -> Result<()> {
        let t = self.inner.topic(topic)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || crate::cleaner::enforce_retention(&inner, &t))
            .await
            .map_err(|e| LogError::Transaction(format!("retention task failed: {e}")))?
    }
}

fn load_topic(
    tdir: &Path,
    meta: TopicMeta,
    config: &EmbeddedConfig,
    state: &crate::journal::JournalState,
    clean: bool,
) -> Result<Topic> {
    let name: Arc<str> = meta.name.as_str().into();
    let seg_bytes = meta.segment_bytes(config);
    let partitions = (0..meta.partitions)
        .map(|p| {
            let pdir = tdir.join(p.to_string());
            open_partition(name.clone(), p, &pdir, config, seg_bytes, state, clean).map(Arc::new)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Topic {
        meta,
        partitions,
        round_robin: AtomicU32::new(0),
    })
}

fn cleaner_loop(weak: Weak<Inner>, stop: Arc<CleanerStop>, every: Duration) {
    loop {
        {
            let mut s = stop.stop.lock();
            if *s {
                return;
            }
            stop.cv.wait_for(&mut s, every);
            if *s {
                return;
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        let topics: Vec<Arc<Topic>> = inner.topics.read().values().cloned().collect();
        for t in topics {
            if let Err(e) = crate::cleaner::enforce_retention(&inner, &t) {
                tracing::warn!(topic = %t.meta.name, error = %e, "retention failed");
            }
            if t.meta.cleanup_policy().compacts()
                && let Err(e) = crate::cleaner::compact_topic(&inner, &t)
            {
                tracing::warn!(topic = %t.meta.name, error = %e, "compaction failed");
            }
        }
    }
}

impl Inner {
    /// A topic, or `UnknownTopic`.
    pub fn topic(&self, name: &str) -> Result<Arc<Topic>> {
        self.topics
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| LogError::UnknownTopic(name.to_owned()))
    }

    /// A topic, created with the default partitions if auto-creation is on.
    pub fn topic_for_produce(&self, name: &str) -> Result<Arc<Topic>> {
        match self.topic(name) {
            Err(LogError::UnknownTopic(_)) if self.shared.config.auto_create_topics => {
                self.create_topic(&TopicSpec::new(name, self.shared.config.default_partitions))?;
                self.topic(name)
            }
            other => other,
        }
    }

    /// Partition count of a topic, for group assignment.
    pub fn partitions_of(&self, topic: &str) -> Option<i32> {
        self.topics.read().get(topic).map(|t| t.meta.partitions)
    }

    pub fn create_topic(&self, spec: &TopicSpec) -> Result<bool> {
        let meta = TopicMeta::from_spec(spec)?;
        let _g = self.admin.lock();
        if self.topics.read().contains_key(&spec.name) {
            return Ok(false);
        }
        let tdir = self.dir.join("topics").join(&spec.name);
        if tdir.exists() {
            std::fs::remove_dir_all(&tdir).map_err(|e| LogError::io(&tdir, e))?;
        }
        std::fs::create_dir_all(&tdir).map_err(|e| LogError::io(&tdir, e))?;
        let state = crate::journal::JournalState::default();
        let topic = load_topic(&tdir, meta.clone(), &self.shared.config, &state, false)?;
        // topic.json last: its presence is what makes the topic exist after a crash.
        let json = serde_json::to_vec_pretty(&meta).unwrap_or_default();
        crate::fsutil::write_atomic(&tdir.join("topic.json"), &json)?;
        crate::fsutil::sync_dir(&self.dir.join("topics"))?;
        self.topics
            .write()
            .insert(spec.name.clone(), Arc::new(topic));
        self.groups
            .topic_changed(&spec.name, &|t| self.partitions_of(t));
        Ok(true)
    }

    fn delete_topic(&self, name: &str) -> Result<()> {
        let _g = self.admin.lock();
        let topic = self
            .topics
            .write()
            .remove(name)
            .ok_or_else(|| LogError::UnknownTopic(name.into()))?;
        for p in &topic.partitions {
            p.deleted.store(true, Ordering::Release);
            p.durable
                .send_modify(|d| d.error = Some(format!("topic `{name}` was deleted").into()));
        }
        let trash = self.dir.join("trash");
        std::fs::create_dir_all(&trash).map_err(|e| LogError::io(&trash, e))?;
        let n = self.trash_seq.fetch_add(1, Ordering::Relaxed);
        let to = trash.join(format!("{name}-{n}"));
        let from = self.dir.join("topics").join(name);
        std::fs::rename(&from, &to).map_err(|e| LogError::io(&from, e))?;
        crate::fsutil::sync_dir(&self.dir.join("topics"))?;
        std::fs::remove_dir_all(&to).map_err(|e| LogError::io(&to, e))?;
        self.groups.topic_changed(name, &|t| self.partitions_of(t));
        Ok(())
    }
}

#[async_trait]
impl Log for EmbeddedLog {
    fn runtime(&self) -> &'static str {
        "embedded"
    }

    async fn create_topic(&self, spec: &TopicSpec) -> Result<bool> {
        self.inner.create_topic(spec)
    }

    async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        Ok(self
            .inner
            .topics
            .read()
            .values()
            .filter(|t| !t.meta.name.starts_with("__"))
            .map(|t| t.info())
            .collect())
    }

    async fn describe_topic(&self, topic: &str) -> Result<TopicInfo> {
        validate_name(topic)?;
        Ok(self.inner.topic(topic)?.info())
    }

    async fn delete_topic(&self, topic: &str) -> Result<()> {
        self.inner.delete_topic(topic)
    }

    async fn watermarks(&self, tp: &TopicPartition) -> Result<(i64, i64)> {
        Ok(self
            .inner
            .topic(&tp.topic)?
            .partition(tp.partition)?
            .watermarks())
    }

    fn producer(&self, _config: &ProducerConfig) -> Result<Arc<dyn Producer>> {
        self.inner.shared.check()?;
        Ok(Arc::new(EmbeddedProducer::new(self.inner.clone())))
    }

    fn consumer(&self, config: &ConsumerConfig) -> Result<Box<dyn Consumer>> {
        Ok(Box::new(EmbeddedConsumer::new(
            self.inner.clone(),
            config.clone(),
        )))
    }

    async fn tx_producer(
        &self,
        transactional_id: &str,
        _config: &ProducerConfig,
    ) -> Result<Box<dyn TxProducer>> {
        if transactional_id.is_empty() {
            return Err(LogError::InvalidArgument("empty transactional id".into()));
        }
        self.inner.shared.check()?;
        Ok(Box::new(
            EmbeddedTxProducer::init(self.inner.clone(), transactional_id).await?,
        ))
    }
}
