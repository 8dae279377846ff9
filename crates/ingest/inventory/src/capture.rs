//! The connector: start-up checks, the poll loop, transactions, delete scans, retries.
//!
//! Each poll is one transaction (per `batch_rows`) holding the rows for
//! `mysql_tables_jdbc_inventory`, the same rows keyed by name (or store and name, `rekey.rs`)
//! for `inventory_rekeyed`, dead letters, and the new source offset. A crash anywhere leaves
//! either all of it or none of it, and the next start reads the offset back, so no row is lost
//! or repeated.

use crate::config::{InventoryConfig, Mode};
use crate::db::Db;
use crate::error::{InventoryError, Result};
use crate::offsets::{self, SourceOffset};
use crate::query::{self, Target};
use crate::rekey;
use crate::schema;
use crate::table::{Table, ensure_topics, map_table};
use aisle_events::dead_letter::DeadLetter;
use aisle_events::wire;
use aisle_log::{Log, ProduceRecord, ProducerConfig, TxProducer};
use aisle_registry::SchemaRegistry;
use apache_avro::types::Value;
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

const COMPONENT: &str = "inventory";

/// Counters, shared with whoever watches the connector (progress bars, tests).
#[derive(Debug, Default)]
pub struct Stats {
    /// Rows captured (written to the JDBC topic or, if unconvertible, the dead-letter topic).
    pub rows: AtomicU64,
    /// Records written to the rekeyed topic.
    pub rekeyed: AtomicU64,
    /// Tombstones written for deleted rows.
    pub tombstones: AtomicU64,
    /// Rows sent to the dead-letter topic.
    pub dead_letters: AtomicU64,
    /// Committed transactions.
    pub transactions: AtomicU64,
    /// Schema versions registered after start (columns added or changed).
    pub schema_changes: AtomicU64,
    /// Database or log failures retried.
    pub retries: AtomicU64,
}

/// What a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Rows captured.
    pub rows: u64,
    /// Records written to the rekeyed topic.
    pub rekeyed: u64,
    /// Tombstones written.
    pub tombstones: u64,
    /// Dead letters written.
    pub dead_letters: u64,
}

/// A running inventory connector.
pub struct Connector {
    cfg: InventoryConfig,
    db: Db,
    registry: Arc<dyn SchemaRegistry>,
    tx: Box<dyn TxProducer>,
    table: Table,
    offset: SourceOffset,
    offset_key: String,
    live: HashSet<String>,
    /// Fingerprint of the key each row id was last captured under in this run
    /// ([`rekey::fingerprint`]): a row moving to another key triggers a delete scan at once.
    key_of: HashMap<i64, u64>,
    dlq: String,
    stats: Arc<Stats>,
}

impl Connector {
    /// Checks the configuration and the table, creates the topics, registers the schema, and
    /// reads back where an earlier run stopped (or, with `rescan`, starts from the first row).
    pub async fn start(
        cfg: InventoryConfig,
        url: &str,
        log: Arc<dyn Log>,
        registry: Arc<dyn SchemaRegistry>,
        rescan: bool,
    ) -> Result<Connector> {
        cfg.validate()?;
        let db = Db::connect_retrying(url, Duration::from_millis(cfg.startup_timeout_ms)).await?;
        let meta = db.columns(&cfg.table).await?;
        let table = map_table(&cfg, &db, meta, registry.as_ref()).await?;
        let dlq = cfg.dlq();
        ensure_topics(log.as_ref(), &cfg, &dlq).await?;
        // The transactional producer first: it fences an older instance and aborts whatever
        // it left open, so the reads below see only committed state.
        let txid = format!("aisle-connect-{}-{}", cfg.name, cfg.table);
        let mut tx = log
            .tx_producer(
                &txid,
                &ProducerConfig {
                    client_id: txid.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(InventoryError::log("starting the transactional producer"))?;
        let offset_key = offsets::offset_key(&cfg.name, &cfg.table);
        let offset = if rescan {
            // A tombstone for the offset: a crash right after still rescans.
            tx.begin().await.map_err(InventoryError::log("--rescan"))?;
            tx.send(ProduceRecord::new(&cfg.offsets_topic).key(offset_key.clone()))
                .await
                .map_err(InventoryError::log("--rescan"))?;
            tx.commit().await.map_err(InventoryError::log("--rescan"))?;
            SourceOffset::default()
        } else {
            offsets::load_offset(log.as_ref(), &cfg.offsets_topic, &offset_key)
                .await?
                .unwrap_or_default()
        };
        let live = offsets::live_keys(log.as_ref(), &cfg.rekeyed_topic).await?;
        tracing::info!(
            db = %db.url_redacted, table = %cfg.table, mode = cfg.mode.as_str(),
            offset = ?offset, live_keys = live.len(), "inventory connector started"
        );
        Ok(Connector {
            cfg,
            db,
            registry,
            tx,
            table,
            offset,
            offset_key,
            live,
            key_of: HashMap::new(),
            dlq,
            stats: Arc::new(Stats::default()),
        })
    }

    /// The connector's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Where the connector got to.
    pub fn offset(&self) -> SourceOffset {
        self.offset
    }

    /// Polls and scans until `shutdown` resolves, retrying database and log failures with
    /// backoff (logged, never fatal). Returns on shutdown, or on an error no retry can fix
    /// (a schema change the registry refuses, a fenced producer).
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<Summary> {
        tokio::pin!(shutdown);
        let scan_every = Duration::from_millis(self.cfg.delete_scan_interval_ms);
        let mut next_scan = Instant::now() + scan_every;
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut more = false;
            let step = async {
                let n = self.poll_once().await?;
                if self.cfg.delete_scan_interval_ms > 0 && Instant::now() >= next_scan {
                    self.scan_deletes().await?;
                    next_scan = Instant::now() + scan_every;
                }
                Ok::<_, InventoryError>(n)
            };
            let wait = match step.await {
                Ok(n) => {
                    backoff = Duration::from_millis(100);
                    more = n > 0 && n >= self.cfg.batch_rows as usize;
                    self.cfg.poll_interval()
                }
                Err(e) if e.is_transient() => {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("aisle_errors_total", "component" => COMPONENT, "kind" => "retry")
                        .increment(1);
                    tracing::warn!(error = %e, "inventory capture failed; nothing was written, retrying in {backoff:?}");
                    let b = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    b
                }
                Err(e) => return Err(e),
            };
            if more {
                // A full batch: more rows are waiting, read them now (still honouring shutdown).
                tokio::select! {
                    biased;
                    _ = &mut shutdown => break,
                    _ = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.db.pool.close().await;
        Ok(self.summary())
    }

    /// Polls until the table is caught up (a poll returns less than a full batch), then scans
    /// for deletes once: a one-shot capture (`aisle connect inventory --once`).
    pub async fn run_until_caught_up(mut self) -> Result<Summary> {
        loop {
            let n = self.poll_once().await?;
            if n < self.cfg.batch_rows as usize || !self.cfg.mode.uses_incrementing() {
                break;
            }
        }
        if self.cfg.delete_scan_interval_ms > 0 {
            self.scan_deletes().await?;
        }
        self.db.pool.close().await;
        Ok(self.summary())
    }

    fn summary(&self) -> Summary {
        let s = &self.stats;
        Summary {
            rows: s.rows.load(Ordering::Relaxed),
            rekeyed: s.rekeyed.load(Ordering::Relaxed),
            tombstones: s.tombstones.load(Ordering::Relaxed),
            dead_letters: s.dead_letters.load(Ordering::Relaxed),
        }
    }

    /// One poll: new and changed rows in one transaction with the new offset. Returns the
    /// number of rows read.
    pub async fn poll_once(&mut self) -> Result<usize> {
        let meta = self.db.columns(&self.cfg.table).await?;
        if meta.is_empty() {
            return Err(InventoryError::Db {
                context: format!("table `{}` has disappeared", self.cfg.table),
                source: sqlx::Error::RowNotFound,
            });
        }
        if meta != self.table.meta {
            let old = self.table.schema.canonical_form();
            self.table = map_table(&self.cfg, &self.db, meta, self.registry.as_ref()).await?;
            if self.table.schema.canonical_form() != old {
                self.stats.schema_changes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(table = %self.cfg.table, schema_id = self.table.jdbc_id, "table changed: new schema version registered");
            }
        }
        let upper_us = if self.cfg.mode.uses_timestamp() {
            (self.db.now_ms().await? - self.cfg.timestamp_delay_ms as i64) * 1000
        } else {
            0
        };
        let target = Target {
            dialect: self.db.dialect,
            table: &self.cfg.table,
            columns: &self.table.columns,
            ts: &self.cfg.timestamp_column,
            id: &self.cfg.incrementing_column,
        };
        let q = query::poll_query(
            target,
            self.cfg.mode,
            &self.offset,
            upper_us,
            self.cfg.batch_rows,
        );
        let mut sq = sqlx::query(&q.sql);
        for p in &q.params {
            sq = sq.bind(*p);
        }
        let rows = sq
            .fetch_all(&self.db.pool)
            .await
            .map_err(InventoryError::db(format!("polling `{}`", self.cfg.table)))?;
        if rows.is_empty() {
            return Ok(0);
        }
        let n = rows.len();
        let started = Instant::now();
        let mut moved = false;
        // Bulk and timestamp modes may return more than a batch: one transaction per batch.
        for chunk in rows.chunks(self.cfg.batch_rows as usize) {
            moved |= self.write_chunk(chunk, q.with_micros).await?;
        }
        if moved && self.cfg.delete_scan_interval_ms > 0 {
            // A row now lives under another key (store or name changed): its old key goes now.
            self.scan_deletes().await?;
        }
        metrics::histogram!("aisle_processing_seconds", "component" => COMPONENT)
            .record(started.elapsed().as_secs_f64());
        Ok(n)
    }

    /// Writes one transaction; returns whether a row of it moved to another key.
    async fn write_chunk(&mut self, rows: &[sqlx::any::AnyRow], with_micros: bool) -> Result<bool> {
        let cfg = &self.cfg;
        let t = &self.table;
        let keying = t.keying(cfg);
        let mut offset = self.offset;
        let mut added: Vec<String> = Vec::new();
        let mut keyed: Vec<(i64, u64)> = Vec::new();
        let mut moved = false;
        let (mut n_rekeyed, mut n_dlq) = (0u64, 0u64);
        let ctx = |what: &str| format!("{what} ({} rows)", rows.len());
        self.tx
            .begin()
            .await
            .map_err(InventoryError::log(ctx("beginning a transaction")))?;
        for row in rows {
            let values = schema::row_values(&t.columns, row);
            let id = values
                .as_ref()
                .ok()
                .and_then(|v| t.id_idx.and_then(|i| schema::as_i64(&v[i])));
            if with_micros {
                let us: i64 = row
                    .try_get(t.columns.len())
                    .map_err(InventoryError::db("reading the row timestamp"))?;
                offset.timestamp_us = Some(us);
            }
            if cfg.mode.uses_incrementing() {
                let raw_id = match id {
                    Some(id) => id,
                    None => row
                        .try_get::<i64, _>(t.id_idx.unwrap_or(0))
                        .map_err(InventoryError::db("reading the row id"))?,
                };
                offset.incrementing = Some(raw_id);
            }
            let values = match values {
                Ok(v) => v,
                Err(reason) => {
                    // Not representable in the table's own schema: only the dead-letter topic
                    // can hold it, as text.
                    let text = schema::row_text(&t.columns, row);
                    send_dlq(
                        &mut *self.tx,
                        &self.dlq,
                        &cfg.table,
                        text.into_bytes(),
                        None,
                        id,
                        &reason,
                    )
                    .await?;
                    n_dlq += 1;
                    continue;
                }
            };
            let ts_ms = t.ts_idx.and_then(|i| schema::as_i64(&values[i]));
            let key = keying.key_of_values(&values, t.key_idx, t.store_idx);
            if let Some(id) = id {
                let f = rekey::fingerprint(key.as_deref().ok());
                moved |= self.key_of.get(&id).is_some_and(|&old| old != f);
                keyed.push((id, f));
            }
            let fields: Vec<(String, Value)> = t
                .columns
                .iter()
                .map(|c| c.name.clone())
                .zip(values)
                .collect();
            let datum = apache_avro::to_avro_datum(&t.schema, Value::Record(fields))
                .map_err(|e| InventoryError::Encode(e.to_string()))?;
            let framed = |id: u32| {
                let mut v = Vec::with_capacity(datum.len() + 5);
                wire::write_header(&mut v, id);
                v.extend_from_slice(&datum);
                v
            };
            let mut rec = ProduceRecord::new(&cfg.jdbc_topic).value(framed(t.jdbc_id));
            if let Some(ts) = ts_ms {
                rec = rec.timestamp(ts);
            }
            let rekeyed_value = framed(t.rekeyed_id);
            self.tx
                .send(rec)
                .await
                .map_err(InventoryError::log(format!(
                    "writing to {}",
                    cfg.jdbc_topic
                )))?;
            match key {
                Ok(k) => {
                    let mut rec = ProduceRecord::new(&cfg.rekeyed_topic)
                        .key(k.clone())
                        .value(rekeyed_value);
                    if let Some(ts) = ts_ms {
                        rec = rec.timestamp(ts);
                    }
                    self.tx
                        .send(rec)
                        .await
                        .map_err(InventoryError::log(format!(
                            "writing to {}",
                            cfg.rekeyed_topic
                        )))?;
                    added.push(k);
                    n_rekeyed += 1;
                }
                Err(reason) => {
                    send_dlq(
                        &mut *self.tx,
                        &self.dlq,
                        &cfg.table,
                        rekeyed_value,
                        ts_ms,
                        id,
                        &reason,
                    )
                    .await?;
                    n_dlq += 1;
                }
            }
        }
        if cfg.mode != Mode::Bulk {
            self.tx
                .send(offsets::offset_record(
                    &cfg.offsets_topic,
                    &self.offset_key,
                    &offset,
                ))
                .await
                .map_err(InventoryError::log(format!(
                    "writing to {}",
                    cfg.offsets_topic
                )))?;
        }
        self.tx
            .commit()
            .await
            .map_err(InventoryError::log(ctx("committing")))?;
        // Only now is it real.
        self.offset = offset;
        self.live.extend(added);
        self.key_of.extend(keyed);
        let n = rows.len() as u64;
        let s = &self.stats;
        s.rows.fetch_add(n, Ordering::Relaxed);
        s.rekeyed.fetch_add(n_rekeyed, Ordering::Relaxed);
        s.dead_letters.fetch_add(n_dlq, Ordering::Relaxed);
        s.transactions.fetch_add(1, Ordering::Relaxed);
        let c = |topic: &str, v: u64| {
            metrics::counter!("aisle_records_out_total", "component" => COMPONENT, "topic" => topic.to_string())
                .increment(v);
        };
        metrics::counter!("aisle_records_in_total", "component" => COMPONENT, "topic" => cfg.table.clone())
            .increment(n);
        c(&cfg.jdbc_topic, n - n_dlq.min(n));
        c(&cfg.rekeyed_topic, n_rekeyed);
        if n_dlq > 0 {
            metrics::counter!("aisle_dlq_total", "component" => COMPONENT, "topic" => self.dlq.clone())
                .increment(n_dlq);
        }
        Ok(moved)
    }

    /// One delete scan: every key live in the rekeyed topic that no row of the table carries
    /// any more (deleted rows, and the old keys of rows whose name or store changed) gets a
    /// tombstone. Returns how many.
    pub async fn scan_deletes(&mut self) -> Result<usize> {
        let t = &self.table;
        let key_col = t
            .columns
            .get(t.key_idx)
            .ok_or_else(|| InventoryError::Config("key column vanished".into()))?;
        let store_col = t.store_idx.and_then(|i| t.columns.get(i));
        let sql = rekey::scan_sql(self.db.dialect, &self.cfg.table, key_col, store_col);
        let rows = sqlx::query(&sql)
            .fetch_all(&self.db.pool)
            .await
            .map_err(InventoryError::db(format!(
                "scanning `{}` for deletes",
                self.cfg.table
            )))?;
        let present = rekey::present_keys(&rows, key_col, store_col, t.keying(&self.cfg))?;
        let mut gone: Vec<String> = self.live.difference(&present).cloned().collect();
        if gone.is_empty() {
            return Ok(0);
        }
        gone.sort();
        let topic = self.cfg.rekeyed_topic.clone();
        let tx = &mut self.tx;
        let written = async {
            tx.begin().await?;
            for k in &gone {
                tx.send(ProduceRecord::new(&topic).key(k.clone())).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            let _ = self.tx.abort().await;
            return Err(InventoryError::Log {
                context: format!("writing tombstones to {topic}"),
                source: e,
            });
        }
        for k in &gone {
            self.live.remove(k);
        }
        tracing::info!(keys = ?gone, "rows deleted from `{}`: tombstones written", self.cfg.table);
        self.stats
            .tombstones
            .fetch_add(gone.len() as u64, Ordering::Relaxed);
        Ok(gone.len())
    }
}

/// Adds a dead letter to the open transaction.
async fn send_dlq(
    tx: &mut dyn TxProducer,
    dlq: &str,
    table: &str,
    value: Vec<u8>,
    ts: Option<i64>,
    id: Option<i64>,
    reason: &str,
) -> Result<()> {
    tracing::warn!(%table, row_id = ?id, %reason, "row sent to {dlq}");
    // Headers of the event contracts: aisle.dlq.reason, .kind, .table, .row_id.
    let mut rec = DeadLetter::new(dlq, reason).table(table).value(value);
    if let Some(id) = id {
        rec = rec.row_id(id);
    }
    if let Some(ts) = ts {
        rec = rec.timestamp(ts);
    }
    tx.send(rec.build())
        .await
        .map_err(InventoryError::log(format!("writing to {dlq}")))
}

/// Starts a connector and runs it until `shutdown` resolves: what `aisle demo` and `aisle
/// connect inventory` call.
pub async fn run(
    cfg: InventoryConfig,
    url: &str,
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    rescan: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary> {
    Connector::start(cfg, url, log, registry, rescan)
        .await?
        .run(shutdown)
        .await
}
