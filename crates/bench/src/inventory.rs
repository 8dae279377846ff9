//! `aisle bench inventory`: the inventory connector on a fresh table of the given database.
//! [`load`] creates the table and fills it with multi-row INSERTs (one distinct name per row,
//! so each row is its own key) before anything else is opened; [`run`] then measures the
//! initial capture in rows/s (both topics and the offsets, one transaction per batch) and, with
//! the connector running as a service, the latency from an UPDATE's commit to its record being
//! readable in the rekeyed topic. The table is dropped afterwards; figures go to stdout.

use crate::{BenchError, Target};
use aisle_inventory::{Connector, Db, Dialect, InventoryConfig, SEED_ROWS, sqlx};
use aisle_log::{ConsumerConfig, Offset, TopicPartition};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
// tokio's clock (the workspace's rule: paused-time tests control it); unpaused it is std's.
use tokio::time::Instant;

/// What `aisle bench inventory` runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Database to benchmark on (`--db`): a fresh table is created there and dropped afterwards.
    pub db_url: String,
    /// Rows of the initial capture (`--rows`).
    pub rows: u64,
    /// UPDATEs whose latency is measured (`--updates`).
    pub updates: u64,
    /// UPDATEs per second during the latency phase (`--update-rate`; 0 counts as 1).
    pub update_rate: u64,
    /// Poll interval of the latency phase, ms (`--poll-interval-ms`).
    pub poll_interval_ms: u64,
    /// The connector's timestamp delay, ms (`--timestamp-delay-ms`).
    pub timestamp_delay_ms: u64,
    /// Rows per query and transaction (`--batch-rows`).
    pub batch_rows: u32,
}

/// The bench table, created and loaded by [`load`]: what [`run`] captures.
pub struct Loaded {
    opts: Options,
    db: Db,
    /// Hex milliseconds naming the table, the connector and its topics.
    suffix: String,
    table: String,
    /// Row `i` has id `first_id + i`.
    first_id: i64,
    load_secs: f64,
}

/// Connects to [`Options::db_url`], creates a fresh table `aisle_bench_inventory_<suffix>` and
/// loads [`Options::rows`] rows into it, then waits out the timestamp delay. Nothing of the
/// runtime is needed yet: a database that is not there fails before the log is opened. The
/// connector's own errors ([`aisle_inventory::InventoryError`]) are the root of
/// [`BenchError::Run`].
pub async fn load(opts: Options) -> Result<Loaded, BenchError> {
    Ok(load_table(opts).await?)
}

async fn load_table(opts: Options) -> anyhow::Result<Loaded> {
    let suffix = format!("{:x}", aisle_log::now_ms());
    let table = format!("aisle_bench_inventory_{suffix}");
    let db = Db::connect(&opts.db_url).await?;
    aisle_inventory::init(&opts.db_url, &table).await?;
    let t = db.dialect.quote(&table);
    sqlx::query(&format!("DELETE FROM {t}"))
        .execute(&db.pool)
        .await
        .context("emptying the bench table")?;
    // Load: multi-row INSERTs, one distinct name per row (so each row is its own key).
    let load = Instant::now();
    let pb = progress(opts.rows, "load");
    let chunk = 1000u64;
    let mut next = 0u64;
    while next < opts.rows {
        let n = chunk.min(opts.rows - next);
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
    tokio::time::sleep(Duration::from_millis(opts.timestamp_delay_ms + 50)).await;
    Ok(Loaded {
        opts,
        db,
        suffix,
        table,
        first_id,
        load_secs,
    })
}

/// Captures the loaded table into fresh topics of `target` (rows/s), then times
/// [`Options::updates`] UPDATEs at [`Options::update_rate`] from commit to arrival in the
/// rekeyed topic (p50/p99/max), drops the table and prints the figures.
pub async fn run(target: &Target, loaded: Loaded) -> Result<(), BenchError> {
    Ok(bench(target, loaded).await?)
}

async fn bench(target: &Target, loaded: Loaded) -> anyhow::Result<()> {
    let Loaded {
        opts: args,
        db,
        suffix,
        table,
        first_id,
        load_secs,
    } = loaded;
    let t = db.dialect.quote(&table);
    let log = target.log.clone();
    let registry = target.registry.clone();
    let cfg = InventoryConfig {
        db_url: Some(args.db_url.clone()),
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
    let connector = Connector::start(
        cfg.clone(),
        &args.db_url,
        log.clone(),
        registry.clone(),
        false,
    )
    .await?;
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
    let summary = connector.run_until_caught_up().await?;
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
    let service = Connector::start(cfg.clone(), &args.db_url, log.clone(), registry, false).await?;
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
    service.await??;
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

/// The SQL type `CAST(... AS ?)` takes for a 64-bit integer in `d`.
fn int_cast(d: Dialect) -> &'static str {
    match d {
        Dialect::MySql => "SIGNED",
        Dialect::Postgres => "BIGINT",
        Dialect::Sqlite => "INTEGER",
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
