//! The table's columns as an Avro record, mapped the way Kafka Connect's JDBC source maps them,
//! and rows as Avro values.
//!
//! | SQL | Avro |
//! |---|---|
//! | tinyint, smallint, mediumint, int, integer, serial | `int` |
//! | bigint, bigserial, int unsigned (MySQL) | `long` |
//! | real, float (MySQL) | `float` |
//! | double, double precision, float8, decimal, numeric | `double` (the JDBC `numeric.mapping=best_fit` choice for decimals) |
//! | boolean, bool, bit(1), tinyint(1) (MySQL) | `boolean` |
//! | char, varchar, text, enum, ... | `string` |
//! | blob, bytea, binary, varbinary | `bytes` |
//! | timestamp, datetime, timestamptz | `long` / `timestamp-millis` (with Connect's `connect.name`) |
//! | date | `int` / `date` |
//!
//! A nullable column becomes `["null", T]` with default null; the record is named after the
//! table, as the JDBC connector names it. Anything else (json, uuid, arrays, ...) is refused at
//! start with the column and its type named.

use crate::db::{ColumnMeta, Dialect};
use crate::error::{InventoryError, Result};
use apache_avro::types::Value;
use serde_json::{Value as Json, json};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An Avro type a column maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// 32-bit float.
    Float,
    /// 64-bit float.
    Double,
    /// Boolean.
    Boolean,
    /// UTF-8 string.
    String,
    /// Bytes.
    Bytes,
    /// `long` with logical type `timestamp-millis`.
    TimestampMillis,
    /// `int` with logical type `date`.
    Date,
}

/// One mapped column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Avro type.
    pub kind: Kind,
    /// Whether NULL is allowed (→ a union with null).
    pub nullable: bool,
    /// Declared SQL type, for messages.
    pub sql_type: String,
}

/// Maps a declared SQL type; `None` if it has no mapping.
pub fn kind_of(dialect: Dialect, sql_type: &str) -> Option<Kind> {
    let t = sql_type.trim().to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or_default();
    let unsigned = t.contains("unsigned");
    Some(match base {
        "tinyint" if dialect == Dialect::MySql && t.starts_with("tinyint(1)") => Kind::Boolean,
        "bit" if t == "bit" || t.starts_with("bit(1)") => Kind::Boolean,
        "tinyint" | "smallint" | "int2" | "smallserial" => Kind::Int,
        "mediumint" | "int" | "integer" | "int4" | "serial" if !unsigned => Kind::Int,
        "mediumint" | "int" | "integer" | "int4" => Kind::Long,
        "bigint" | "int8" | "bigserial" => Kind::Long,
        "real" | "float4" => {
            if dialect == Dialect::Sqlite {
                Kind::Double
            } else {
                Kind::Float
            }
        }
        "float" => {
            if dialect == Dialect::MySql {
                Kind::Float
            } else {
                Kind::Double
            }
        }
        "double" | "float8" | "decimal" | "numeric" | "dec" => Kind::Double,
        "boolean" | "bool" => Kind::Boolean,
        "char" | "varchar" | "character" | "text" | "tinytext" | "mediumtext" | "longtext"
        | "enum" | "set" | "nchar" | "nvarchar" | "clob" | "string" | "bpchar" | "citext"
        | "name" => Kind::String,
        "blob" | "tinyblob" | "mediumblob" | "longblob" | "bytea" | "binary" | "varbinary" => {
            Kind::Bytes
        }
        "timestamp" | "datetime" | "timestamptz" => Kind::TimestampMillis,
        "date" => Kind::Date,
        _ => return None,
    })
}

/// Maps every column, or fails naming the first one that cannot be mapped.
pub fn map_columns(dialect: Dialect, table: &str, meta: &[ColumnMeta]) -> Result<Vec<Column>> {
    meta.iter()
        .map(|m| {
            let kind = kind_of(dialect, &m.sql_type).ok_or_else(|| {
                InventoryError::Schema(format!(
                    "column `{}` of table `{table}` has type `{}`, which has no Avro mapping \
                     (drop or cast it in a view, or capture the view)",
                    m.name, m.sql_type
                ))
            })?;
            Ok(Column {
                name: m.name.clone(),
                kind,
                nullable: m.nullable,
                sql_type: m.sql_type.clone(),
            })
        })
        .collect()
}

fn avro_type(kind: Kind) -> Json {
    match kind {
        Kind::Int => json!("int"),
        Kind::Long => json!("long"),
        Kind::Float => json!("float"),
        Kind::Double => json!("double"),
        Kind::Boolean => json!("boolean"),
        Kind::String => json!("string"),
        Kind::Bytes => json!("bytes"),
        Kind::TimestampMillis => json!({
            "type": "long", "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Timestamp",
            "logicalType": "timestamp-millis"
        }),
        Kind::Date => json!({
            "type": "int", "connect.version": 1,
            "connect.name": "org.apache.kafka.connect.data.Date",
            "logicalType": "date"
        }),
    }
}

/// The Avro schema (JSON text) of a table: record named after the table, one field per column.
pub fn avro_schema_json(table: &str, columns: &[Column]) -> String {
    let record = table.rsplit('.').next().unwrap_or(table);
    let fields: Vec<Json> = columns
        .iter()
        .map(|c| {
            if c.nullable {
                json!({"name": c.name, "type": ["null", avro_type(c.kind)], "default": null})
            } else {
                json!({"name": c.name, "type": avro_type(c.kind)})
            }
        })
        .collect();
    json!({"type": "record", "name": record, "fields": fields, "connect.name": record}).to_string()
}

/// The SELECT list: each column converted in SQL to what sqlx's `Any` driver decodes.
pub fn select_list(dialect: Dialect, columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| select_expr(dialect, c.kind, &dialect.quote(&c.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One column's conversion (`c` is already quoted).
pub fn select_expr(dialect: Dialect, kind: Kind, c: &str) -> String {
    use Dialect::*;
    match (kind, dialect) {
        (Kind::Int | Kind::Long | Kind::Boolean, MySql) => format!("CAST({c} AS SIGNED)"),
        (Kind::Int | Kind::Long | Kind::Boolean, Postgres) => {
            if kind == Kind::Boolean {
                format!("CAST(CAST({c} AS INTEGER) AS BIGINT)")
            } else {
                format!("CAST({c} AS BIGINT)")
            }
        }
        (Kind::Int | Kind::Long | Kind::Boolean, Sqlite) => format!("CAST({c} AS INTEGER)"),
        (Kind::Float | Kind::Double, MySql) => format!("({c} * 1E0)"),
        (Kind::Float | Kind::Double, Postgres) => format!("CAST({c} AS DOUBLE PRECISION)"),
        (Kind::Float | Kind::Double, Sqlite) => format!("CAST({c} AS REAL)"),
        (Kind::String, MySql) => format!("CAST({c} AS CHAR)"),
        (Kind::String, _) => format!("CAST({c} AS TEXT)"),
        (Kind::Bytes, _) => c.to_string(),
        (Kind::TimestampMillis, _) => ts_millis_expr(dialect, c),
        (Kind::Date, MySql) => format!("DATEDIFF({c}, '1970-01-01')"),
        (Kind::Date, Postgres) => format!("CAST(({c} - DATE '1970-01-01') AS BIGINT)"),
        (Kind::Date, Sqlite) => format!("CAST(julianday({c}) - 2440587.5 AS INTEGER)"),
    }
}

/// A timestamp column as epoch milliseconds, truncated as Java's `Timestamp.getTime()` does
/// (sessions run in UTC, see `db.rs`).
pub fn ts_millis_expr(dialect: Dialect, c: &str) -> String {
    match dialect {
        Dialect::MySql => format!("CAST(FLOOR(UNIX_TIMESTAMP({c}) * 1000) AS SIGNED)"),
        Dialect::Postgres => format!("CAST(FLOOR(EXTRACT(EPOCH FROM {c}) * 1000) AS BIGINT)"),
        // SQLite keeps text with at most milliseconds; rounding undoes julianday's float error.
        Dialect::Sqlite => {
            format!("CAST(ROUND((julianday({c}) - 2440587.5) * 86400000.0) AS INTEGER)")
        }
    }
}

/// A timestamp column as epoch microseconds, exact for MySQL's and PostgreSQL's finest
/// precision: offsets keep microseconds so rows differing below a millisecond are neither
/// skipped nor repeated.
pub fn ts_micros_expr(dialect: Dialect, c: &str) -> String {
    match dialect {
        Dialect::MySql => format!("CAST(ROUND(UNIX_TIMESTAMP({c}) * 1000000) AS SIGNED)"),
        Dialect::Postgres => {
            format!("CAST(ROUND(EXTRACT(EPOCH FROM {c}) * 1000000) AS BIGINT)")
        }
        Dialect::Sqlite => format!("({} * 1000)", ts_millis_expr(dialect, c)),
    }
}

/// Compares timestamp column `c` with the bound epoch-microsecond parameter `p` using `op`,
/// keeping the column bare on MySQL and PostgreSQL so their index on it is used.
pub fn ts_compare(dialect: Dialect, c: &str, op: &str, p: &str) -> String {
    match dialect {
        Dialect::MySql => format!("{c} {op} TIMESTAMPADD(MICROSECOND, {p}, '1970-01-01 00:00:00')"),
        Dialect::Postgres => format!(
            "{c} {op} (TIMESTAMP '1970-01-01 00:00:00' + CAST({p} AS BIGINT) * INTERVAL '1 microsecond')"
        ),
        // SQLite timestamps are text: compare on the number instead.
        Dialect::Sqlite => format!("{} {op} {p}", ts_micros_expr(dialect, c)),
    }
}

/// A row as Avro field values, or why it cannot be one (the reason goes to the dead-letter
/// topic).
pub fn row_values(columns: &[Column], row: &AnyRow) -> std::result::Result<Vec<Value>, String> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let v = decode(c, row, i).map_err(|e| format!("column `{}`: {e}", c.name))?;
            match (v, c.nullable) {
                (None, true) => Ok(Value::Union(0, Box::new(Value::Null))),
                (None, false) => Err(format!("column `{}` is NULL but declared NOT NULL", c.name)),
                (Some(v), true) => Ok(Value::Union(1, Box::new(v))),
                (Some(v), false) => Ok(v),
            }
        })
        .collect()
}

fn decode(c: &Column, row: &AnyRow, i: usize) -> std::result::Result<Option<Value>, String> {
    let err = |e: sqlx::Error| e.to_string();
    Ok(match c.kind {
        Kind::Int => match row.try_get::<Option<i64>, _>(i).map_err(err)? {
            Some(v) => Some(Value::Int(i32::try_from(v).map_err(|_| {
                format!("{v} does not fit the Avro int of a `{}` column", c.sql_type)
            })?)),
            None => None,
        },
        Kind::Date => match row.try_get::<Option<i64>, _>(i).map_err(err)? {
            Some(v) => Some(Value::Date(
                i32::try_from(v).map_err(|_| format!("date {v} days out of range"))?,
            )),
            None => None,
        },
        Kind::Long => row
            .try_get::<Option<i64>, _>(i)
            .map_err(err)?
            .map(Value::Long),
        Kind::TimestampMillis => row
            .try_get::<Option<i64>, _>(i)
            .map_err(err)?
            .map(Value::TimestampMillis),
        Kind::Boolean => row
            .try_get::<Option<i64>, _>(i)
            .map_err(err)?
            .map(|v| Value::Boolean(v != 0)),
        Kind::Float => row
            .try_get::<Option<f64>, _>(i)
            .map_err(err)?
            .map(|v| Value::Float(v as f32)),
        Kind::Double => row
            .try_get::<Option<f64>, _>(i)
            .map_err(err)?
            .map(Value::Double),
        Kind::String => get_text(row, i).map_err(err)?.map(Value::String),
        Kind::Bytes => match row.try_get::<Option<Vec<u8>>, _>(i) {
            Ok(v) => v,
            Err(_) => get_text(row, i).map_err(err)?.map(String::into_bytes),
        }
        .map(Value::Bytes),
    })
}

/// A text column. MySQL hands TEXT (and casts of it) over as a BLOB type, so bytes are
/// accepted too when they are UTF-8.
pub fn get_text(row: &AnyRow, i: usize) -> std::result::Result<Option<String>, sqlx::Error> {
    match row.try_get::<Option<String>, _>(i) {
        Ok(v) => Ok(v),
        Err(e) => match row.try_get::<Option<Vec<u8>>, _>(i) {
            Ok(None) => Ok(None),
            Ok(Some(b)) => String::from_utf8(b)
                .map(Some)
                .map_err(|u| sqlx::Error::Decode(Box::new(u))),
            Err(_) => Err(e),
        },
    }
}

/// A row as a JSON object of whatever each column decodes to (for dead letters of rows that
/// do not fit the schema).
pub fn row_text(columns: &[Column], row: &AnyRow) -> String {
    let mut obj = serde_json::Map::new();
    for (i, c) in columns.iter().enumerate() {
        let v = if let Ok(Some(s)) = get_text(row, i) {
            json!(s)
        } else if let Ok(Some(n)) = row.try_get::<Option<i64>, _>(i) {
            json!(n)
        } else if let Ok(Some(f)) = row.try_get::<Option<f64>, _>(i) {
            json!(f)
        } else {
            Json::Null
        };
        obj.insert(c.name.clone(), v);
    }
    Json::Object(obj).to_string()
}

/// The plain value inside a (possibly nullable) field value.
pub fn unwrap_union(v: &Value) -> &Value {
    match v {
        Value::Union(_, inner) => inner,
        other => other,
    }
}

/// A field value as a record key (strings as they are, numbers in decimal); `None` for NULL.
pub fn key_string(v: &Value) -> Option<String> {
    match unwrap_union(v) {
        Value::String(s) => Some(s.clone()),
        Value::Int(i) | Value::Date(i) => Some(i.to_string()),
        Value::Long(l) | Value::TimestampMillis(l) => Some(l.to_string()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        _ => None,
    }
}

/// A field value as an i64 (the offsets' id and timestamp), if it is a number.
pub fn as_i64(v: &Value) -> Option<i64> {
    match unwrap_union(v) {
        Value::Int(i) | Value::Date(i) => Some(i64::from(*i)),
        Value::Long(l) | Value::TimestampMillis(l) => Some(*l),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, ty: &str, nullable: bool) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            sql_type: ty.into(),
            nullable,
        }
    }

    #[test]
    fn the_seed_table_maps_to_the_contract_schema() {
        let cols = map_columns(
            Dialect::MySql,
            "inventory",
            &[
                meta("id", "int(11)", false),
                meta("name", "varchar(100)", true),
                meta("upsell_item", "varchar(200)", true),
                meta("count", "int(11)", true),
                meta("modified", "timestamp(3)", false),
            ],
        )
        .unwrap();
        let ours = apache_avro::Schema::parse_str(&avro_schema_json("inventory", &cols)).unwrap();
        let contract = apache_avro::Schema::parse_str(aisle_events::schemas::INVENTORY_V1).unwrap();
        assert_eq!(ours.canonical_form(), contract.canonical_form());
        // A chain's table: the seed's columns plus a nullable `store_id` is the current contract.
        let mut chain = cols.clone();
        chain.extend(
            map_columns(
                Dialect::MySql,
                "inventory",
                &[meta("store_id", "varchar(20)", true)],
            )
            .unwrap(),
        );
        let ours = apache_avro::Schema::parse_str(&avro_schema_json("inventory", &chain)).unwrap();
        let contract = apache_avro::Schema::parse_str(aisle_events::schemas::INVENTORY).unwrap();
        assert_eq!(ours.canonical_form(), contract.canonical_form());
    }

    #[test]
    fn types_map_like_the_jdbc_connector_and_unmappable_ones_are_named() {
        assert_eq!(
            kind_of(Dialect::MySql, "int(10) unsigned"),
            Some(Kind::Long)
        );
        assert_eq!(kind_of(Dialect::MySql, "tinyint(1)"), Some(Kind::Boolean));
        assert_eq!(kind_of(Dialect::MySql, "tinyint(4)"), Some(Kind::Int));
        assert_eq!(
            kind_of(Dialect::Postgres, "timestamp without time zone"),
            Some(Kind::TimestampMillis)
        );
        assert_eq!(
            kind_of(Dialect::Postgres, "character varying"),
            Some(Kind::String)
        );
        assert_eq!(kind_of(Dialect::Postgres, "numeric"), Some(Kind::Double));
        assert_eq!(kind_of(Dialect::Sqlite, "integer"), Some(Kind::Int));
        let err = map_columns(
            Dialect::Postgres,
            "inventory",
            &[meta("tags", "jsonb", true)],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`tags`") && err.contains("jsonb"), "{err}");
    }
}
