//! The schema store: registry state kept in the `_schemas` topic of any [`Log`].
//!
//! # How state is kept
//! * At [`SchemaStore::open`] the topic is created if missing (1 partition, compacted) and read
//!   from the beginning; every record is folded into an in-memory [`State`].
//! * A write (register, config, delete) takes the writer lock, claims the topic's single
//!   writer, reads whatever the topic gained since (so ids and versions are allocated
//!   against the latest state), produces its records to partition 0, waits until the log says
//!   they are durable (committed), and only then applies them to the in-memory state. A write
//!   the log rejects leaves the state untouched.
//! * Applying a record is idempotent, so reading our own records back later changes nothing.
//!
//! # Concurrency: one id authority per `_schemas`
//! Inside one store, writes are serialised by the writer lock. Between stores, every store
//! writes through a transactional producer with the same `transactional.id`
//! ([`transactional_id`]: `aisle-schema-registry` for `_schemas`). A write that claims it fences
//! every other store's producer; a fenced write re-reads the topic and plans again. On Kafka any
//! number of `aisle` processes (with or without `--registry`, and any number of `aisle
//! registry serve`) can so register at once and never give one id to two schemas; on the
//! embedded runtime so can several stores one process opens over its log. The argument is in
//! `writer.rs`.
//!
//! Reads are served from memory and never wait for a write's I/O.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tokio::time::Instant;

use aisle_log::{
    CleanupPolicy, Consumer, ConsumerConfig, Log, LogError, Offset, TopicPartition, TopicSpec,
};
use tokio::sync::Mutex;

use crate::compat::Compatibility;
use crate::error::{RegistryError, Result};
use crate::records::{self, ConfigKey, ConfigValue, SchemaKey, SchemaValue};
use crate::schema::{self, RegisteredSchema, SubjectVersion};
use crate::state::{Plan, State, VersionSel};
pub use crate::writer::transactional_id;
use crate::writer::{self, Change, Writer};

/// How often a write fenced (or aborted) by another process's write is planned again.
const FENCED_RETRIES: u32 = 50;

/// Where the store keeps its records and how long it waits for the log.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Topic name; Confluent's default `_schemas`.
    pub topic: String,
    /// Replication factor when the store creates the topic (Kafka only).
    pub replication: i16,
    /// How long catching up with the topic may take before giving up.
    pub read_timeout: Duration,
    /// The `transactional.id` every writer of the topic shares; `None` (the default) means
    /// [`transactional_id`]`(topic)`.
    pub transactional_id: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            topic: "_schemas".into(),
            replication: 1,
            read_timeout: Duration::from_secs(30),
            transactional_id: None,
        }
    }
}

/// What a registration did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registered {
    /// Global schema id.
    pub id: u32,
    /// Version under the subject.
    pub version: u32,
    /// False when the schema already was a live version of the subject.
    pub created: bool,
}

/// The consumer reading `_schemas`, how far it has read, and the writer.
struct Reader {
    consumer: Box<dyn Consumer>,
    next: i64,
    writer: Writer,
}

/// Registry state backed by the `_schemas` topic. Share it as `Arc<SchemaStore>`.
pub struct SchemaStore {
    log: Arc<dyn Log>,
    config: StoreConfig,
    tp: TopicPartition,
    state: RwLock<State>,
    /// Held for every read of the topic and every write: this is what serialises writers.
    reader: Mutex<Reader>,
}

impl std::fmt::Debug for SchemaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaStore")
            .field("topic", &self.config.topic)
            .finish()
    }
}

impl SchemaStore {
    /// Opens the store on `_schemas`, creating the topic if needed and reading it fully.
    pub async fn open(log: Arc<dyn Log>) -> Result<Arc<Self>> {
        Self::open_with(log, StoreConfig::default()).await
    }

    /// [`SchemaStore::open`] with a chosen topic and timeouts.
    pub async fn open_with(log: Arc<dyn Log>, config: StoreConfig) -> Result<Arc<Self>> {
        let spec = TopicSpec::new(config.topic.clone(), 1)
            .cleanup(CleanupPolicy::Compact)
            .replication(config.replication);
        log.create_topic(&spec).await?;
        let tp = TopicPartition::new(config.topic.clone(), 0);
        let writer = Writer::new(
            config
                .transactional_id
                .clone()
                .unwrap_or_else(|| transactional_id(&config.topic)),
        );
        let mut consumer = log.consumer(&ConsumerConfig {
            client_id: "aisle-registry".into(),
            ..Default::default()
        })?;
        consumer.assign(&[(tp.clone(), Offset::Beginning)])?;
        let store = Arc::new(SchemaStore {
            log,
            config,
            tp,
            state: RwLock::new(State::default()),
            reader: Mutex::new(Reader {
                consumer,
                next: 0,
                writer,
            }),
        });
        store.refresh().await?;
        Ok(store)
    }

    /// The topic this store reads and writes.
    pub fn topic(&self) -> &str {
        &self.config.topic
    }

    /// Reads records the topic gained since the last read (written by another process, say).
    pub async fn refresh(&self) -> Result<()> {
        let mut reader = self.reader.lock().await;
        self.read_fresh(&mut reader).await
    }

    /// [`SchemaStore::schema_by_id`], reading the topic again first when the id is not known
    /// yet: another store (another process on Kafka, or another store over the same embedded
    /// log) may have registered it since this one last read. What a reader of records needs.
    pub async fn fetch_schema(&self, id: u32) -> Result<Arc<RegisteredSchema>> {
        match self.schema_by_id(id) {
            Err(RegistryError::UnknownSchemaId(_)) => {
                self.refresh().await?;
                self.schema_by_id(id)
            }
            known => known,
        }
    }

    /// [`SchemaStore::version`], reading the topic again first when the subject or version is
    /// not known yet (see [`SchemaStore::fetch_schema`]); `Latest` always reads again, since
    /// another store may have added a version.
    pub async fn fetch_version(&self, subject: &str, sel: VersionSel) -> Result<SubjectVersion> {
        let first = self.version(subject, sel);
        let unknown = matches!(
            first,
            Err(RegistryError::UnknownSubject(_) | RegistryError::UnknownVersion { .. })
        );
        if unknown || matches!(sel, VersionSel::Latest) {
            self.refresh().await?;
            return self.version(subject, sel);
        }
        first
    }

    async fn catch_up(&self, reader: &mut Reader) -> Result<()> {
        let (_, high) = self.log.watermarks(&self.tp).await?;
        let deadline = Instant::now() + self.config.read_timeout;
        loop {
            let pos = reader
                .consumer
                .position(&self.tp)
                .unwrap_or(0)
                .max(reader.next);
            if pos >= high {
                return Ok(());
            }
            let batch = reader.consumer.poll(Duration::from_millis(100)).await?;
            if batch.is_empty() && reader.consumer.is_caught_up() {
                // Kafka: transaction markers or compacted gaps can sit between us and `high`.
                return Ok(());
            }
            let mut state = self.write_state();
            for rec in batch {
                reader.next = reader.next.max(rec.offset + 1);
                let entry = records::decode(rec.key.as_deref(), rec.value.as_deref())
                    .and_then(|e| state.apply(e));
                if let Err(reason) = entry {
                    // One bad record must not take the registry down; it is skipped and named.
                    tracing::warn!(
                        "skipping _schemas record {}/{}@{}: {reason}",
                        rec.topic,
                        rec.partition,
                        rec.offset
                    );
                }
            }
            drop(state);
            if Instant::now() > deadline {
                return Err(RegistryError::Log(LogError::Timeout(format!(
                    "reading {} up to offset {high} (at {pos})",
                    self.tp
                ))));
            }
        }
    }

    /// Runs one write: reads the topic to its end and asks `plan` for the changes against that
    /// state; none: done, nothing is claimed or written. Otherwise claims the writer, reads to
    /// the end again, plans again, writes the changes and applies them. A write fenced by
    /// another process's is planned again against the state it left.
    async fn transact<T>(
        &self,
        mut plan: impl FnMut(&State) -> Result<(Vec<Change>, T)>,
    ) -> Result<T> {
        let mut guard = self.reader.lock().await;
        let reader = &mut *guard;
        // Most calls change nothing (a component registering the schema it always had): they
        // are answered from the topic read to its end, without claiming the writer, which
        // needs the transaction coordinator (not there while its broker fails over) and
        // fences the other processes holding the id.
        self.read_fresh(reader).await?;
        let (changes, out) = plan(&self.read_state())?;
        if changes.is_empty() {
            return Ok(out);
        }
        let mut attempt = 0;
        loop {
            reader.writer.claim(&*self.log).await?;
            self.read_fresh(reader).await?;
            let (changes, out) = plan(&self.read_state())?;
            if changes.is_empty() {
                return Ok(out);
            }
            match reader.writer.write(&self.config.topic, &changes).await {
                Ok(()) => {
                    self.apply_own(&changes)?;
                    return Ok(out);
                }
                // Fenced, or a transaction the broker aborted because another writer claimed
                // the id meanwhile (Kafka 4 answers the commit with an abortable error then).
                // Either way nothing was committed, or the next read shows what was: plan again.
                Err(RegistryError::Log(LogError::Fenced(why) | LogError::Transaction(why)))
                    if attempt < FENCED_RETRIES =>
                {
                    attempt += 1;
                    tracing::debug!(attempt, "{}: fenced by another writer ({why})", self.tp);
                    reader.writer.release();
                    tokio::time::sleep(writer::backoff(attempt)).await;
                }
                Err(e) => {
                    reader.writer.release();
                    return Err(e);
                }
            }
        }
    }

    /// Reads the topic to its end as it is now.
    async fn read_fresh(&self, reader: &mut Reader) -> Result<()> {
        // A stale end-of-partition flag must not end the read before records another store
        // committed: restart the fetch where we are.
        let at = match reader.next {
            0 => Offset::Beginning,
            n => Offset::At(n),
        };
        reader.consumer.seek(&self.tp, at).await?;
        self.catch_up(reader).await
    }

    /// Applies records this store just wrote (they are durable).
    fn apply_own(&self, changes: &[Change]) -> Result<()> {
        let mut state = self.write_state();
        for (key, value) in changes {
            let bad = |reason| RegistryError::BadRecord {
                location: self.tp.to_string(),
                reason,
            };
            let entry = records::decode(Some(key), value.as_deref()).map_err(bad)?;
            state.apply(entry).map_err(bad)?;
        }
        Ok(())
    }

    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied record (apply validates
        // before mutating), so a poisoned lock is still consistent.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers an Avro schema under `subject` (see [`SchemaStore::register_typed`]).
    pub async fn register(&self, subject: &str, schema_json: &str) -> Result<Registered> {
        self.register_typed(subject, schema_json, None).await
    }

    /// Registers a schema: returns the existing version if the subject already has it,
    /// otherwise checks compatibility and writes a new version (reusing the global id if the
    /// schema is registered under another subject). `schema_type` other than AVRO is rejected.
    pub async fn register_typed(
        &self,
        subject: &str,
        schema_json: &str,
        schema_type: Option<&str>,
    ) -> Result<Registered> {
        schema::check_schema_type(subject, schema_type)?;
        let parsed = schema::parse(Some(subject), schema_json)?;
        self.transact(|state| {
            Ok(match state.plan_register(subject, schema_json, &parsed)? {
                Plan::Existing { id, version } => (
                    Vec::new(),
                    Registered {
                        id,
                        version,
                        created: false,
                    },
                ),
                Plan::New(value) => (
                    vec![schema_change(&value)],
                    Registered {
                        id: value.id,
                        version: value.version,
                        created: true,
                    },
                ),
            })
        })
        .await
    }

    /// The live version of `subject` holding this schema.
    pub fn lookup(&self, subject: &str, schema_json: &str) -> Result<SubjectVersion> {
        let parsed = schema::parse(Some(subject), schema_json)?;
        self.read_state().lookup(subject, &parsed)
    }

    /// Subjects with at least one live version, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.read_state().subjects()
    }

    /// Live versions of `subject`, ascending.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>> {
        self.read_state().versions(subject)
    }

    /// One live version of `subject`.
    pub fn version(&self, subject: &str, sel: VersionSel) -> Result<SubjectVersion> {
        self.read_state().version(subject, sel)
    }

    /// A schema by global id (soft-deleted versions keep their id resolvable).
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<RegisteredSchema>> {
        self.read_state().schema_by_id(id)
    }

    /// Live (subject, version) pairs that use schema `id`.
    pub fn id_versions(&self, id: u32) -> Result<Vec<(String, u32)>> {
        self.read_state().id_versions(id)
    }

    /// Compatibility problems of `schema_json` against one version, or (`None`) against the
    /// live versions the subject's level says to check. Empty means compatible.
    pub fn test_compatibility(
        &self,
        subject: &str,
        schema_json: &str,
        against: Option<VersionSel>,
    ) -> Result<Vec<String>> {
        let parsed = schema::parse(Some(subject), schema_json)?;
        self.read_state().compat_problems(subject, &parsed, against)
    }

    /// The global compatibility level.
    pub fn global_compatibility(&self) -> Compatibility {
        self.read_state().global_compat()
    }

    /// The subject's own level, if one is set.
    pub fn subject_compatibility(&self, subject: &str) -> Option<Compatibility> {
        self.read_state().subject_compat(subject)
    }

    /// The level that applies to `subject` (its own, else the global one).
    pub fn effective_compatibility(&self, subject: &str) -> Compatibility {
        self.read_state().effective_compat(subject)
    }

    /// Sets the global level (`subject: None`) or a subject's.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<()> {
        let value = ConfigValue {
            compatibility_level: Some(level.as_str().to_owned()),
        };
        let change = (
            records::to_bytes(&ConfigKey::new(subject)),
            Some(records::to_bytes(&value)),
        );
        self.transact(|_| Ok((vec![change.clone()], ()))).await
    }

    /// Removes a subject's own level, returning it; the global level applies again.
    pub async fn delete_subject_compatibility(&self, subject: &str) -> Result<Compatibility> {
        let key = records::to_bytes(&ConfigKey::new(Some(subject)));
        self.transact(|state| {
            let old = state
                .subject_compat(subject)
                .ok_or_else(|| RegistryError::SubjectConfigNotFound(subject.to_owned()))?;
            Ok((vec![(key.clone(), None)], old))
        })
        .await
    }

    /// Deletes every version of `subject`: soft (still resolvable by id) or, after a soft
    /// delete, permanently (tombstones; compaction then forgets them). Returns the versions.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<u32>> {
        self.transact(|state| {
            let all = state.all_versions(subject);
            if all.is_empty() {
                return Err(RegistryError::UnknownSubject(subject.to_owned()));
            }
            if permanent {
                if all.iter().any(|(_, deleted)| !deleted) {
                    return Err(RegistryError::NotSoftDeleted {
                        subject: subject.to_owned(),
                        version: None,
                    });
                }
                let versions: Vec<u32> = all.into_iter().map(|(v, _)| v).collect();
                let changes = versions.iter().map(|v| tombstone(subject, *v)).collect();
                return Ok((changes, versions));
            }
            let live: Vec<u32> = all.iter().filter(|(_, d)| !d).map(|(v, _)| *v).collect();
            if live.is_empty() {
                return Err(RegistryError::UnknownSubject(subject.to_owned()));
            }
            let changes = live
                .iter()
                .map(|v| soft_delete(state, subject, *v))
                .collect::<Result<_>>()?;
            Ok((changes, live))
        })
        .await
    }

    /// Deletes one version, soft or (after a soft delete) permanent. Returns its number.
    pub async fn delete_version(
        &self,
        subject: &str,
        sel: VersionSel,
        permanent: bool,
    ) -> Result<u32> {
        self.transact(|state| {
            if !permanent {
                let version = state.version(subject, sel)?.version;
                return Ok((vec![soft_delete(state, subject, version)?], version));
            }
            let all = state.all_versions(subject);
            if all.is_empty() {
                return Err(RegistryError::UnknownSubject(subject.to_owned()));
            }
            let found = match sel {
                VersionSel::Latest => all.last().copied(),
                VersionSel::Number(n) => all.iter().find(|(v, _)| *v == n).copied(),
            };
            let (version, deleted) = found.ok_or_else(|| RegistryError::UnknownVersion {
                subject: subject.to_owned(),
                version: match sel {
                    VersionSel::Number(n) => n,
                    VersionSel::Latest => 0,
                },
            })?;
            if !deleted {
                return Err(RegistryError::NotSoftDeleted {
                    subject: subject.to_owned(),
                    version: Some(version),
                });
            }
            Ok((vec![tombstone(subject, version)], version))
        })
        .await
    }
}

fn schema_change(value: &SchemaValue) -> Change {
    let key = records::to_bytes(&SchemaKey::new(&value.subject, value.version));
    (key, Some(records::to_bytes(value)))
}

fn tombstone(subject: &str, version: u32) -> Change {
    (records::to_bytes(&SchemaKey::new(subject, version)), None)
}

/// The record marking one live version deleted (its id stays resolvable).
fn soft_delete(state: &State, subject: &str, version: u32) -> Result<Change> {
    let sv = state.version(subject, VersionSel::Number(version))?;
    Ok(schema_change(&SchemaValue {
        subject: subject.to_owned(),
        version,
        id: sv.schema.id,
        schema: sv.schema.schema_json.clone(),
        deleted: true,
        schema_type: None,
    }))
}
