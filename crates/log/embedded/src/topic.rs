//! Topic metadata (`topics/<name>/topic.json`) and the in-memory topic.

use crate::config::EmbeddedConfig;
use crate::partition::Partition;
use aisle_log::{CleanupPolicy, LogError, Result, TopicInfo, TopicSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

/// What `topic.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicMeta {
    /// Topic name.
    pub name: String,
    /// Partitions.
    pub partitions: i32,
    /// Kafka's `cleanup.policy` spelling.
    pub cleanup: String,
    /// Time retention in ms (`None`: the log's default; -1: forever).
    pub retention_ms: Option<i64>,
    /// Verbatim configs from the spec; `retention.bytes`, `segment.bytes` and
    /// `delete.retention.ms` are honoured.
    pub configs: BTreeMap<String, String>,
}

impl TopicMeta {
    /// From a create request, validating it.
    pub fn from_spec(spec: &TopicSpec) -> Result<TopicMeta> {
        validate_name(&spec.name)?;
        if spec.partitions < 1 || spec.partitions > 10_000 {
            return Err(LogError::InvalidArgument(format!(
                "topic `{}`: partitions {} not in 1..=10000",
                spec.name, spec.partitions
            )));
        }
        let mut cleanup = spec.cleanup;
        if let Some(c) = spec.configs.get("cleanup.policy") {
            cleanup = CleanupPolicy::from_kafka(c).ok_or_else(|| {
                LogError::InvalidArgument(format!(
                    "topic `{}`: bad cleanup.policy `{c}`",
                    spec.name
                ))
            })?;
        }
        let meta = TopicMeta {
            name: spec.name.clone(),
            partitions: spec.partitions,
            cleanup: cleanup.as_kafka().to_owned(),
            retention_ms: spec.retention_ms,
            configs: spec.configs.clone(),
        };
        for key in [
            "retention.bytes",
            "segment.bytes",
            "delete.retention.ms",
            "retention.ms",
            "min.compaction.lag.ms",
        ] {
            if let Some(v) = meta.configs.get(key)
                && v.parse::<i64>().is_err()
            {
                return Err(LogError::InvalidArgument(format!(
                    "topic `{}`: config {key}=`{v}` is not an integer",
                    spec.name
                )));
            }
        }
        Ok(meta)
    }

    /// The cleanup policy.
    pub fn cleanup_policy(&self) -> CleanupPolicy {
        CleanupPolicy::from_kafka(&self.cleanup).unwrap_or_default()
    }

    fn int_config(&self, key: &str) -> Option<i64> {
        self.configs.get(key).and_then(|v| v.parse().ok())
    }

    /// Effective time retention (-1: forever).
    pub fn retention_ms(&self, cfg: &EmbeddedConfig) -> i64 {
        self.retention_ms
            .or_else(|| self.int_config("retention.ms"))
            .unwrap_or(cfg.retention_ms)
    }

    /// How long a record stays uncompacted (`min.compaction.lag.ms`, Kafka's meaning: a segment
    /// whose newest timestamp is younger than this, and every segment after it, is left alone).
    pub fn min_compaction_lag_ms(&self) -> i64 {
        self.int_config("min.compaction.lag.ms").unwrap_or(0).max(0)
    }

    /// Effective size retention per partition (-1: unlimited).
    pub fn retention_bytes(&self, cfg: &EmbeddedConfig) -> i64 {
        self.int_config("retention.bytes")
            .unwrap_or(cfg.retention_bytes)
    }

    /// Effective segment size.
    pub fn segment_bytes(&self, cfg: &EmbeddedConfig) -> u64 {
        self.int_config("segment.bytes")
            .filter(|v| *v >= 1024)
            .map(|v| v as u64)
            .unwrap_or(cfg.segment_bytes)
            .min(cfg.segment_bytes.max(2 << 30))
    }

    /// Effective tombstone retention.
    pub fn delete_retention_ms(&self, cfg: &EmbeddedConfig) -> i64 {
        self.int_config("delete.retention.ms")
            .unwrap_or(cfg.delete_retention_ms)
    }
}

/// Kafka's rule: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`. It also keeps names
/// safe as directory names.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(LogError::InvalidArgument(format!(
            "topic name `{name}` must be 1..=249 characters of [a-zA-Z0-9._-]"
        )))
    }
}

/// A topic in memory.
#[derive(Debug)]
pub struct Topic {
    /// Its metadata.
    pub meta: TopicMeta,
    /// Its partitions, by index.
    pub partitions: Vec<Arc<Partition>>,
    /// Round-robin counter for records with neither key nor partition.
    pub round_robin: AtomicU32,
}

impl Topic {
    /// What `describe_topic` reports.
    pub fn info(&self) -> TopicInfo {
        TopicInfo {
            name: self.meta.name.clone(),
            partitions: self.meta.partitions,
            cleanup: self.meta.cleanup_policy(),
        }
    }

    /// Partition `p`, or `UnknownPartition`.
    pub fn partition(&self, p: i32) -> Result<&Arc<Partition>> {
        usize::try_from(p)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .ok_or_else(|| LogError::UnknownPartition {
                topic: self.meta.name.clone(),
                partition: p,
                partitions: self.meta.partitions,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_configs_are_validated() {
        assert!(validate_name("sales").is_ok());
        assert!(validate_name("a.b-c_D9").is_ok());
        for bad in ["", ".", "..", "a/b", "x y", &"n".repeat(250)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        let spec = TopicSpec::new("t", 3).config("retention.bytes", "x");
        assert!(TopicMeta::from_spec(&spec).is_err());
        let spec = TopicSpec::new("t", 0);
        assert!(TopicMeta::from_spec(&spec).is_err());
        let spec = TopicSpec::new("t", 2).config("cleanup.policy", "compact");
        let m = TopicMeta::from_spec(&spec).unwrap();
        assert_eq!(m.cleanup_policy(), CleanupPolicy::Compact);
        let cfg = EmbeddedConfig::default();
        assert_eq!(m.retention_ms(&cfg), cfg.retention_ms);
        let m = TopicMeta::from_spec(&TopicSpec::new("t", 1).retention_ms(-1)).unwrap();
        assert_eq!(m.retention_ms(&cfg), -1);
    }
}
