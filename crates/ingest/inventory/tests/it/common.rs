//! Shared helpers of the connector's tests: databases from the environment, a log with its
//! registry, configs with fresh names, readers for the topics, a TCP proxy that can be cut.
#![allow(dead_code)]

use aisle_events::{Inventory, wire};
use aisle_inventory::{Db, InventoryConfig, sqlx};
use aisle_log::{Log, Record};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore, StoreConfig};
use aisle_serde::Deserializer;
use aisle_testkit::{Fixture, rand_suffix, read_all};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The databases a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    MySql,
    Postgres,
}

fn required() -> bool {
    aisle_testkit::required("AISLE_REQUIRE_DB")
}

/// One `#[tokio::test]` per scenario and database, in modules `sqlite`, `mariadb`, `postgres`
/// (the calling module imports `Kind`).
macro_rules! on_every_db {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(super::Kind::Sqlite).await } )* }
        mod mariadb { $( #[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(super::Kind::MySql).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $scenario() { super::$scenario(super::Kind::Postgres).await } )* }
    };
}
pub(crate) use on_every_db;

/// A database to test on: its URL, and the directory a SQLite file lives in.
pub struct TestDb {
    pub url: String,
    pub kind: Kind,
    _dir: Option<tempfile::TempDir>,
}

/// The database of `kind`, or `None` (printed as skipped) when its environment variable is
/// unset; with `AISLE_REQUIRE_DB=1` a missing one panics.
pub async fn database(kind: Kind) -> Option<TestDb> {
    let var = match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = aisle_inventory::sqlite_url(dir.path());
            return Some(TestDb {
                url,
                kind,
                _dir: Some(dir),
            });
        }
        Kind::MySql => "AISLE_TEST_MYSQL",
        Kind::Postgres => "AISLE_TEST_POSTGRES",
    };
    let base = match std::env::var(var).ok().filter(|s| !s.trim().is_empty()) {
        Some(b) => b.trim_end_matches('/').to_string(),
        None if required() => panic!("AISLE_REQUIRE_DB=1 but {var} is unset"),
        None => {
            println!("skipped: set {var}");
            return None;
        }
    };
    let url = match kind {
        Kind::MySql => {
            // One shared test database; every test uses its own table in it.
            let admin = Db::connect(&format!("{base}/mysql")).await.unwrap();
            sqlx::query("CREATE DATABASE IF NOT EXISTS aisle_test")
                .execute(&admin.pool)
                .await
                .unwrap();
            admin.pool.close().await;
            format!("{base}/aisle_test")
        }
        _ => format!("{base}/postgres"),
    };
    Some(TestDb {
        url,
        kind,
        _dir: None,
    })
}

impl TestDb {
    /// Runs statements (sessions in UTC, as the connector's).
    pub async fn exec(&self, stmts: &[&str]) {
        let db = Db::connect(&self.url).await.unwrap();
        for s in stmts {
            sqlx::query(s)
                .execute(&db.pool)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        db.pool.close().await;
    }

    /// The same URL through a proxy at `port` (MySQL/PostgreSQL).
    pub fn via(&self, port: u16) -> String {
        let host_end = self.url.find("://").unwrap() + 3;
        let at = self.url[host_end..]
            .find('@')
            .map(|i| host_end + i + 1)
            .unwrap_or(host_end);
        let slash = self.url[at..].find('/').map(|i| at + i).unwrap();
        format!("{}127.0.0.1:{port}{}", &self.url[..at], &self.url[slash..])
    }

    /// host:port of the server.
    pub fn addr(&self) -> String {
        let host_end = self.url.find("://").unwrap() + 3;
        let at = self.url[host_end..]
            .find('@')
            .map(|i| host_end + i + 1)
            .unwrap_or(host_end);
        let slash = self.url[at..].find('/').map(|i| at + i).unwrap();
        self.url[at..slash].to_string()
    }
}

/// A fresh table name.
pub fn table() -> String {
    format!("inv_{}", rand_suffix(10).to_lowercase())
}

/// A config with fresh topic names and connector name, for `table`, polling every 100 ms.
pub fn config(table: &str) -> InventoryConfig {
    let s = rand_suffix(8).to_lowercase();
    InventoryConfig {
        table: table.into(),
        poll_interval_ms: 100,
        timestamp_delay_ms: 50,
        delete_scan_interval_ms: 300,
        name: format!("test-{s}"),
        jdbc_topic: format!("t_{s}_jdbc_inventory"),
        rekeyed_topic: format!("t_{s}_inventory_rekeyed"),
        offsets_topic: format!("t_{s}_offsets"),
        dlq_topic: Some(format!("t_{s}_inventory.dlq")),
        ..Default::default()
    }
}

/// A log with a registry over it.
pub struct Env {
    pub log: Arc<dyn Log>,
    pub registry: Arc<dyn SchemaRegistry>,
    _fixture: Box<dyn std::any::Any + Send + Sync>,
}

/// The embedded runtime in a temporary directory.
pub async fn embedded() -> Env {
    let fx = aisle_testkit::EmbeddedFixture::new();
    let log = fx.log().await.unwrap();
    let store = SchemaStore::open(log.clone()).await.unwrap();
    Env {
        log,
        registry: Arc::new(LocalRegistry::new(store)),
        _fixture: Box::new(fx),
    }
}

/// The broker in `AISLE_TEST_KAFKA`, with a registry on a fresh schemas topic.
pub async fn kafka() -> Option<Env> {
    let fx = aisle_testkit::KafkaFixture::from_env()?;
    let log = fx.log().await.unwrap();
    let store = SchemaStore::open_with(
        log.clone(),
        StoreConfig {
            topic: aisle_testkit::rand_topic("_schemas_inv"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    Some(Env {
        log,
        registry: Arc::new(LocalRegistry::new(store)),
        _fixture: Box::new(fx),
    })
}

/// Every committed record of `topic`.
pub async fn records(log: &Arc<dyn Log>, topic: &str) -> Vec<Record> {
    read_all(&**log, topic).await.unwrap()
}

impl Env {
    /// A connector for `cfg` on the database at `url`, on this runtime (no rescan).
    pub async fn start(
        &self,
        cfg: &InventoryConfig,
        url: &str,
    ) -> aisle_inventory::Result<aisle_inventory::Connector> {
        aisle_inventory::Connector::start(
            cfg.clone(),
            url,
            self.log.clone(),
            self.registry.clone(),
            false,
        )
        .await
    }

    /// A value decoded as the contract's `Inventory` through the writer schema its id names in
    /// the registry (as greenlight reads it: a seed table's rows are v1, without `store_id`),
    /// with that id.
    pub fn inventory(&self, rec: &Record) -> (u32, Inventory) {
        let v = rec.value.as_ref().expect("a value, not a tombstone");
        let (id, _) = wire::split(v).unwrap();
        let rows = Deserializer::<Inventory>::new(self.registry.clone());
        (id, rows.decode_blocking(v).unwrap())
    }
}

/// Keys of records (None for a null key).
pub fn keys(recs: &[Record]) -> Vec<Option<String>> {
    recs.iter()
        .map(|r| {
            r.key
                .as_ref()
                .map(|k| String::from_utf8_lossy(k).into_owned())
        })
        .collect()
}

/// Waits until `topic` holds at least `n` records (or panics after 60 s).
pub async fn wait_for(log: &Arc<dyn Log>, topic: &str, n: usize) -> Vec<Record> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let recs = match log.describe_topic(topic).await {
            Ok(_) => records(log, topic).await,
            Err(_) => Vec::new(),
        };
        if recs.len() >= n {
            return recs;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic}: {} records after 60 s, waiting for {n}",
            recs.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lets rows age past the timestamp delay of [`config`].
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// A TCP proxy in front of a database that a test can cut (every connection dropped, new ones
/// refused) and restore: a database outage without stopping the shared server.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (u, c) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !u.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                c.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { port, up, conns }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
