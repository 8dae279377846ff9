//! Settings of the embedded log ([`EmbeddedConfig`]) and its durability policy ([`FsyncPolicy`]).

use aisle_log::{LogError, Result};
use serde::{Deserialize, Serialize};

/// When appended data is forced to stable storage, and therefore when a delivery is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FsyncPolicy {
    /// `fdatasync` every write batch before acknowledging it: survives power loss, slowest.
    Always,
    /// Group commit: at most one write-and-sync cycle every `ms` milliseconds; what arrives
    /// meanwhile waits for the next cycle, and work arriving at an idle log is synced at once.
    /// Deliveries are acknowledged after the sync that covers them. Survives power loss.
    Interval {
        /// Shortest time between the starts of two cycles, in milliseconds.
        ms: u64,
    },
    /// Never sync explicitly; acknowledge once written to the OS. Survives a process crash
    /// (kill -9) but not a power loss or kernel crash.
    Never,
}

impl Default for FsyncPolicy {
    /// A 10 ms group-commit window: the throughput of batching with the durability of fsync.
    fn default() -> Self {
        FsyncPolicy::Interval { ms: 10 }
    }
}

/// Settings of an [`crate::EmbeddedLog`]. Every field has a default, so `{}` is a valid config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// When writes are synced to disk and acknowledged.
    pub fsync: FsyncPolicy,
    /// Size at which the active segment of a partition is closed and a new one started (bytes).
    pub segment_bytes: u64,
    /// Time retention for topics that do not set their own, in ms; -1 keeps data forever.
    pub retention_ms: i64,
    /// Size retention per partition in bytes; -1 means unlimited.
    pub retention_bytes: i64,
    /// How long a tombstone survives compaction before it is dropped, in ms.
    pub delete_retention_ms: i64,
    /// Bytes of batches between two entries of the sparse offset index.
    pub index_interval_bytes: u32,
    /// How often the background cleaner enforces retention and compacts, in ms (0 disables it).
    pub cleaner_interval_ms: u64,
    /// Whether producing to an unknown topic creates it (with `default_partitions`).
    pub auto_create_topics: bool,
    /// Partitions of auto-created topics.
    pub default_partitions: i32,
    /// Bytes a partition may hold in memory waiting for the writer before `send` waits
    /// (the producer's back-pressure).
    pub max_pending_bytes: usize,
    /// Largest record batch the writer forms, in bytes (a single larger record gets its own batch).
    pub max_batch_bytes: usize,
}

/// Kafka's default segment size, 1 GiB.
fn default_segment_bytes() -> u64 {
    1 << 30
}

/// Kafka's default `retention.ms`: seven days.
fn default_retention_ms() -> i64 {
    7 * 24 * 3600 * 1000
}

/// Kafka's default `delete.retention.ms`: one day.
fn default_delete_retention_ms() -> i64 {
    24 * 3600 * 1000
}

/// Kafka's default `index.interval.bytes`.
fn default_index_interval() -> u32 {
    4096
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            fsync: FsyncPolicy::default(),
            segment_bytes: default_segment_bytes(),
            retention_ms: default_retention_ms(),
            retention_bytes: -1,
            delete_retention_ms: default_delete_retention_ms(),
            index_interval_bytes: default_index_interval(),
            // Kafka's log cleaner backoff is 15 s; retention checks run every 5 minutes there.
            cleaner_interval_ms: 30_000,
            auto_create_topics: false,
            default_partitions: 1,
            max_pending_bytes: 32 << 20,
            max_batch_bytes: 1 << 20,
        }
    }
}

impl EmbeddedConfig {
    /// Checks that values make sense together; called by [`crate::EmbeddedLog::open`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(LogError::InvalidArgument(format!("embedded config: {m}")));
        if let FsyncPolicy::Interval { ms } = self.fsync
            && ms == 0
        {
            return bad("fsync interval must be at least 1 ms".into());
        }
        // Index entries hold 32-bit positions; a segment may overshoot `segment_bytes` by one
        // write cycle (bounded by `max_pending_bytes` per partition), so keep well below 4 GiB.
        if self.segment_bytes < 1024 || self.segment_bytes > (2 << 30) {
            return bad(format!(
                "segment_bytes {} is not in 1 KiB..=2 GiB",
                self.segment_bytes
            ));
        }
        if self.max_pending_bytes > (1 << 30) || self.max_pending_bytes < 1024 {
            return bad(format!(
                "max_pending_bytes {} is not in 1 KiB..=1 GiB",
                self.max_pending_bytes
            ));
        }
        if self.max_batch_bytes < 1024 || self.max_batch_bytes > (64 << 20) {
            return bad(format!(
                "max_batch_bytes {} is not in 1 KiB..=64 MiB",
                self.max_batch_bytes
            ));
        }
        if self.index_interval_bytes == 0 {
            return bad("index_interval_bytes must be positive".into());
        }
        if self.default_partitions < 1 {
            return bad(format!(
                "default_partitions {} must be >= 1",
                self.default_partitions
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_is_default_and_unknown_fields_fail() {
        let c: EmbeddedConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, EmbeddedConfig::default());
        assert!(serde_json::from_str::<EmbeddedConfig>(r#"{"segmnt_bytes": 5}"#).is_err());
        let c: EmbeddedConfig = serde_json::from_str(
            r#"{"fsync": {"interval": {"ms": 3}}, "auto_create_topics": true}"#,
        )
        .unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Interval { ms: 3 });
        assert!(c.auto_create_topics);
        let c: EmbeddedConfig = serde_json::from_str(r#"{"fsync": "always"}"#).unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Always);
    }

    #[test]
    fn validate_rejects_nonsense() {
        assert!(EmbeddedConfig::default().validate().is_ok());
        let c = EmbeddedConfig {
            fsync: FsyncPolicy::Interval { ms: 0 },
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = EmbeddedConfig {
            segment_bytes: 10,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = EmbeddedConfig {
            default_partitions: 0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
    }
}
