//! Opens the runtime the configuration selects: the log, and the schema registry beside it.
//!
//! Writing commands open an embedded data directory with [`open_log`], which takes the
//! directory's lock: one writing process at a time. Reading commands (`topic list`,
//! `topic dump`, `serve`) use [`open_log_for_reading`]: when another process holds the
//! directory (a running `aisle demo`, a replay, ...) they open it read-only beside that
//! writer ([`aisle_log_embedded::ReadOnlyLog`]), and [`registry_for_reading`] reads its `_schemas` as it grows.

use crate::config::{Config, Runtime};
use crate::exit;
use aisle_log::{Log, LogError};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_log_kafka::{KafkaConfig, KafkaLog};
use aisle_registry::{
    HttpRegistry, LocalRegistry, RegisteredSchema, RegistryError, SchemaRegistry, SchemaStore,
    StoreConfig, SubjectVersion,
};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open runtime.
pub struct Opened {
    /// The log every component uses.
    pub log: Arc<dyn Log>,
    /// The data directory, if the embedded log was opened read-only beside another process.
    pub read_only: Option<PathBuf>,
}

/// The commands that can read an embedded data directory another process holds.
const READERS: &str = "`aisle topic list`, `aisle topic dump [--follow]`, `aisle log verify` and \
                       `aisle serve`";

/// Opens the log for a command that writes. An embedded data directory another process holds
/// is refused, naming the directory and the commands that can read it meanwhile.
pub async fn open_log(config: &Config) -> anyhow::Result<Opened> {
    match runtime(config)? {
        Runtime::Embedded {
            data_dir,
            config: cfg,
        } => Ok(Opened {
            log: Arc::new(open_embedded(&data_dir, cfg)?),
            read_only: None,
        }),
        Runtime::Kafka {
            bootstrap,
            replication,
            properties,
        } => connect_kafka(bootstrap, replication, properties).await,
    }
}

/// How long a reading command reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Reads what is there and exits (`topic list`, `topic dump`).
    Once,
    /// Keeps reading as the log grows (`topic dump --follow`, `serve`).
    Follow,
}

/// Opens the log for a command that only reads. Embedded: a directory that holds a log is
/// opened read-only ([`aisle_log_embedded::ReadOnlyLog`]), whether or not another process
/// writes it, so a reader never holds the lock a writer starting meanwhile needs. Without a
/// log, [`Reading::Once`] opens (creates) it as usual, unless another process holds it (then
/// read-only beside that writer, logged at info), and [`Reading::Follow`] creates an empty one
/// and follows it read-only, so a pipeline can start after it. Kafka: as [`open_log`].
pub async fn open_log_for_reading(config: &Config, reading: Reading) -> anyhow::Result<Opened> {
    let (data_dir, cfg) = match runtime(config)? {
        Runtime::Embedded {
            data_dir,
            config: cfg,
        } => (data_dir, cfg),
        Runtime::Kafka {
            bootstrap,
            replication,
            properties,
        } => return connect_kafka(bootstrap, replication, properties).await,
    };
    if reading == Reading::Follow {
        // An empty log (what a writer's open creates first), so that one can start later.
        let topics = data_dir.join("topics");
        std::fs::create_dir_all(&topics)
            .with_context(|| format!("creating the embedded log in {}", data_dir.display()))?;
        tracing::debug!(dir = %data_dir.display(), "following: embedded log opened read-only");
        return open_read_only(&data_dir);
    }
    if data_dir.join("topics").is_dir() {
        // A log exists: read it without its lock, so a writer starting meanwhile is not refused
        // and nothing is recovered on its behalf (a reader sees what recovery would keep).
        tracing::info!(
            dir = %data_dir.display(),
            "embedded log opened read-only (no lock: another process may be writing it)"
        );
        return open_read_only(&data_dir);
    }
    match EmbeddedLog::open(&data_dir, cfg) {
        Ok(log) => {
            tracing::debug!(dir = %data_dir.display(), "embedded runtime");
            Ok(Opened {
                log: Arc::new(log),
                read_only: None,
            })
        }
        Err(LogError::Locked(_)) => {
            tracing::info!(
                dir = %data_dir.display(),
                "the data directory is held by another process: opened read-only beside it"
            );
            open_read_only(&data_dir)
        }
        Err(e) => Err(anyhow::Error::from(e).context(format!(
            "opening the embedded log in {}",
            data_dir.display()
        ))),
    }
}

fn runtime(config: &Config) -> anyhow::Result<Runtime> {
    config
        .runtime()
        .map_err(|e| exit::fail(exit::CONFIG, format!("{e:#}")))
}

fn open_embedded(dir: &Path, cfg: EmbeddedConfig) -> anyhow::Result<EmbeddedLog> {
    match EmbeddedLog::open(dir, cfg) {
        Ok(log) => {
            tracing::debug!(dir = %dir.display(), "embedded runtime");
            Ok(log)
        }
        Err(LogError::Locked(_)) => Err(exit::fail(
            exit::UNAVAILABLE,
            format!(
                "data directory {} is in use by another process (its lock is held, e.g. by a \
                 running `aisle demo`), and this command writes to it: stop that process first, \
                 or write through it. Commands that only read work beside it: {READERS}",
                dir.display()
            ),
        )),
        Err(e) => Err(anyhow::Error::from(e)
            .context(format!("opening the embedded log in {}", dir.display()))),
    }
}

fn open_read_only(dir: &Path) -> anyhow::Result<Opened> {
    let log = EmbeddedLog::open_read_only(dir)
        .with_context(|| format!("opening the embedded log in {} read-only", dir.display()))?;
    Ok(Opened {
        log: Arc::new(log),
        read_only: Some(dir.to_owned()),
    })
}

async fn connect_kafka(
    bootstrap: String,
    replication: i16,
    properties: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<Opened> {
    let mut kc = KafkaConfig::new(bootstrap.clone());
    kc.replication = replication;
    kc.properties = properties;
    let log = KafkaLog::connect(kc)
        .await
        .with_context(|| format!("connecting to Kafka at {bootstrap}"))?;
    tracing::debug!(%bootstrap, "kafka runtime");
    Ok(Opened {
        log: Arc::new(log),
        read_only: None,
    })
}

/// The schema registry: the configured URL, or Aisle's own store in the log's `_schemas`.
pub async fn registry(
    config: &Config,
    log: &Arc<dyn Log>,
) -> anyhow::Result<Arc<dyn SchemaRegistry>> {
    Ok(match &config.registry.url {
        Some(url) => Arc::new(HttpRegistry::new(url).with_context(|| format!("registry {url}"))?),
        None => Arc::new(LocalRegistry::new(local_store(log).await?)),
    })
}

/// The schema registry for a log from [`open_log_for_reading`]: as [`registry`], except over
/// a read-only embedded log, where `_schemas` is the writer's: it is read again whenever an id
/// or subject is not known yet (the writer registers while the reader runs), and may not even
/// exist yet (then every id is unknown until it does). Registering is refused.
pub async fn registry_for_reading(
    config: &Config,
    opened: &Opened,
) -> anyhow::Result<Arc<dyn SchemaRegistry>> {
    match (&config.registry.url, &opened.read_only) {
        (None, Some(dir)) => {
            let reg = FollowingRegistry {
                log: opened.log.clone(),
                dir: dir.clone(),
                local: tokio::sync::OnceCell::new(),
            };
            let found = reg
                .local()
                .await
                .with_context(|| format!("loading schemas from `_schemas` in {}", dir.display()))?
                .is_some();
            tracing::debug!(
                dir = %dir.display(),
                found,
                "read-only schema registry: `_schemas` is read again for ids it does not know"
            );
            Ok(Arc::new(reg))
        }
        _ => registry(config, &opened.log).await,
    }
}

/// Aisle's registry store over the log's `_schemas` topic (what `registry serve` serves).
pub async fn local_store(log: &Arc<dyn Log>) -> anyhow::Result<Arc<SchemaStore>> {
    SchemaStore::open(log.clone())
        .await
        .context("loading schemas from the `_schemas` topic")
}

/// The registry over `_schemas` of a data directory another process writes.
struct FollowingRegistry {
    log: Arc<dyn Log>,
    dir: PathBuf,
    /// Opened once `_schemas` exists.
    local: tokio::sync::OnceCell<LocalRegistry>,
}

impl FollowingRegistry {
    /// The store, once the writer has created `_schemas`.
    async fn local(&self) -> aisle_registry::Result<Option<&LocalRegistry>> {
        if let Some(l) = self.local.get() {
            return Ok(Some(l));
        }
        match self.log.describe_topic(&StoreConfig::default().topic).await {
            Ok(_) => {}
            Err(LogError::UnknownTopic(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let local = self
            .local
            .get_or_try_init(|| async {
                Ok::<_, RegistryError>(LocalRegistry::new(
                    SchemaStore::open(self.log.clone()).await?,
                ))
            })
            .await?;
        Ok(Some(local))
    }
}

#[async_trait::async_trait]
impl SchemaRegistry for FollowingRegistry {
    async fn register(&self, subject: &str, _schema: &str) -> aisle_registry::Result<u32> {
        Err(RegistryError::Log(LogError::ReadOnly(format!(
            "cannot register a schema under `{subject}`: the embedded log in {} is open \
             read-only beside the process that writes it; register through that process",
            self.dir.display()
        ))))
    }

    async fn schema_by_id(&self, id: u32) -> aisle_registry::Result<Arc<RegisteredSchema>> {
        let Some(local) = self.local().await? else {
            return Err(RegistryError::UnknownSchemaId(id));
        };
        match local.schema_by_id(id).await {
            // Registered by the writer since `_schemas` was last read.
            Err(RegistryError::UnknownSchemaId(_)) => {
                local.store().refresh().await?;
                local.schema_by_id(id).await
            }
            r => r,
        }
    }

    async fn latest(&self, subject: &str) -> aisle_registry::Result<SubjectVersion> {
        let Some(local) = self.local().await? else {
            return Err(RegistryError::UnknownSubject(subject.to_owned()));
        };
        // The latest version moves: read the topic up to date first.
        local.store().refresh().await?;
        local.latest(subject).await
    }
}
