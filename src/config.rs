//! Configuration: defaults < TOML file < `AISLE_SECTION__KEY` env < command-line flags.
//!
//! Parsed into [`Config`] (every field documented, unknown keys rejected), then resolved into
//! a [`Runtime`] choice before anything starts.

use crate::cli::GlobalArgs;
use aisle_log_embedded::EmbeddedConfig;
use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything Aisle can be told.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory of the embedded runtime (log, offsets, SQLite databases).
    pub data_dir: PathBuf,
    /// The embedded runtime's log settings.
    pub embedded: EmbeddedConfig,
    /// Kafka settings; setting `kafka.bootstrap` selects the Kafka runtime.
    pub kafka: KafkaSection,
    /// Schema registry settings.
    pub registry: RegistrySection,
    /// The dashboard, API and metrics server (`aisle serve`).
    pub serve: ServeSection,
    /// The inventory connector (`aisle connect inventory`): database URL, table, capture mode,
    /// column names, poll and delete-scan intervals, topics.
    pub inventory: aisle_inventory::InventoryConfig,
    /// The Green Light Special (`aisle greenlight`): topics, windows (size, advance, grace,
    /// idle timeout), the winning rule, group and instance ids.
    pub greenlight: aisle_greenlight::GreenlightConfig,
    /// Cart cameras (`aisle camera`): model lookup (`models_dir`, `model_file`), the ONNX
    /// Runtime library (`ort_lib`), threshold, ids, label → item mapping, image limits, topics.
    pub camera: aisle_camera::CameraConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: default_data_dir(),
            embedded: EmbeddedConfig::default(),
            kafka: KafkaSection::default(),
            registry: RegistrySection::default(),
            serve: ServeSection::default(),
            inventory: aisle_inventory::InventoryConfig::default(),
            greenlight: aisle_greenlight::GreenlightConfig::default(),
            camera: aisle_camera::CameraConfig::default(),
        }
    }
}

/// `aisle serve`: where it listens and who may look.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSection {
    /// Address to listen on; a non-loopback address requires `token`.
    pub listen: String,
    /// Bearer token required on every route but `/healthz`; unset: no token (loopback only).
    /// Printed as `<redacted>` by `aisle config`.
    #[serde(serialize_with = "redact")]
    pub token: Option<String>,
    /// Consumer groups whose committed-offset lag the health view shows (default: the Green
    /// Light Special processor's `aisle-greenlight`).
    pub groups: Vec<String>,
}

impl Default for ServeSection {
    fn default() -> Self {
        ServeSection {
            listen: default_serve_listen(),
            token: None,
            groups: vec!["aisle-greenlight".into()],
        }
    }
}

/// Loopback, port 8080: only this machine can look unless told otherwise.
fn default_serve_listen() -> String {
    "127.0.0.1:8080".into()
}

/// Keeps secrets out of `aisle config` output.
fn redact<S: serde::Serializer>(token: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match token {
        Some(_) => s.serialize_some("<redacted>"),
        None => s.serialize_none(),
    }
}

/// `./aisle-data`, relative to where Aisle is started.
fn default_data_dir() -> PathBuf {
    PathBuf::from("aisle-data")
}

/// The Kafka runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSection {
    /// Bootstrap servers, `host:port[,host:port...]`. Unset: the embedded runtime runs.
    pub bootstrap: Option<String>,
    /// Replication factor of topics Aisle creates; -1 (the default): the cluster's
    /// `default.replication.factor`.
    pub replication: i16,
    /// librdkafka properties passed verbatim to every client (security, timeouts, ...).
    pub properties: BTreeMap<String, String>,
}

impl KafkaSection {
    /// The replication to put in a `TopicSpec` the binary builds: `kafka.replication` when set,
    /// else the spec's default of 1, which the Kafka log turns into the cluster's default.
    pub fn spec_replication(&self) -> i16 {
        self.replication.max(1)
    }
}

impl Default for KafkaSection {
    fn default() -> Self {
        KafkaSection {
            bootstrap: None,
            replication: -1,
            properties: BTreeMap::new(),
        }
    }
}

/// Where schemas live.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySection {
    /// URL of a Confluent-compatible registry. Unset: schemas are kept in the log's `_schemas`
    /// topic by Aisle itself, in process.
    pub url: Option<String>,
}

/// Which runtime the command runs on.
#[derive(Debug, Clone, PartialEq)]
pub enum Runtime {
    /// Aisle's own log in a directory.
    Embedded {
        data_dir: PathBuf,
        config: EmbeddedConfig,
    },
    /// A Kafka cluster.
    Kafka {
        bootstrap: String,
        replication: i16,
        properties: BTreeMap<String, String>,
    },
}

impl Config {
    /// Loads defaults, the config file, the environment and the flags, in that order.
    pub fn load(global: &GlobalArgs) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &global.config {
            if !path.is_file() {
                bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        // Only nested keys (AISLE_EMBEDDED__FSYNC...) come from the environment here: the
        // top-level AISLE_CONFIG/AISLE_DATA_DIR/AISLE_KAFKA/AISLE_REGISTRY are flags' env vars.
        fig = fig.merge(
            Env::prefixed("AISLE_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let mut config: Config = fig.extract().map_err(|e| {
            let source = global
                .config
                .as_ref()
                .map(|p| format!(" (file {})", p.display()))
                .unwrap_or_default();
            anyhow::anyhow!("invalid configuration{source}: {e}")
        })?;
        if let Some(dir) = &global.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(b) = &global.kafka {
            config.kafka.bootstrap = Some(b.clone());
        }
        if let Some(r) = &global.registry {
            config.registry.url = Some(r.clone());
        }
        Ok(config)
    }

    /// Checks the values and picks the runtime.
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        if self.kafka.replication < 1 && self.kafka.replication != -1 {
            bail!(
                "kafka.replication must be at least 1, or -1 for the cluster's \
                 default.replication.factor, not {}",
                self.kafka.replication
            );
        }
        if let Some(url) = &self.registry.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("registry URL `{url}` must start with http:// or https://");
        }
        Ok(match self.kafka.bootstrap.as_deref().map(str::trim) {
            Some("") => bail!("kafka.bootstrap is empty; give host:port or leave it unset"),
            Some(b) => Runtime::Kafka {
                bootstrap: b.to_string(),
                replication: self.kafka.replication,
                properties: self.kafka.properties.clone(),
            },
            None => Runtime::Embedded {
                data_dir: self.data_dir.clone(),
                config: self.embedded.clone(),
            },
        })
    }

    /// The configuration as TOML, for `aisle config`.
    pub fn to_toml(&self) -> anyhow::Result<String> {
        toml::to_string_pretty(self).context("serialising the configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_kafka_selects_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aisle.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\n[kafka]\nreplication = 3\n",
        )
        .unwrap();
        let global = GlobalArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load(&global).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/file"));
        assert!(matches!(c.runtime().unwrap(), Runtime::Embedded { .. }));

        let global = GlobalArgs {
            config: Some(file),
            data_dir: Some("/from/flag".into()),
            kafka: Some("127.0.0.1:9092".into()),
            ..Default::default()
        };
        let c = Config::load(&global).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        match c.runtime().unwrap() {
            Runtime::Kafka {
                bootstrap,
                replication,
                ..
            } => {
                assert_eq!(bootstrap, "127.0.0.1:9092");
                assert_eq!(replication, 3);
            }
            other => panic!("expected Kafka, got {other:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "data_dri = \"typo\"\n").unwrap();
        let err = Config::load(&GlobalArgs {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("data_dri"), "{err}");

        let missing = GlobalArgs {
            config: Some("/no/such.toml".into()),
            ..Default::default()
        };
        assert!(
            Config::load(&missing)
                .unwrap_err()
                .to_string()
                .contains("/no/such.toml")
        );

        let c = Config {
            registry: RegistrySection {
                url: Some("localhost:8081".into()),
            },
            ..Default::default()
        };
        assert!(c.runtime().unwrap_err().to_string().contains("http://"));
    }

    #[test]
    fn example_configs_parse() {
        for name in ["embedded.toml", "kafka.toml"] {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("config")
                .join(name);
            let global = GlobalArgs {
                config: Some(path.clone()),
                ..Default::default()
            };
            let c = Config::load(&global).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            c.runtime().unwrap();
        }
    }
}
