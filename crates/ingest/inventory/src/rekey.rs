//! The `inventory_rekeyed` key of a row, and the delete scan's view of the keys the table holds.
//!
//! A table may have a `store_id` column (nullable text, found in the database's catalog at start
//! and whenever the columns change). A row with a store id is that store's stock and is keyed
//! `{store_id}/{name}` (the store trimmed; [`aisle_events::types::inventory_key`]); a row without
//! one (NULL or blank) is chain-wide and keyed by `name`, exactly as a table without the column
//! is. Keys of the two kinds never meet: in a table with the column, a store id or a chain-wide
//! name containing `/` would make one read as the other, so such a row goes to the dead-letter
//! topic with the reason instead (a store's row may have `/` in its name: the store ends at the
//! first `/`).
//!
//! A row whose key changes (its store id or name updated) or that is deleted leaves its old key
//! live; the delete scan tombstones every live key no row of the table has any more. The scan
//! runs every `delete_scan_interval_ms`, and also right after a poll that captured a row under a
//! different key than this run had seen it with, so a store row moved to another store (or to
//! chain-wide) does not keep shadowing the chain-wide row for a whole interval.

use crate::db::Dialect;
use crate::error::{InventoryError, Result};
use crate::schema::{self, Column};
use aisle_events::types::{STORE_KEY_SEPARATOR, inventory_key, key_store};
use apache_avro::types::Value;
use sqlx::any::AnyRow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};

/// The column that makes a row one store's stock.
pub const STORE_COLUMN: &str = "store_id";

/// How rows of the mapped table are keyed.
#[derive(Debug, Clone, Copy)]
pub struct Keying<'a> {
    /// The column whose value is the item name (`key_column`).
    pub key_column: &'a str,
    /// The rekeyed topic (for reasons).
    pub topic: &'a str,
    /// Whether the table has a [`STORE_COLUMN`].
    pub store_column: bool,
}

impl Keying<'_> {
    /// The key of a row with item `name` and store `store` (the column's values; `store` is
    /// always `None` without a store column), or why the row cannot be keyed.
    pub fn key(
        &self,
        name: Option<&str>,
        store: Option<&str>,
    ) -> std::result::Result<String, String> {
        let Some(name) = name else {
            return Err(format!(
                "column `{}` is NULL: the row cannot be keyed for {}",
                self.key_column, self.topic
            ));
        };
        if !self.store_column {
            return Ok(name.to_owned());
        }
        match key_store(store) {
            Some(s) if s.contains(STORE_KEY_SEPARATOR) => Err(format!(
                "column `{STORE_COLUMN}` is `{s}`: a store id cannot contain `{STORE_KEY_SEPARATOR}`, \
                 which separates store and item in the keys of {}",
                self.topic
            )),
            None if name.contains(STORE_KEY_SEPARATOR) => Err(format!(
                "column `{}` is `{name}` in a chain-wide row (`{STORE_COLUMN}` NULL): in a table \
                 with a `{STORE_COLUMN}` column a chain-wide name cannot contain \
                 `{STORE_KEY_SEPARATOR}`, or its key in {} would read as a store's row",
                self.key_column, self.topic
            )),
            _ => Ok(inventory_key(store, name)),
        }
    }

    /// The key of a row's Avro field values (`key_idx`: the name column, `store_idx`: the store
    /// column if any).
    pub fn key_of_values(
        &self,
        values: &[Value],
        key_idx: usize,
        store_idx: Option<usize>,
    ) -> std::result::Result<String, String> {
        let name = schema::key_string(&values[key_idx]);
        let store = store_idx.and_then(|i| schema::key_string(&values[i]));
        self.key(name.as_deref(), store.as_deref())
    }
}

/// A key's fingerprint, remembered per row id to notice a row moving to another key.
pub fn fingerprint(key: Option<&str>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// The delete scan's query: the distinct names (and stores) of the table's rows.
pub fn scan_sql(dialect: Dialect, table: &str, name: &Column, store: Option<&Column>) -> String {
    let mut select = schema::select_expr(dialect, name.kind, &dialect.quote(&name.name));
    if let Some(s) = store {
        select.push_str(", ");
        select.push_str(&schema::select_expr(
            dialect,
            s.kind,
            &dialect.quote(&s.name),
        ));
    }
    format!(
        "SELECT DISTINCT {select} FROM {} WHERE {} IS NOT NULL",
        dialect.quote(table),
        dialect.quote(&name.name)
    )
}

/// The keys the rows of [`scan_sql`] hold (rows that cannot be keyed hold none).
pub fn present_keys(
    rows: &[AnyRow],
    name: &Column,
    store: Option<&Column>,
    keying: Keying<'_>,
) -> Result<HashSet<String>> {
    let mut cols = vec![name.clone()];
    cols.extend(store.cloned());
    let mut present = HashSet::with_capacity(rows.len());
    for r in rows {
        let v = schema::row_values(&cols, r).map_err(InventoryError::Schema)?;
        if let Ok(k) = keying.key_of_values(&v, 0, store.map(|_| 1)) {
            present.insert(k);
        }
    }
    Ok(present)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: Keying<'static> = Keying {
        key_column: "name",
        topic: "inventory_rekeyed",
        store_column: true,
    };

    #[test]
    fn chain_wide_rows_keep_their_name_and_store_rows_get_the_store_prefix() {
        assert_eq!(CHAIN.key(Some("cup"), None).unwrap(), "cup");
        assert_eq!(CHAIN.key(Some("cup"), Some("CA_1")).unwrap(), "CA_1/cup");
        assert_eq!(CHAIN.key(Some("cup"), Some(" CA_1 ")).unwrap(), "CA_1/cup");
        assert_eq!(
            CHAIN.key(Some("cup"), Some("")).unwrap(),
            "cup",
            "blank: chain-wide"
        );
        assert_eq!(CHAIN.key(Some("cup"), Some("  ")).unwrap(), "cup");
        // A store's item may have a `/`: the store ends at the first one.
        assert_eq!(
            CHAIN.key(Some("1/2 gal"), Some("TX_1")).unwrap(),
            "TX_1/1/2 gal"
        );
    }

    #[test]
    fn rows_whose_key_would_be_ambiguous_are_refused_with_the_reason() {
        let err = CHAIN.key(Some("cup"), Some("CA/1")).unwrap_err();
        assert!(
            err.contains("`store_id` is `CA/1`") && err.contains("inventory_rekeyed"),
            "{err}"
        );
        let err = CHAIN.key(Some("CA_1/cup"), None).unwrap_err();
        assert!(
            err.contains("`CA_1/cup`") && err.contains("chain-wide"),
            "{err}"
        );
        let err = CHAIN.key(None, Some("CA_1")).unwrap_err();
        assert!(err.contains("`name` is NULL"), "{err}");
    }

    #[test]
    fn a_table_without_the_store_column_keys_by_name_as_before() {
        let seed = Keying {
            store_column: false,
            ..CHAIN
        };
        assert_eq!(seed.key(Some("cup"), None).unwrap(), "cup");
        assert_eq!(seed.key(Some("CA_1/cup"), None).unwrap(), "CA_1/cup");
        assert!(seed.key(None, None).unwrap_err().contains("`name` is NULL"));
    }

    #[test]
    fn key_of_values_reads_nullable_fields() {
        let s = |v: &str| Value::Union(1, Box::new(Value::String(v.into())));
        let null = Value::Union(0, Box::new(Value::Null));
        let row = [Value::Int(1), s("cup"), s("CA_1")];
        assert_eq!(CHAIN.key_of_values(&row, 1, Some(2)).unwrap(), "CA_1/cup");
        let row = [Value::Int(1), s("cup"), null.clone()];
        assert_eq!(CHAIN.key_of_values(&row, 1, Some(2)).unwrap(), "cup");
        let row = [Value::Int(1), null, s("CA_1")];
        assert!(CHAIN.key_of_values(&row, 1, Some(2)).is_err());
        assert_ne!(fingerprint(Some("cup")), fingerprint(Some("CA_1/cup")));
        assert_ne!(fingerprint(None), fingerprint(Some("")));
    }

    #[test]
    fn the_scan_selects_the_store_too_when_there_is_one() {
        let col = |name: &str| Column {
            name: name.into(),
            kind: schema::Kind::String,
            nullable: true,
            sql_type: "TEXT".into(),
        };
        let (name, store) = (col("name"), col("store_id"));
        assert_eq!(
            scan_sql(Dialect::Sqlite, "inventory", &name, None),
            r#"SELECT DISTINCT CAST("name" AS TEXT) FROM "inventory" WHERE "name" IS NOT NULL"#
        );
        assert_eq!(
            scan_sql(Dialect::MySql, "inventory", &name, Some(&store)),
            "SELECT DISTINCT CAST(`name` AS CHAR), CAST(`store_id` AS CHAR) FROM `inventory` WHERE `name` IS NOT NULL"
        );
    }
}
