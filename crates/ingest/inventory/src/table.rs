//! The table as the connector sees it: its columns mapped to Avro, the configured columns
//! checked, the optional store column found, the schema registered under both topics'
//! subjects; and the connector's topics.

use crate::config::InventoryConfig;
use crate::db::{ColumnMeta, Db};
use crate::error::{InventoryError, Result};
use crate::rekey::{Keying, STORE_COLUMN};
use crate::schema::{self, Column, Kind};
use aisle_events::topics;
use aisle_log::{CleanupPolicy, Log, TopicSpec};
use aisle_registry::SchemaRegistry;

/// The table as currently mapped, with its registered schema ids.
pub(crate) struct Table {
    pub(crate) meta: Vec<ColumnMeta>,
    pub(crate) columns: Vec<Column>,
    pub(crate) schema: apache_avro::Schema,
    pub(crate) jdbc_id: u32,
    pub(crate) rekeyed_id: u32,
    pub(crate) key_idx: usize,
    pub(crate) ts_idx: Option<usize>,
    pub(crate) id_idx: Option<usize>,
    /// The [`STORE_COLUMN`], if the table has one: its rows are then per store or chain-wide.
    pub(crate) store_idx: Option<usize>,
}

impl Table {
    /// How this table's rows are keyed in `cfg.rekeyed_topic`.
    pub(crate) fn keying<'a>(&self, cfg: &'a InventoryConfig) -> Keying<'a> {
        Keying {
            key_column: &cfg.key_column,
            topic: &cfg.rekeyed_topic,
            store_column: self.store_idx.is_some(),
        }
    }
}

/// Maps the table's columns, checks the configured columns, registers the schema under both
/// topics' subjects.
pub(crate) async fn map_table(
    cfg: &InventoryConfig,
    db: &Db,
    meta: Vec<ColumnMeta>,
    registry: &dyn SchemaRegistry,
) -> Result<Table> {
    if meta.is_empty() {
        return Err(InventoryError::Config(format!(
            "table `{}` not found in {} (create it with `aisle inventory init`)",
            cfg.table, db.url_redacted
        )));
    }
    let mut columns = schema::map_columns(db.dialect, &cfg.table, &meta)?;
    let store_idx = store_column(cfg, &mut columns)?;
    let find = |name: &str, what: &str, ok: &[Kind]| -> Result<usize> {
        let (i, c) = columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
            .ok_or_else(|| {
                InventoryError::Config(format!(
                    "{what} `{name}` is not a column of `{}` (columns: {})",
                    cfg.table,
                    columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        if !ok.is_empty() && !ok.contains(&c.kind) {
            return Err(InventoryError::Config(format!(
                "{what} `{name}` of `{}` has type `{}`, which cannot serve as {what}",
                cfg.table, c.sql_type
            )));
        }
        Ok(i)
    };
    let key_idx = find(&cfg.key_column, "key_column", &[])?;
    let ts_idx = if cfg.mode.uses_timestamp() {
        Some(find(
            &cfg.timestamp_column,
            "timestamp_column",
            &[Kind::TimestampMillis],
        )?)
    } else {
        None
    };
    let id_idx = if cfg.mode.uses_incrementing() {
        Some(find(
            &cfg.incrementing_column,
            "incrementing_column",
            &[Kind::Int, Kind::Long],
        )?)
    } else {
        None
    };
    let json = schema::avro_schema_json(&cfg.table, &columns);
    let schema = apache_avro::Schema::parse_str(&json)
        .map_err(|e| InventoryError::Schema(format!("generated schema does not parse: {e}")))?;
    let register = |topic: String| {
        let json = json.clone();
        async move {
            let subject = topics::value_subject(&topic);
            registry
                .register(&subject, &json)
                .await
                .map_err(InventoryError::registry(format!("registering {subject}")))
        }
    };
    let jdbc_id = register(cfg.jdbc_topic.clone()).await?;
    let rekeyed_id = register(cfg.rekeyed_topic.clone()).await?;
    Ok(Table {
        meta,
        columns,
        schema,
        jdbc_id,
        rekeyed_id,
        key_idx,
        ts_idx,
        id_idx,
        store_idx,
    })
}

/// Finds the [`STORE_COLUMN`]: text, and always `["null", "string"]` in the schema (the contract's
/// optional `store_id`, whatever the SQL says), so adding the column to a captured table
/// registers a BACKWARD-compatible version and every `Inventory` reader reads it.
fn store_column(cfg: &InventoryConfig, columns: &mut [Column]) -> Result<Option<usize>> {
    let Some(i) = columns.iter().position(|c| c.name == STORE_COLUMN) else {
        return Ok(None);
    };
    if cfg.key_column == STORE_COLUMN {
        return Err(InventoryError::Config(format!(
            "key_column `{STORE_COLUMN}`: that column names the store of a row; key by the item"
        )));
    }
    let c = &mut columns[i];
    if c.kind != Kind::String {
        return Err(InventoryError::Config(format!(
            "column `{STORE_COLUMN}` of `{}` has type `{}`: store ids are text (make it \
             VARCHAR, or rename the column if it is not a store)",
            cfg.table, c.sql_type
        )));
    }
    c.nullable = true;
    Ok(Some(i))
}

/// Creates the connector's topics where missing (layouts of the design's topic table).
pub(crate) async fn ensure_topics(log: &dyn Log, cfg: &InventoryConfig, dlq: &str) -> Result<()> {
    let specs = [
        TopicSpec::new(&cfg.jdbc_topic, 1),
        TopicSpec::new(&cfg.rekeyed_topic, 1).cleanup(CleanupPolicy::Compact),
        TopicSpec::new(&cfg.offsets_topic, 1).cleanup(CleanupPolicy::Compact),
        TopicSpec::new(dlq, 1),
    ];
    for spec in specs {
        log.create_topic(&spec)
            .await
            .map_err(InventoryError::log(format!("creating {}", spec.name)))?;
    }
    Ok(())
}
