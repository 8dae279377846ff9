//! The schema store: registry state kept in the `_schemas` topic of any [`Log`].
//!
//! # How state is kept
//! * At [`SchemaStore::open`] the topic is created if missing (1 partition, compacted) and read
//!   from the beginning; every record is folded into an in-memory [`State`].
//! * A write (register, config, delete) takes the writer lock, reads whatever the topic gained
//!   since (so ids and versions are allocated against the latest state), produces one record
//!   per change to partition 0, waits until the log says it is durable, and only then applies
//!   it to the in-memory state. A write the log rejects leaves the state untouched.
//! * Applying a record is idempotent, so reading our own records back later changes nothing.
//!
//! # Concurrency
//! One server process is *the* writer of a `_schemas` topic, as with a single Confluent
//! leader: inside it, writes are serialised by the writer lock. Two processes writing the same
//! topic at the same instant could allocate the same id; run one `aisle registry serve` per
//! cluster and point everything else at it over HTTP. Reads are served from memory and never
//! wait for a write's I/O.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use aisle_log::{
    CleanupPolicy, Consumer, ConsumerConfig, Log, LogError, Offset, ProduceRecord, Producer,
    ProducerConfig, TopicPartition, TopicSpec,
};
use tokio::sync::Mutex;

use crate::compat::Compatibility;
use crate::error::{RegistryError, Result};
use crate::records::{self, ConfigKey, ConfigValue, SchemaKey, SchemaValue};
use crate::schema::{self, RegisteredSchema, SubjectVersion};
use crate::state::{Plan, State, VersionSel};

/// Where the store keeps its records and how long it waits for the log.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Topic name; Confluent's default `_schemas`.
    pub topic: String,
    /// Replication factor when the store creates the topic (Kafka only).
    pub replication: i16,
    /// How long catching up with the topic may take before giving up.
    pub read_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            topic: "_schemas".into(),
            replication: 1,
            read_timeout: Duration::from_secs(30),
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

/// The consumer reading `_schemas`, and how far it has read.
struct Reader {
    consumer: Box<dyn Consumer>,
    next: i64,
}

/// Registry state backed by the `_schemas` topic. Share it as `Arc<SchemaStore>`.
pub struct SchemaStore {
    log: Arc<dyn Log>,
    config: StoreConfig,
    tp: TopicPartition,
    producer: Arc<dyn Producer>,
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
        let producer = log.producer(&ProducerConfig {
            client_id: "aisle-registry".into(),
            linger: Duration::ZERO,
            ..Default::default()
        })?;
        let mut consumer = log.consumer(&ConsumerConfig {
            client_id: "aisle-registry".into(),
            ..Default::default()
        })?;
        consumer.assign(&[(tp.clone(), Offset::Beginning)])?;
        let store = Arc::new(SchemaStore {
            log,
            config,
            tp,
            producer,
            state: RwLock::new(State::default()),
            reader: Mutex::new(Reader { consumer, next: 0 }),
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
        self.catch_up(&mut reader).await
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

    /// Produces one record, waits for durability, then applies it. Caller holds the reader lock.
    async fn write(&self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        let mut rec = ProduceRecord::new(self.config.topic.clone())
            .partition(0)
            .key(key.clone());
        if let Some(v) = &value {
            rec = rec.value(v.clone());
        }
        let delivery = self.producer.send(rec).await?;
        delivery.await?;
        let entry = records::decode(Some(&key), value.as_deref()).map_err(|reason| {
            RegistryError::BadRecord {
                location: self.tp.to_string(),
                reason,
            }
        })?;
        self.write_state()
            .apply(entry)
            .map_err(|reason| RegistryError::BadRecord {
                location: self.tp.to_string(),
                reason,
            })
    }

    async fn write_schema(&self, value: &SchemaValue) -> Result<()> {
        let key = records::to_bytes(&SchemaKey::new(&value.subject, value.version));
        self.write(key, Some(records::to_bytes(value))).await
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
        let mut reader = self.reader.lock().await;
        self.catch_up(&mut reader).await?;
        let plan = self
            .read_state()
            .plan_register(subject, schema_json, &parsed)?;
        match plan {
            Plan::Existing { id, version } => Ok(Registered {
                id,
                version,
                created: false,
            }),
            Plan::New(value) => {
                self.write_schema(&value).await?;
                Ok(Registered {
                    id: value.id,
                    version: value.version,
                    created: true,
                })
            }
        }
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
        let _reader = self.reader.lock().await;
        let value = ConfigValue {
            compatibility_level: Some(level.as_str().to_owned()),
        };
        self.write(
            records::to_bytes(&ConfigKey::new(subject)),
            Some(records::to_bytes(&value)),
        )
        .await
    }

    /// Removes a subject's own level, returning it; the global level applies again.
    pub async fn delete_subject_compatibility(&self, subject: &str) -> Result<Compatibility> {
        let _reader = self.reader.lock().await;
        let old = self
            .subject_compatibility(subject)
            .ok_or_else(|| RegistryError::SubjectConfigNotFound(subject.to_owned()))?;
        self.write(records::to_bytes(&ConfigKey::new(Some(subject))), None)
            .await?;
        Ok(old)
    }

    /// Deletes every version of `subject`: soft (still resolvable by id) or, after a soft
    /// delete, permanently (tombstones; compaction then forgets them). Returns the versions.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<u32>> {
        let mut reader = self.reader.lock().await;
        self.catch_up(&mut reader).await?;
        let all = self.read_state().all_versions(subject);
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
            for (v, _) in &all {
                self.write(records::to_bytes(&SchemaKey::new(subject, *v)), None)
                    .await?;
            }
            return Ok(all.into_iter().map(|(v, _)| v).collect());
        }
        let live: Vec<u32> = all.iter().filter(|(_, d)| !d).map(|(v, _)| *v).collect();
        if live.is_empty() {
            return Err(RegistryError::UnknownSubject(subject.to_owned()));
        }
        for v in &live {
            self.soft_delete(subject, *v).await?;
        }
        Ok(live)
    }

    async fn soft_delete(&self, subject: &str, version: u32) -> Result<()> {
        let sv = self.version(subject, VersionSel::Number(version))?;
        let value = SchemaValue {
            subject: subject.to_owned(),
            version,
            id: sv.schema.id,
            schema: sv.schema.schema_json.clone(),
            deleted: true,
            schema_type: None,
        };
        self.write_schema(&value).await
    }

    /// Deletes one version, soft or (after a soft delete) permanent. Returns its number.
    pub async fn delete_version(
        &self,
        subject: &str,
        sel: VersionSel,
        permanent: bool,
    ) -> Result<u32> {
        let mut reader = self.reader.lock().await;
        self.catch_up(&mut reader).await?;
        if !permanent {
            let version = self.version(subject, sel)?.version;
            self.soft_delete(subject, version).await?;
            return Ok(version);
        }
        let all = self.read_state().all_versions(subject);
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
        self.write(records::to_bytes(&SchemaKey::new(subject, version)), None)
            .await?;
        Ok(version)
    }
}
