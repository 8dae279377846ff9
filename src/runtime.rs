//! Opens the runtime the configuration selects: the log, and the schema registry beside it.

use crate::config::{Config, Runtime};
use crate::exit;
use aisle_log::Log;
use aisle_log_embedded::EmbeddedLog;
use aisle_log_kafka::{KafkaConfig, KafkaLog};
use aisle_registry::{HttpRegistry, LocalRegistry, SchemaRegistry, SchemaStore};
use anyhow::Context;
use std::sync::Arc;

/// An open runtime.
pub struct Opened {
    /// The log every component uses.
    pub log: Arc<dyn Log>,
}

/// Opens the log only.
pub async fn open_log(config: &Config) -> anyhow::Result<Opened> {
    let runtime = config
        .runtime()
        .map_err(|e| exit::fail(exit::CONFIG, format!("{e:#}")))?;
    match &runtime {
        Runtime::Embedded {
            data_dir,
            config: cfg,
        } => {
            let log = EmbeddedLog::open(data_dir, cfg.clone())
                .with_context(|| format!("opening the embedded log in {}", data_dir.display()))?;
            tracing::debug!(dir = %data_dir.display(), "embedded runtime");
            Ok(Opened { log: Arc::new(log) })
        }
        Runtime::Kafka {
            bootstrap,
            replication,
            properties,
        } => {
            let mut kc = KafkaConfig::new(bootstrap.clone());
            kc.replication = *replication;
            kc.properties = properties.clone();
            let log = KafkaLog::connect(kc)
                .await
                .with_context(|| format!("connecting to Kafka at {bootstrap}"))?;
            tracing::debug!(%bootstrap, "kafka runtime");
            Ok(Opened { log: Arc::new(log) })
        }
    }
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

/// Aisle's registry store over the log's `_schemas` topic (what `registry serve` serves).
pub async fn local_store(log: &Arc<dyn Log>) -> anyhow::Result<Arc<SchemaStore>> {
    SchemaStore::open(log.clone())
        .await
        .context("loading schemas from the `_schemas` topic")
}
