//! `aisle inventory init`: the inventory table of the system Aisle replaces, created in any of
//! the three dialects, with its seven seed rows (COCO spellings, so they join with the camera's
//! detections).
//!
//! `modified` is maintained by the database on UPDATE (MySQL's `ON UPDATE`, a trigger on
//! PostgreSQL and SQLite), because query-based capture only sees changes that move it.

use crate::db::{Db, Dialect};
use crate::error::{InventoryError, Result};
use sqlx::{Executor, Row};
use std::path::Path;

/// The seed rows: `(name, upsell_item, count)`.
pub const SEED_ROWS: [(&str, &str, i32); 7] = [
    ("cup", "plate", 100),
    ("bowl", "cup", 10),
    ("fork", "spoon", 200),
    ("spoon", "fork", 10),
    ("sports ball", "soccer goal", 2),
    ("tennis racket", "tennis ball", 10),
    ("frisbee", "frisbee goal", 100),
];

/// The embedded default: `sqlite://<data_dir>/inventory.db`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("inventory.db").display())
}

/// What [`init`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitSummary {
    /// Rows inserted (0 when the table already had rows).
    pub inserted: u64,
    /// Rows in the table afterwards.
    pub rows: u64,
}

/// The statements creating `table` (idempotent).
pub fn ddl(dialect: Dialect, table: &str) -> Vec<String> {
    let t = dialect.quote(table);
    let base = table.replace('.', "_");
    let idx = dialect.quote(&format!("{base}_modified"));
    match dialect {
        Dialect::MySql => vec![format!(
            "CREATE TABLE IF NOT EXISTS {t} (\
             `id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY, `name` VARCHAR(100), \
             `upsell_item` VARCHAR(200), `count` INT, \
             `modified` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3), \
             INDEX {idx} (`modified`))"
        )],
        Dialect::Postgres => {
            let func = dialect.quote(&format!("{base}_touch_modified"));
            let trig = dialect.quote(&format!("{base}_touch"));
            vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {t} (\
                     id SERIAL PRIMARY KEY, name VARCHAR(100), upsell_item VARCHAR(200), count INTEGER, \
                     modified TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"
                ),
                format!("CREATE INDEX IF NOT EXISTS {idx} ON {t} (modified)"),
                format!(
                    "CREATE OR REPLACE FUNCTION {func}() RETURNS trigger AS $$ BEGIN \
                     IF NEW.modified = OLD.modified THEN NEW.modified := clock_timestamp() AT TIME ZONE 'UTC'; END IF; \
                     RETURN NEW; END $$ LANGUAGE plpgsql"
                ),
                format!("DROP TRIGGER IF EXISTS {trig} ON {t}"),
                format!(
                    "CREATE TRIGGER {trig} BEFORE UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {func}()"
                ),
            ]
        }
        Dialect::Sqlite => {
            let trig = dialect.quote(&format!("{base}_touch"));
            vec![
                format!(
                    "CREATE TABLE IF NOT EXISTS {t} (\
                     id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(100), upsell_item VARCHAR(200), \
                     count INTEGER, \
                     modified TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))"
                ),
                format!("CREATE INDEX IF NOT EXISTS {idx} ON {t} (modified)"),
                format!(
                    "CREATE TRIGGER IF NOT EXISTS {trig} AFTER UPDATE ON {t} FOR EACH ROW \
                     WHEN NEW.modified = OLD.modified BEGIN \
                     UPDATE {t} SET modified = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = NEW.id; END"
                ),
            ]
        }
    }
}

/// Creates `table` and, if it is empty, inserts the seed rows. A SQLite file is created if
/// missing (with its directory).
pub async fn init(url: &str, table: &str) -> Result<InitSummary> {
    if !crate::db::is_identifier(table) {
        return Err(InventoryError::Config(format!(
            "table `{table}` is not a plain SQL identifier"
        )));
    }
    let url = create_sqlite_file(url)?;
    let db = Db::connect(&url).await?;
    for stmt in ddl(db.dialect, table) {
        db.pool
            .execute(stmt.as_str())
            .await
            .map_err(InventoryError::db(format!("creating table `{table}`")))?;
    }
    let before = count_rows(&db, table).await?;
    let mut inserted = 0;
    if before == 0 {
        let p = |n| db.dialect.param(n);
        let values: Vec<String> = (0..SEED_ROWS.len())
            .map(|i| format!("({}, {}, {})", p(3 * i + 1), p(3 * i + 2), p(3 * i + 3)))
            .collect();
        let sql = format!(
            "INSERT INTO {} ({}, {}, {}) VALUES {}",
            db.dialect.quote(table),
            db.dialect.quote("name"),
            db.dialect.quote("upsell_item"),
            db.dialect.quote("count"),
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (name, upsell, n) in SEED_ROWS {
            q = q.bind(name).bind(upsell).bind(n);
        }
        inserted = q
            .execute(&db.pool)
            .await
            .map_err(InventoryError::db(format!(
                "inserting the seed rows into `{table}`"
            )))?
            .rows_affected();
    }
    let rows = count_rows(&db, table).await? as u64;
    db.pool.close().await;
    Ok(InitSummary { inserted, rows })
}

/// Rows in `table`.
async fn count_rows(db: &Db, table: &str) -> Result<i64> {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS {}) FROM {}",
        int_type(db.dialect),
        db.dialect.quote(table)
    );
    let row = sqlx::query(&sql)
        .fetch_one(&db.pool)
        .await
        .map_err(InventoryError::db(format!("counting rows of `{table}`")))?;
    row.try_get::<i64, _>(0)
        .map_err(InventoryError::db(format!("counting rows of `{table}`")))
}

/// The integer type `CAST` understands in each dialect.
pub(crate) fn int_type(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => "SIGNED",
        Dialect::Postgres => "BIGINT",
        Dialect::Sqlite => "INTEGER",
    }
}

/// For `sqlite://PATH`: creates PATH's directory and asks sqlx to create the file
/// (`mode=rwc`); other URLs unchanged.
fn create_sqlite_file(url: &str) -> Result<String> {
    let Some(rest) = url.strip_prefix("sqlite://") else {
        return Ok(url.to_string());
    };
    let path = rest.split('?').next().unwrap_or_default();
    if let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            InventoryError::Config(format!("cannot create directory {}: {e}", dir.display()))
        })?;
    }
    Ok(if url.contains('?') {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    })
}

/// Creates the seed table in `data_dir/inventory.db` (what `aisle demo` runs on) and returns
/// its URL.
pub async fn init_sqlite(data_dir: &Path, table: &str) -> Result<(String, InitSummary)> {
    let url = sqlite_url(data_dir);
    let summary = init(&url, table).await?;
    Ok((url, summary))
}
