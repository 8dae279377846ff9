//! `aisle connect inventory`, `aisle inventory init` and `aisle bench inventory` (library:
//! `aisle-inventory`).

use crate::config::Config;
use crate::{exit, runtime};
use aisle_inventory::{Connector, Db, InventoryConfig, InventoryError, Mode, SEED_ROWS, sqlx};
use aisle_log::{ConsumerConfig, Offset, TopicPartition};
use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

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

/// `aisle bench inventory`.
#[derive(Debug, Args)]
pub struct BenchInventoryArgs {
    /// Database to benchmark on (a fresh table is created there and dropped afterwards).
    #[arg(long, value_name = "URL")]
    pub db: String,
    /// Rows of the initial capture.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// UPDATEs whose latency (commit → record readable in the rekeyed topic) is measured.
    #[arg(long, default_value_t = 1000)]
    pub updates: u64,
    /// UPDATEs per second during the latency phase.
    #[arg(long, default_value_t = 50)]
    pub update_rate: u64,
    /// Poll interval of the latency phase, ms.
    #[arg(long, default_value_t = 100)]
    pub poll_interval_ms: u64,
    /// Timestamp delay, ms (see `connect inventory --help`).
    #[arg(long, default_value_t = 200)]
    pub timestamp_delay_ms: u64,
    /// Rows per query and transaction.
    #[arg(long, default_value_t = 10_000)]
    pub batch_rows: u32,
}

fn db_url(config: &Config, db: &DbArgs) -> String {
    db.db
        .clone()
        .unwrap_or_else(|| config.inventory.url_or_default(&config.data_dir))
}

/// Maps library errors to exit codes: configuration and schema problems are CONFIG (3), an
/// unreachable database UNAVAILABLE (5).
fn exit_error(e: InventoryError) -> anyhow::Error {
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
        connector
            .run(crate::commands::registry::shutdown_signal())
            .await
    }
    .map_err(exit_error)?;
    println!(
        "inventory: {} rows captured, {} rekeyed, {} tombstones, {} dead letters",
        summary.rows, summary.rekeyed, summary.tombstones, summary.dead_letters
    );
    Ok(())
}

/// `aisle bench inventory`: initial capture rows/s, then UPDATE → rekeyed-record latency.
pub async fn bench(config: &Config, args: BenchInventoryArgs) -> anyhow::Result<()> {
    let suffix = format!("{:x}", aisle_log::now_ms());
    let table = format!("aisle_bench_inventory_{suffix}");
    let db = Db::connect(&args.db).await.map_err(exit_error)?;
    aisle_inventory::init(&args.db, &table)
        .await
        .map_err(exit_error)?;
    let t = db.dialect.quote(&table);
    sqlx::query(&format!("DELETE FROM {t}"))
        .execute(&db.pool)
        .await
        .context("emptying the bench table")?;
    // Load: multi-row INSERTs, one distinct name per row (so each row is its own key).
    let load = Instant::now();
    let pb = progress(args.rows, "load");
    let chunk = 1000u64;
    let mut next = 0u64;
    while next < args.rows {
        let n = chunk.min(args.rows - next);
        let values: Vec<String> = (next..next + n)
            .map(|i| {
                let (_, upsell, count) = SEED_ROWS[(i % 7) as usize];
                format!("('item-{i:07}', '{upsell}', {count})")
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO {t} (name, upsell_item, count) VALUES {}",
            values.join(",")
        ))
        .execute(&db.pool)
        .await
        .context("loading the bench table")?;
        next += n;
        pb.set_position(next);
    }
    pb.finish_and_clear();
    let load_secs = load.elapsed().as_secs_f64();
    let first_id: i64 = sqlx::Row::try_get(
        &sqlx::query(&format!(
            "SELECT CAST(MIN(id) AS {}) FROM {t}",
            int_cast(db.dialect)
        ))
        .fetch_one(&db.pool)
        .await
        .context("reading the first id")?,
        0,
    )?;
    tokio::time::sleep(Duration::from_millis(args.timestamp_delay_ms + 50)).await;

    let opened = runtime::open_log(config).await?;
    let log = opened.log.clone();
    let registry = runtime::registry(config, &log).await?;
    let cfg = InventoryConfig {
        db_url: Some(args.db.clone()),
        table: table.clone(),
        poll_interval_ms: args.poll_interval_ms,
        timestamp_delay_ms: args.timestamp_delay_ms,
        delete_scan_interval_ms: 0,
        batch_rows: args.batch_rows,
        name: format!("bench-{suffix}"),
        jdbc_topic: format!("bench_inventory_jdbc_{suffix}"),
        rekeyed_topic: format!("bench_inventory_rekeyed_{suffix}"),
        offsets_topic: format!("bench_inventory_offsets_{suffix}"),
        dlq_topic: Some(format!("bench_inventory_{suffix}.dlq")),
        ..Default::default()
    };
    let connector = Connector::start(cfg.clone(), &args.db, log.clone(), registry.clone(), false)
        .await
        .map_err(exit_error)?;
    let stats = connector.stats();
    let pb = progress(args.rows, "capture");
    let watch = {
        let stats = stats.clone();
        let pb = pb.clone();
        tokio::spawn(async move {
            loop {
                pb.set_position(stats.rows.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let start = Instant::now();
    let summary = connector.run_until_caught_up().await.map_err(exit_error)?;
    let capture_secs = start.elapsed().as_secs_f64();
    watch.abort();
    pb.finish_and_clear();
    anyhow::ensure!(
        summary.rows == args.rows && summary.rekeyed == args.rows,
        "captured {} rows ({} rekeyed), expected {}",
        summary.rows,
        summary.rekeyed,
        args.rows
    );

    // Latency: the connector runs as a service; UPDATEs are spread at --update-rate, each on
    // its own row (its own key), timed from the UPDATE's commit to the record's arrival.
    let mut consumer = log.consumer(&ConsumerConfig {
        client_id: "aisle-bench-inventory".into(),
        ..Default::default()
    })?;
    let tp = TopicPartition::new(&cfg.rekeyed_topic, 0);
    consumer.assign(&[(tp.clone(), Offset::End)])?;
    consumer.poll(Duration::from_millis(100)).await?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Started (offset and live keys read back) before the first UPDATE, so start-up is not
    // counted as latency.
    let service = Connector::start(cfg.clone(), &args.db, log.clone(), registry, false)
        .await
        .map_err(exit_error)?;
    let service = tokio::spawn(service.run(async {
        let _ = stop_rx.await;
    }));
    let sent: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let updater = {
        let sent = sent.clone();
        let pool = db.pool.clone();
        let t = t.clone();
        let (updates, rate, rows) = (args.updates, args.update_rate.max(1), args.rows);
        tokio::spawn(async move {
            let gap = Duration::from_secs_f64(1.0 / rate as f64);
            for k in 0..updates {
                let i = (k * 7919) % rows;
                let name = format!("item-{i:07}");
                // By primary key (row i has id first_id + i): the UPDATE itself stays cheap.
                sqlx::query(&format!(
                    "UPDATE {t} SET count = count + 1 WHERE id = {}",
                    first_id + i as i64
                ))
                .execute(&pool)
                .await?;
                sent.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name, Instant::now());
                tokio::time::sleep(gap).await;
            }
            anyhow::Ok(())
        })
    };
    let mut lat = Vec::with_capacity(args.updates as usize);
    let deadline =
        Instant::now() + Duration::from_secs(args.updates / args.update_rate.max(1) + 60);
    while (lat.len() as u64) < args.updates && Instant::now() < deadline {
        for rec in consumer.poll(Duration::from_millis(50)).await? {
            let now = Instant::now();
            let Some(key) = rec
                .key
                .as_ref()
                .map(|k| String::from_utf8_lossy(k).into_owned())
            else {
                continue;
            };
            if let Some(t0) = sent.lock().unwrap_or_else(|e| e.into_inner()).remove(&key) {
                lat.push(now.duration_since(t0).as_secs_f64() * 1000.0);
            }
        }
    }
    updater.await??;
    let _ = stop_tx.send(());
    service.await?.map_err(exit_error)?;
    let _ = sqlx::query(&format!("DROP TABLE {t}"))
        .execute(&db.pool)
        .await;
    anyhow::ensure!(
        lat.len() as u64 == args.updates,
        "only {} of {} updates arrived",
        lat.len(),
        args.updates
    );
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    println!("runtime: {} ; database: {}", log.runtime(), db.url_redacted);
    println!(
        "load      {:>9} rows in {:>6.1} s (multi-row INSERTs, not part of the figure)",
        args.rows, load_secs
    );
    println!(
        "capture   {:>9} rows in {:>6.1} s = {:>9.0} rows/s (batch {} rows/transaction, both topics + offsets)",
        args.rows,
        capture_secs,
        args.rows as f64 / capture_secs,
        args.batch_rows
    );
    println!(
        "latency   {} UPDATEs at {}/s, poll {} ms, delay {} ms: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        args.updates,
        args.update_rate,
        args.poll_interval_ms,
        args.timestamp_delay_ms,
        pct(0.50),
        pct(0.99),
        lat[lat.len() - 1]
    );
    Ok(())
}

fn int_cast(d: aisle_inventory::Dialect) -> &'static str {
    match d {
        aisle_inventory::Dialect::MySql => "SIGNED",
        aisle_inventory::Dialect::Postgres => "BIGINT",
        aisle_inventory::Dialect::Sqlite => "INTEGER",
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>8} [{bar:40}] {human_pos}/{human_len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_message(what.to_string());
    pb
}
