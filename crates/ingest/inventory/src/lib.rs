//! `aisle-inventory`: the store's inventory table captured into the log, the way Kafka
//! Connect's JDBC source did it for the system Aisle replaces, without its losses.
//!
//! The connector polls a MySQL/MariaDB, PostgreSQL or SQLite table (modes
//! `timestamp+incrementing`, `incrementing`, `timestamp`, `bulk`), maps its columns to an Avro
//! record as the JDBC connector does (nullable columns as `["null", T]`, timestamps as
//! `timestamp-millis`, record named after the table), registers it as `<topic>-value`, and
//! writes each row, in one transaction, to `mysql_tables_jdbc_inventory` (no key),
//! `inventory_rekeyed` (keyed by `name`, compacted) and the source offset
//! (`_aisle_connect_offsets`, compacted). A periodic key scan turns rows that disappeared
//! into tombstones; rows with a NULL `name` go to `inventory.dlq` with the reason. Database
//! outages are retried with backoff; nothing is written twice or lost.
//!
//! Main items: [`Connector`] ([`Connector::start`], [`Connector::run`]) and [`run()`];
//! [`InventoryConfig`] and [`Mode`]; [`init()`] / [`init_sqlite`] (the seed table);
//! [`InventoryError`].
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use aisle_inventory::{Connector, InventoryConfig, init_sqlite};
//! use std::sync::Arc;
//!
//! let tmp = aisle_testkit::temp_embedded_log().unwrap();
//! let log: Arc<dyn aisle_log::Log> = Arc::new(tmp.log.clone());
//! let store = aisle_registry::SchemaStore::open(log.clone()).await.unwrap();
//! let registry = Arc::new(aisle_registry::LocalRegistry::new(store));
//! let (url, seeded) = init_sqlite(tmp.dir.path(), "inventory").await.unwrap();
//! assert_eq!(seeded.inserted, 7);
//!
//! let cfg = InventoryConfig { timestamp_delay_ms: 0, ..Default::default() };
//! let mut connector = Connector::start(cfg, &url, log.clone(), registry, false).await.unwrap();
//! assert_eq!(connector.poll_once().await.unwrap(), 7);
//! let rekeyed = aisle_testkit::read_all(&*log, "inventory_rekeyed").await.unwrap();
//! assert_eq!(rekeyed.len(), 7);
//! # });
//! ```
//!
//! # Layout
//! * `config.rs`: [`InventoryConfig`], [`Mode`].
//! * `db.rs`: dialects, connecting, quoting, the database clock, column metadata.
//! * `schema.rs`: SQL types → Avro, the schema, rows → Avro values.
//! * `query.rs`: each mode's poll query; the timestamp delay and its trade-off.
//! * `offsets.rs`: source offsets in a compacted topic; live keys at start.
//! * `capture.rs`: [`Connector`]: start-up checks, the transactional poll loop, delete scans,
//!   retries, dead letters.
//! * `table.rs`: the mapped table, checks of the configured columns, schema registration,
//!   the connector's topics.
//! * `seed.rs`: `aisle inventory init`: the table in each dialect and its seven seed rows.
//! * `error.rs`: [`InventoryError`].

mod capture;
pub mod config;
pub mod db;
mod error;
pub mod offsets;
pub mod query;
pub mod rekey;
pub mod schema;
pub mod seed;
mod table;

pub use capture::{Connector, Stats, Summary, run};
pub use config::{InventoryConfig, Mode, OFFSETS_TOPIC};
pub use db::{Db, Dialect};
pub use error::{InventoryError, Result};
pub use seed::{InitSummary, SEED_ROWS, init, init_sqlite, sqlite_url};
/// The SQL toolkit the connector uses, for callers that script the table (tests, benches).
pub use sqlx;
