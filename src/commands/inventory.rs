//! `aisle connect inventory` and `aisle inventory init` (library: `aisle-inventory`).
//! `aisle bench inventory` is in `aisle-bench` (`crates/bench/src/inventory.rs`); its errors get
//! this file's exit codes ([`exit_error`]).

use crate::config::Config;
use crate::{exit, runtime};
use aisle_inventory::{Connector, InventoryConfig, InventoryError, Mode};
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum ConnectCmd {
    /// Capture the store's inventory table (MySQL/MariaDB, PostgreSQL or SQLite) into
    /// `mysql_tables_jdbc_inventory` (no key, as Kafka Connect's JDBC source writes it) and,
    /// in the same transaction, `inventory_rekeyed` (keyed by name, compacted). New and changed
    /// rows are found by `modified`/`id` (mode timestamp+incrementing) every poll interval;
    /// deleted rows become tombstones on `inventory_rekeyed`; rows with a NULL name go to
    /// `inventory.dlq`. Where it got to is kept in `_aisle_connect_offsets`, so a restart
    /// resumes without losing or repeating a row. Runs until Ctrl-C (or, with --once, until
    /// caught up).
    ///
    /// Example: aisle --kafka 127.0.0.1:9092 connect inventory --db mysql://root:aisle@127.0.0.1:3306/shop
    Inventory(ConnectInventoryArgs),
}

#[derive(Debug, Subcommand)]
pub enum InventoryCmd {
    /// Create the inventory table (id, name, upsell_item, count, modified) and, if it is
    /// empty, insert the seven seed rows (cup, bowl, fork, spoon, sports ball, tennis racket,
    /// frisbee). `modified` is kept up to date by the database on UPDATE.
    Init(InventoryInitArgs),
}

/// Where the table is (shared by `init` and `connect`).
#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// Database URL: mysql://USER:PASS@HOST:3306/DB, postgres://USER:PASS@HOST:5432/DB or
    /// sqlite://PATH [default: sqlite://DATA_DIR/inventory.db; config: inventory.db_url].
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Table to capture [default: inventory; config: inventory.table].
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
}

#[derive(Debug, Args)]
pub struct InventoryInitArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ConnectInventoryArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// timestamp+incrementing (inserts and updates; default), incrementing (inserts only),
    /// timestamp, or bulk (the whole table every poll).
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Timestamp column [default: modified].
    #[arg(long, value_name = "COLUMN")]
    pub timestamp_column: Option<String>,
    /// Incrementing column [default: id].
    #[arg(long, value_name = "COLUMN")]
    pub incrementing_column: Option<String>,
    /// Column whose value keys `inventory_rekeyed` [default: name].
    #[arg(long, value_name = "COLUMN")]
    pub key_column: Option<String>,
    /// Milliseconds between polls [default: 5000, as the JDBC connector].
    #[arg(long, value_name = "MS")]
    pub poll_interval_ms: Option<u64>,
    /// Rows stamped later than the database clock minus this wait one more poll, so a write
    /// transaction committing late is not missed [default: 200].
    #[arg(long, value_name = "MS")]
    pub timestamp_delay_ms: Option<u64>,
    /// Milliseconds between scans for deleted rows; 0 = never [default: 10000].
    #[arg(long, value_name = "MS")]
    pub delete_scan_interval_ms: Option<u64>,
    /// Forget the stored offset and capture the whole table again.
    #[arg(long)]
    pub rescan: bool,
    /// Capture what is there now, scan for deletes once, and exit.
    #[arg(long)]
    pub once: bool,
}

fn db_url(config: &Config, db: &DbArgs) -> String {
    db.db
        .clone()
        .unwrap_or_else(|| config.inventory.url_or_default(&config.data_dir))
}

/// Maps library errors to exit codes: configuration and schema problems are CONFIG (3), an
/// unreachable database UNAVAILABLE (5).
pub(crate) fn exit_error(e: InventoryError) -> anyhow::Error {
    let code = match &e {
        InventoryError::Config(_) | InventoryError::Schema(_) => exit::CONFIG,
        InventoryError::Unreachable { .. } => exit::UNAVAILABLE,
        InventoryError::Db { .. } if e.is_transient() => exit::UNAVAILABLE,
        _ => exit::FAILURE,
    };
    exit::fail(code, e.to_string())
}

pub async fn init(config: &Config, cmd: InventoryCmd) -> anyhow::Result<()> {
    let InventoryCmd::Init(args) = cmd;
    let url = db_url(config, &args.db);
    let table = args
        .db
        .table
        .clone()
        .unwrap_or_else(|| config.inventory.table.clone());
    let s = aisle_inventory::init(&url, &table)
        .await
        .map_err(exit_error)?;
    println!(
        "table `{table}` in {}: {} seed rows inserted, {} rows in total",
        aisle_inventory::db::redact(&url),
        s.inserted,
        s.rows
    );
    Ok(())
}

fn connector_config(config: &Config, a: &ConnectInventoryArgs) -> anyhow::Result<InventoryConfig> {
    let mut c = config.inventory.clone();
    c.db_url = Some(db_url(config, &a.db));
    if let Some(t) = &a.db.table {
        c.table = t.clone();
    }
    if let Some(m) = &a.mode {
        c.mode = Mode::parse(m).map_err(exit_error)?;
    }
    let set = |dst: &mut String, v: &Option<String>| {
        if let Some(v) = v {
            *dst = v.clone();
        }
    };
    set(&mut c.timestamp_column, &a.timestamp_column);
    set(&mut c.incrementing_column, &a.incrementing_column);
    set(&mut c.key_column, &a.key_column);
    c.poll_interval_ms = a.poll_interval_ms.unwrap_or(c.poll_interval_ms);
    c.timestamp_delay_ms = a.timestamp_delay_ms.unwrap_or(c.timestamp_delay_ms);
    c.delete_scan_interval_ms = a
        .delete_scan_interval_ms
        .unwrap_or(c.delete_scan_interval_ms);
    c.validate().map_err(exit_error)?;
    Ok(c)
}

pub async fn connect(config: &Config, cmd: ConnectCmd) -> anyhow::Result<()> {
    let ConnectCmd::Inventory(args) = cmd;
    // Installed first: a SIGTERM while the connector starts still stops it cleanly.
    let shutdown = crate::signal::shutdown_signal();
    let cfg = connector_config(config, &args)?;
    let url = cfg.db_url.clone().unwrap_or_default();
    let opened = runtime::open_log(config).await?;
    let registry = runtime::registry(config, &opened.log).await?;
    let connector = Connector::start(cfg, &url, opened.log.clone(), registry, args.rescan)
        .await
        .map_err(exit_error)?;
    let summary = if args.once {
        connector.run_until_caught_up().await
    } else {
        connector.run(shutdown).await
    }
    .map_err(exit_error)?;
    println!(
        "inventory: {} rows captured, {} rekeyed, {} tombstones, {} dead letters",
        summary.rows, summary.rekeyed, summary.tombstones, summary.dead_letters
    );
    Ok(())
}
