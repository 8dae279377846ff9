//! [`KafkaConfig`]: how to reach the cluster, and the librdkafka settings every client shares.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Settings of the Kafka runtime.
///
/// Deserialises from the `[kafka]` table of Aisle's TOML config; unknown fields are an error so a
/// misspelt setting is not silently ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma-separated `host:port` (what `scripts/kafka-up` prints).
    pub bootstrap: String,
    /// Replication factor for topics created with the `TopicSpec` default of 1. `-1` (the
    /// default) leaves it to the cluster's `default.replication.factor`, as `kafka-topics.sh`
    /// does: 1 on a single local broker, 3 on `scripts/kafka-up --brokers 3`, so every topic
    /// Aisle creates there (its `_schemas` too) survives a broker loss. A spec asking for more
    /// wins.
    #[serde(default = "default_replication")]
    pub replication: i16,
    /// librdkafka properties passed verbatim to every client (admin, producers, consumers),
    /// applied after Aisle's own settings so they can override them, e.g.
    /// `security.protocol`, `sasl.mechanisms`, `compression.type`.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// How long `KafkaLog::connect` waits for the first metadata answer.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Limit for admin requests, metadata and watermark look-ups, commits and transaction
    /// control calls (`init`, `commit`, `abort`, `send_offsets`).
    #[serde(default = "default_operation_timeout_ms")]
    pub operation_timeout_ms: u64,
    /// Kafka's `transaction.timeout.ms` for transactional producers: the broker aborts a
    /// transaction left open longer than this (e.g. by a crashed process).
    #[serde(default = "default_transaction_timeout_ms")]
    pub transaction_timeout_ms: u64,
}

/// The cluster's own default (`default.replication.factor`; CreateTopics v4, Kafka ≥ 2.4).
pub const BROKER_DEFAULT_REPLICATION: i16 = -1;

fn default_replication() -> i16 {
    BROKER_DEFAULT_REPLICATION
}

/// Long enough for a broker that is still starting, short enough to fail a typo'd address fast.
fn default_connect_timeout_ms() -> u64 {
    10_000
}

/// librdkafka's own default `socket.timeout.ms` is 60 s; admin calls rarely need half of that.
fn default_operation_timeout_ms() -> u64 {
    30_000
}

/// Kafka's default is 60 s; a shorter one frees partitions sooner after a crash, which
/// matters for `read_committed` readers waiting on the last stable offset.
fn default_transaction_timeout_ms() -> u64 {
    30_000
}

impl KafkaConfig {
    /// A config for `bootstrap` with every other field at its default.
    pub fn new(bootstrap: impl Into<String>) -> Self {
        KafkaConfig {
            bootstrap: bootstrap.into(),
            replication: default_replication(),
            properties: BTreeMap::new(),
            connect_timeout_ms: default_connect_timeout_ms(),
            operation_timeout_ms: default_operation_timeout_ms(),
            transaction_timeout_ms: default_transaction_timeout_ms(),
        }
    }

    /// Adds a verbatim librdkafka property.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Sets the default replication factor for new topics.
    pub fn replication(mut self, replication: i16) -> Self {
        self.replication = replication;
        self
    }

    /// [`KafkaConfig::connect_timeout_ms`] as a `Duration`.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`KafkaConfig::operation_timeout_ms`] as a `Duration`.
    pub fn operation_timeout(&self) -> Duration {
        Duration::from_millis(self.operation_timeout_ms)
    }

    /// Checks what librdkafka would only reject later, with less context.
    pub(crate) fn validate(&self) -> aisle_log::Result<()> {
        let invalid = |m: String| Err(aisle_log::LogError::InvalidArgument(m));
        if self.bootstrap.trim().is_empty() {
            return invalid("kafka bootstrap servers are empty".into());
        }
        if self.replication < 1 && self.replication != BROKER_DEFAULT_REPLICATION {
            return invalid(format!(
                "kafka replication must be >= 1, or -1 for the cluster's default, got {}",
                self.replication
            ));
        }
        if self.connect_timeout_ms == 0 || self.operation_timeout_ms == 0 {
            return invalid("kafka timeouts must be > 0 ms".into());
        }
        if self.transaction_timeout_ms == 0 || self.transaction_timeout_ms > i32::MAX as u64 {
            return invalid(format!(
                "kafka transaction_timeout_ms must be in 1..={}, got {}",
                i32::MAX,
                self.transaction_timeout_ms
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields() {
        let c: KafkaConfig = serde_json::from_str(r#"{"bootstrap":"127.0.0.1:9092"}"#).unwrap();
        assert_eq!(c, KafkaConfig::new("127.0.0.1:9092"));
        assert_eq!(c.replication, BROKER_DEFAULT_REPLICATION);
        assert_eq!(c.operation_timeout(), Duration::from_secs(30));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<KafkaConfig>(r#"{"bootstrap":"b:1","replicaton":3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("replicaton"), "{err}");
    }

    #[test]
    fn properties_are_kept_verbatim() {
        let c: KafkaConfig = serde_json::from_str(
            r#"{"bootstrap":"b:1","replication":3,"properties":{"compression.type":"lz4"}}"#,
        )
        .unwrap();
        assert_eq!(c.replication, 3);
        assert_eq!(
            c.properties.get("compression.type").map(String::as_str),
            Some("lz4")
        );
    }

    #[test]
    fn validation_names_the_bad_value() {
        let e = KafkaConfig::new(" ").validate().unwrap_err().to_string();
        assert!(e.contains("bootstrap"), "{e}");
        let e = KafkaConfig::new("b:1")
            .replication(0)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("replication"), "{e}");
    }
}
