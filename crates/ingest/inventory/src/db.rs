//! The three SQL dialects behind one pool: connecting (UTC sessions), quoting, the database's
//! clock, and the table's column metadata (what JDBC's `DatabaseMetaData` gives Kafka Connect).
//!
//! Queries go through sqlx's `Any` driver with runtime SQL (no macros). `Any` decodes only
//! integers, floats, text and bytes, so every selected column is converted in SQL to one of
//! those (see `schema.rs`): timestamps arrive as epoch milliseconds computed by the database.

use crate::error::{InventoryError, Result};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL and MariaDB.
    MySql,
    /// PostgreSQL.
    Postgres,
    /// SQLite (a file).
    Sqlite,
}

impl Dialect {
    /// The dialect of a URL, from its scheme.
    pub fn of_url(url: &str) -> Result<Dialect> {
        let scheme = url.split(':').next().unwrap_or_default();
        Ok(match scheme {
            "mysql" | "mariadb" => Dialect::MySql,
            "postgres" | "postgresql" => Dialect::Postgres,
            "sqlite" => Dialect::Sqlite,
            _ => {
                return Err(InventoryError::Config(format!(
                    "database URL `{}` must start with mysql://, mariadb://, postgres:// or sqlite://",
                    redact(url)
                )));
            }
        })
    }

    /// Quotes an identifier (`schema.table` quoted part by part).
    pub fn quote(&self, ident: &str) -> String {
        let (open, close) = match self {
            Dialect::MySql => ('`', '`'),
            _ => ('"', '"'),
        };
        ident
            .split('.')
            .map(|p| format!("{open}{p}{close}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The `n`-th (from 1) bind placeholder.
    pub fn param(&self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            _ => "?".into(),
        }
    }
}

/// Whether `s` is a plain identifier, optionally `schema.table`: safe to splice into SQL once
/// quoted.
pub fn is_identifier(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 64
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !p.starts_with(|c: char| c.is_ascii_digit())
    };
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| part(p))
}

/// The URL with any password replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[start..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A connected database.
#[derive(Clone, Debug)]
pub struct Db {
    /// The pool (two connections: one polls, one scans for deletes).
    pub pool: AnyPool,
    /// Its dialect.
    pub dialect: Dialect,
    /// The URL without its password.
    pub url_redacted: String,
}

/// One column as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMeta {
    /// Column name.
    pub name: String,
    /// Declared type, lower case (`int`, `varchar(100)`, `timestamp without time zone`, ...).
    pub sql_type: String,
    /// Whether NULL is allowed.
    pub nullable: bool,
}

impl Db {
    /// Connects (one attempt). Sessions run in UTC so timestamps without a zone mean UTC, as
    /// the JDBC connector's default `db.timezone`.
    pub async fn connect(url: &str) -> Result<Db> {
        let dialect = Dialect::of_url(url)?;
        if let Some(rest) = url.strip_prefix("sqlite://")
            && !url.contains("mode=rwc")
        {
            let path = rest.split('?').next().unwrap_or_default();
            if !path.is_empty() && path != ":memory:" && !std::path::Path::new(path).exists() {
                return Err(InventoryError::Config(format!(
                    "SQLite database {path} does not exist (create it with `aisle inventory init --db {url}`)"
                )));
            }
        }
        install_default_drivers();
        let url_redacted = redact(url);
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match dialect {
                        Dialect::MySql => {
                            conn.execute("SET time_zone = '+00:00'").await?;
                        }
                        Dialect::Postgres => {
                            conn.execute("SET TIME ZONE 'UTC'").await?;
                        }
                        Dialect::Sqlite => {
                            conn.execute("PRAGMA busy_timeout = 5000").await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .map_err(InventoryError::db(format!("connecting to {url_redacted}")))?;
        Ok(Db {
            pool,
            dialect,
            url_redacted,
        })
    }

    /// Connects, retrying with backoff for up to `timeout` (a database that is still starting).
    pub async fn connect_retrying(url: &str, timeout: Duration) -> Result<Db> {
        let start = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(200);
        loop {
            match Db::connect(url).await {
                Ok(db) => return Ok(db),
                Err(e) if e.is_transient() && !is_permanent_connect_error(&e) => {
                    if start.elapsed() >= timeout {
                        return Err(InventoryError::Unreachable {
                            url: redact(url),
                            secs: timeout.as_secs(),
                            last: e.to_string(),
                        });
                    }
                    tracing::warn!(url = %redact(url), error = %e, "database unreachable; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The database's clock, ms since the epoch (the upper bound of timestamp queries comes
    /// from here, not from this machine, so clock skew cannot skip rows).
    pub async fn now_ms(&self) -> Result<i64> {
        let sql = match self.dialect {
            Dialect::MySql => "SELECT CAST(ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS SIGNED)",
            Dialect::Postgres => {
                "SELECT CAST(ROUND(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)"
            }
            Dialect::Sqlite => {
                "SELECT CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"
            }
        };
        let row = sqlx::query(sql)
            .fetch_one(&self.pool)
            .await
            .map_err(InventoryError::db("reading the clock"))?;
        row.try_get::<i64, _>(0)
            .map_err(InventoryError::db("reading the clock"))
    }

    /// The table's columns in order; empty if the table does not exist.
    pub async fn columns(&self, table: &str) -> Result<Vec<ColumnMeta>> {
        let (schema, name) = match table.split_once('.') {
            Some((s, t)) => (Some(s), t),
            None => (None, table),
        };
        let ctx = || format!("reading the columns of `{table}`");
        let rows = match self.dialect {
            Dialect::MySql => {
                let schema_sql = if schema.is_some() { "?" } else { "DATABASE()" };
                let sql = format!(
                    "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), CAST(is_nullable AS CHAR) \
                     FROM information_schema.columns WHERE table_schema = {schema_sql} AND table_name = ? \
                     ORDER BY ordinal_position"
                );
                let mut q = sqlx::query(&sql);
                if let Some(s) = schema {
                    q = q.bind(s.to_string());
                }
                q.bind(name.to_string()).fetch_all(&self.pool).await
            }
            Dialect::Postgres => {
                let schema_sql = if schema.is_some() {
                    "$2"
                } else {
                    "current_schema()"
                };
                let sql = format!(
                    "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT), CAST(is_nullable AS TEXT) \
                     FROM information_schema.columns WHERE table_schema = {schema_sql} AND table_name = $1 \
                     ORDER BY ordinal_position"
                );
                let mut q = sqlx::query(&sql).bind(name.to_string());
                if let Some(s) = schema {
                    q = q.bind(s.to_string());
                }
                q.fetch_all(&self.pool).await
            }
            Dialect::Sqlite => {
                // `pk` > 0 on an INTEGER PRIMARY KEY means the rowid: never NULL.
                sqlx::query(
                    "SELECT name, type, CASE WHEN \"notnull\" = 1 OR pk > 0 THEN 'NO' ELSE 'YES' END \
                     FROM pragma_table_info(?)",
                )
                .bind(name.to_string())
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(InventoryError::db(ctx()))?;
        rows.iter()
            .map(|r| {
                let text = |i| {
                    crate::schema::get_text(r, i)
                        .map(Option::unwrap_or_default)
                        .map_err(InventoryError::db(ctx()))
                };
                let (name, ty, nullable) = (text(0)?, text(1)?, text(2)?);
                Ok(ColumnMeta {
                    name,
                    sql_type: ty.to_ascii_lowercase(),
                    nullable: nullable.eq_ignore_ascii_case("YES"),
                })
            })
            .collect()
    }
}

/// Connection errors no wait will fix: a bad URL or bad credentials, or a SQLite file that
/// does not exist.
fn is_permanent_connect_error(e: &InventoryError) -> bool {
    match e {
        InventoryError::Db { source, .. } => match source {
            sqlx::Error::Configuration(_) => true,
            sqlx::Error::Database(db) => {
                // 1045/28P01: access denied; 1049/3D000: unknown database; SQLite code 14:
                // cannot open the file.
                matches!(
                    db.code().as_deref(),
                    Some("1045" | "28000" | "28P01" | "1049" | "42000" | "3D000" | "14")
                )
            }
            _ => false,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_dialects_and_quoting() {
        assert_eq!(
            redact("mysql://root:aisle@127.0.0.1:3306/shop"),
            "mysql://root:***@127.0.0.1:3306/shop"
        );
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(Dialect::of_url("mariadb://h/db").unwrap(), Dialect::MySql);
        assert_eq!(
            Dialect::of_url("postgresql://h/db").unwrap(),
            Dialect::Postgres
        );
        let err = Dialect::of_url("oracle://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("oracle://u:***@h/db") && !err.contains("secret"),
            "{err}"
        );
        assert_eq!(Dialect::MySql.quote("shop.inventory"), "`shop`.`inventory`");
        assert_eq!(Dialect::Postgres.quote("inventory"), "\"inventory\"");
        assert!(is_identifier("inventory") && is_identifier("shop.inventory_2"));
        assert!(!is_identifier("a.b.c") && !is_identifier("x;drop") && !is_identifier("1x"));
    }
}
