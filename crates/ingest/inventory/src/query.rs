//! The poll query of each capture mode, as the JDBC connector builds it.
//!
//! `timestamp+incrementing`:
//!
//! ```sql
//! SELECT <columns>, <ts in µs> FROM t
//! WHERE ts < :upper AND (ts > :last_ts OR (ts = :last_ts AND id > :last_id))
//! ORDER BY ts, id LIMIT :batch
//! ```
//!
//! `:upper` is the database's clock minus `timestamp_delay_ms`: a row stamped just now may
//! belong to a transaction that has not committed, and rows of a transaction that commits after
//! a poll, stamped *before* that poll's upper bound, would be behind the offset and missed for
//! ever. The delay is the longest such transaction tolerated, paid as latency on every change.

use crate::config::Mode;
use crate::db::Dialect;
use crate::offsets::SourceOffset;
use crate::schema::{self, Column};

/// A query with its parameters (all integers), in bind order.
#[derive(Debug, Clone, PartialEq)]
pub struct PollQuery {
    /// SQL text.
    pub sql: String,
    /// Parameters.
    pub params: Vec<i64>,
    /// Whether a hidden last column carries the timestamp in µs.
    pub with_micros: bool,
    /// Whether a full batch means more rows may be waiting.
    pub limited: bool,
}

/// What the poll needs to know about the table.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Dialect.
    pub dialect: Dialect,
    /// Table (unquoted).
    pub table: &'a str,
    /// Mapped columns.
    pub columns: &'a [Column],
    /// Timestamp column.
    pub ts: &'a str,
    /// Incrementing column.
    pub id: &'a str,
}

/// Builds the poll query for `mode` from `offset`, with `upper_us` (database clock minus the
/// delay, µs) bounding timestamps.
pub fn poll_query(
    t: Target<'_>,
    mode: Mode,
    offset: &SourceOffset,
    upper_us: i64,
    batch: u32,
) -> PollQuery {
    let d = t.dialect;
    let ts = d.quote(t.ts);
    let id = d.quote(t.id);
    let mut params = Vec::new();
    let p = |v: i64, params: &mut Vec<i64>| {
        params.push(v);
        d.param(params.len())
    };
    let mut select = schema::select_list(d, t.columns);
    let with_micros = mode.uses_timestamp();
    if with_micros {
        select.push_str(", ");
        select.push_str(&schema::ts_micros_expr(d, &ts));
    }
    let from = format!("SELECT {select} FROM {}", d.quote(t.table));
    let (sql, limited) = match mode {
        Mode::TimestampIncrementing => {
            let up = p(upper_us, &mut params);
            let mut w = schema::ts_compare(d, &ts, "<", &up);
            if let (Some(last_ts), Some(last_id)) = (offset.timestamp_us, offset.incrementing) {
                let a = p(last_ts, &mut params);
                let b = p(last_ts, &mut params);
                let c = p(last_id, &mut params);
                w = format!(
                    "{w} AND ({} OR ({} AND {id} > {c}))",
                    schema::ts_compare(d, &ts, ">", &a),
                    schema::ts_compare(d, &ts, "=", &b)
                );
            }
            (
                format!("{from} WHERE {w} ORDER BY {ts}, {id} LIMIT {batch}"),
                true,
            )
        }
        Mode::Incrementing => {
            let w = match offset.incrementing {
                Some(last) => format!(" WHERE {id} > {}", p(last, &mut params)),
                None => String::new(),
            };
            (format!("{from}{w} ORDER BY {id} LIMIT {batch}"), true)
        }
        Mode::Timestamp => {
            // No LIMIT: a batch cut inside a run of equal timestamps would lose the rest.
            let up = p(upper_us, &mut params);
            let mut w = schema::ts_compare(d, &ts, "<", &up);
            if let Some(last) = offset.timestamp_us {
                let a = p(last, &mut params);
                w = format!("{w} AND {}", schema::ts_compare(d, &ts, ">", &a));
            }
            (format!("{from} WHERE {w} ORDER BY {ts}"), false)
        }
        Mode::Bulk => (from, false),
    };
    PollQuery {
        sql,
        params,
        with_micros,
        limited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Kind;

    #[test]
    fn timestamp_incrementing_resumes_after_the_last_row_not_the_last_timestamp() {
        let cols = [Column {
            name: "id".into(),
            kind: Kind::Int,
            nullable: false,
            sql_type: "int".into(),
        }];
        let t = Target {
            dialect: Dialect::Postgres,
            table: "inventory",
            columns: &cols,
            ts: "modified",
            id: "id",
        };
        let off = SourceOffset {
            timestamp_us: Some(5_000),
            incrementing: Some(7),
        };
        let q = poll_query(t, Mode::TimestampIncrementing, &off, 9_000, 100);
        assert_eq!(q.params, vec![9_000, 5_000, 5_000, 7]);
        assert!(q.sql.contains("\"id\" > $4"), "{}", q.sql);
        assert!(
            q.sql.ends_with("ORDER BY \"modified\", \"id\" LIMIT 100"),
            "{}",
            q.sql
        );
        let first = poll_query(
            t,
            Mode::TimestampIncrementing,
            &SourceOffset::default(),
            9_000,
            100,
        );
        assert_eq!(first.params, vec![9_000]);
        let inc = poll_query(t, Mode::Incrementing, &off, 9_000, 100);
        assert_eq!(inc.params, vec![7]);
        assert!(!inc.with_micros);
        let bulk = poll_query(t, Mode::Bulk, &off, 9_000, 100);
        assert!(bulk.params.is_empty() && !bulk.limited);
    }
}
