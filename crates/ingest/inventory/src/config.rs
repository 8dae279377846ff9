//! [`InventoryConfig`]: what the connector reads, how, and where it writes; the `[inventory]`
//! section of Aisle's configuration.

use crate::error::{InventoryError, Result};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How new and changed rows are found, as Kafka Connect's JDBC source `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Mode {
    /// `(timestamp, id) > (last_timestamp, last_id)`: inserts and updates, none skipped or repeated.
    #[default]
    #[serde(rename = "timestamp+incrementing")]
    TimestampIncrementing,
    /// `id > last_id`: inserts only (an append-only table).
    #[serde(rename = "incrementing")]
    Incrementing,
    /// `timestamp > last_timestamp`: inserts and updates; rows sharing the last timestamp of a
    /// poll with rows committed after it can be missed (use `timestamp+incrementing`).
    #[serde(rename = "timestamp")]
    Timestamp,
    /// The whole table on every poll; no offsets.
    #[serde(rename = "bulk")]
    Bulk,
}

impl Mode {
    /// Parses the JDBC connector's spelling (`timestamp+incrementing`, ...).
    pub fn parse(s: &str) -> Result<Mode> {
        Ok(match s {
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "bulk" => Mode::Bulk,
            other => {
                return Err(InventoryError::Config(format!(
                    "unknown mode `{other}`: use timestamp+incrementing, incrementing, timestamp or bulk"
                )));
            }
        })
    }
    /// The JDBC connector's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::TimestampIncrementing => "timestamp+incrementing",
            Mode::Incrementing => "incrementing",
            Mode::Timestamp => "timestamp",
            Mode::Bulk => "bulk",
        }
    }
    /// Whether the mode reads the timestamp column.
    pub fn uses_timestamp(&self) -> bool {
        matches!(self, Mode::TimestampIncrementing | Mode::Timestamp)
    }
    /// Whether the mode reads the incrementing column.
    pub fn uses_incrementing(&self) -> bool {
        matches!(self, Mode::TimestampIncrementing | Mode::Incrementing)
    }
}

/// The connector's settings. Every field has a default, so an empty `[inventory]` section
/// captures `inventory` from the SQLite file in the data directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InventoryConfig {
    /// Database URL: `mysql://user:pass@host:3306/db`, `postgres://user:pass@host:5432/db`,
    /// `sqlite:///path/inventory.db`. Unset: `sqlite://<data_dir>/inventory.db`.
    pub db_url: Option<String>,
    /// The table to capture.
    pub table: String,
    /// Capture mode (`timestamp+incrementing`, `incrementing`, `timestamp`, `bulk`).
    pub mode: Mode,
    /// The JDBC connector's `timestamp.column.name`.
    pub timestamp_column: String,
    /// The JDBC connector's `incrementing.column.name`.
    pub incrementing_column: String,
    /// The column whose value keys `inventory_rekeyed`.
    pub key_column: String,
    /// Time between polls, ms (the JDBC connector's `poll.interval.ms`, default 5000).
    pub poll_interval_ms: u64,
    /// Rows newer than the database's clock minus this many ms wait for the next poll, so a
    /// transaction that commits late with an older timestamp is still seen (the JDBC connector's
    /// `timestamp.delay.interval.ms`). Larger = safer against long write transactions, slower.
    pub timestamp_delay_ms: u64,
    /// Time between scans for deleted rows, ms; 0 turns delete detection off.
    pub delete_scan_interval_ms: u64,
    /// Most rows read per query and written per transaction (`batch.max.rows`).
    pub batch_rows: u32,
    /// Connector name: the offsets key and the transactional id derive from it, so two
    /// connectors on one table need different names.
    pub name: String,
    /// Topic of captured rows as the JDBC connector writes them (no key).
    pub jdbc_topic: String,
    /// Compacted topic keyed by `key_column`.
    pub rekeyed_topic: String,
    /// Compacted topic of source offsets (where each connector got to).
    pub offsets_topic: String,
    /// Dead-letter topic for rows that cannot be rekeyed. Unset: `<table>.dlq`.
    pub dlq_topic: Option<String>,
    /// How long to keep trying to reach the database at start, ms, before giving up.
    pub startup_timeout_ms: u64,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            db_url: None,
            table: "inventory".into(),
            mode: Mode::default(),
            timestamp_column: "modified".into(),
            incrementing_column: "id".into(),
            key_column: "name".into(),
            poll_interval_ms: 5000,
            timestamp_delay_ms: 200,
            delete_scan_interval_ms: 10_000,
            batch_rows: 10_000,
            name: "inventory".into(),
            jdbc_topic: aisle_events::topics::INVENTORY_JDBC.into(),
            rekeyed_topic: aisle_events::topics::INVENTORY_REKEYED.into(),
            offsets_topic: OFFSETS_TOPIC.into(),
            dlq_topic: None,
            startup_timeout_ms: 60_000,
        }
    }
}

/// Default topic of connector source offsets.
pub const OFFSETS_TOPIC: &str = "_aisle_connect_offsets";

impl InventoryConfig {
    /// The poll interval.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    /// The dead-letter topic.
    pub fn dlq(&self) -> String {
        self.dlq_topic
            .clone()
            .unwrap_or_else(|| aisle_events::topics::dlq(&self.table))
    }
    /// The database URL, or the SQLite file in `data_dir`.
    pub fn url_or_default(&self, data_dir: &std::path::Path) -> String {
        self.db_url
            .clone()
            .unwrap_or_else(|| crate::seed::sqlite_url(data_dir))
    }

    /// Checks values that can be checked without the database.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(InventoryError::Config(m));
        for (what, v) in [
            ("table", &self.table),
            ("timestamp_column", &self.timestamp_column),
            ("incrementing_column", &self.incrementing_column),
            ("key_column", &self.key_column),
        ] {
            if !crate::db::is_identifier(v) {
                return bad(format!(
                    "{what} `{v}` is not a plain SQL identifier (letters, digits, _ ; optionally schema.table for table)"
                ));
            }
        }
        if self.poll_interval_ms == 0 {
            return bad("poll_interval_ms must be at least 1".into());
        }
        if self.batch_rows == 0 {
            return bad("batch_rows must be at least 1".into());
        }
        if self.name.is_empty() || self.jdbc_topic.is_empty() || self.rekeyed_topic.is_empty() {
            return bad("name, jdbc_topic and rekeyed_topic must not be empty".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_in_the_jdbc_spelling() {
        for m in [
            Mode::TimestampIncrementing,
            Mode::Incrementing,
            Mode::Timestamp,
            Mode::Bulk,
        ] {
            assert_eq!(Mode::parse(m.as_str()).unwrap(), m);
        }
        let err = Mode::parse("timestamp_incrementing")
            .unwrap_err()
            .to_string();
        assert!(err.contains("timestamp_incrementing"), "{err}");
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let c = InventoryConfig {
            timestamp_column: "modified; drop table x".into(),
            ..Default::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("timestamp_column"), "{err}");
        assert!(InventoryConfig::default().validate().is_ok());
        assert_eq!(InventoryConfig::default().dlq(), "inventory.dlq");
    }
}
