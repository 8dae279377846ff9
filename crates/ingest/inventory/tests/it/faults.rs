//! Faults: the database cut off mid-capture (through a TCP proxy this test controls, so the
//! shared MariaDB/PostgreSQL servers other tests use keep running), and the Kafka runtime.

use crate::common;

use aisle_inventory::{Connector, init, run};
use common::{Kind, Proxy, config, database, embedded, keys, records, settle, table};
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The connector runs as a service; the database goes away (every connection dropped, new ones
/// refused) while rows are written; it comes back. Every row arrives exactly once, and the
/// connector never stopped.
async fn outage(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    let cfg = config(&t);
    init(&db.url, &t).await.unwrap();
    let proxy = Proxy::start(db.addr()).await;
    let via = db.via(proxy.port);
    let connector = Connector::start(
        cfg.clone(),
        &via,
        env.log.clone(),
        env.registry.clone(),
        false,
    )
    .await
    .unwrap();
    let stats = connector.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(connector.run(async {
        let _ = stopped.await;
    }));
    common::wait_for(&env.log, &cfg.jdbc_topic, 7).await;

    proxy.cut();
    let inserts: Vec<String> = (0..5)
        .map(|i| {
            format!("INSERT INTO {t} (name, upsell_item, count) VALUES ('during-{i}', 'cup', {i})")
        })
        .collect();
    db.exec(&inserts.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    db.exec(&[&format!("UPDATE {t} SET count = 1 WHERE name = 'bowl'")])
        .await;
    // Long enough for several failed polls with backoff.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        stats.retries.load(Ordering::Relaxed) >= 1,
        "the outage was noticed"
    );
    assert!(
        !task.is_finished(),
        "the connector keeps going through the outage"
    );
    proxy.restore();

    let jdbc = common::wait_for(&env.log, &cfg.jdbc_topic, 13).await;
    settle().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(());
    let summary = task.await.unwrap().unwrap();
    assert_eq!(summary.rows, 13);
    let jdbc_after = records(&env.log, &cfg.jdbc_topic).await;
    assert_eq!(jdbc_after.len(), jdbc.len(), "nothing more, nothing twice");
    let ids: Vec<i32> = jdbc_after.iter().map(|r| env.inventory(r).1.id).collect();
    assert_eq!(ids[..7], [1, 2, 3, 4, 5, 6, 7]);
    let rest: BTreeSet<i32> = ids[7..].iter().copied().collect();
    assert_eq!(rest, BTreeSet::from([2, 8, 9, 10, 11, 12]));
    let rekeyed = records(&env.log, &cfg.rekeyed_topic).await;
    assert_eq!(rekeyed.len(), 13);
    assert!(keys(&rekeyed).contains(&Some("during-4".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn mariadb_outage() {
    outage(Kind::MySql).await
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_outage() {
    outage(Kind::Postgres).await
}

/// The Kafka runtime (a real broker): the seed rows, an update and a delete, read back with
/// read_committed; a second connector with the same name resumes without repeating.
#[tokio::test(flavor = "multi_thread")]
async fn kafka_runtime_seed_update_delete() {
    let Some(env) = common::kafka().await else {
        return;
    };
    // MariaDB when configured (what stores run), otherwise the SQLite default.
    let kind = if std::env::var("AISLE_TEST_MYSQL").is_ok() {
        Kind::MySql
    } else {
        Kind::Sqlite
    };
    let db = database(kind).await.unwrap();
    let t = table();
    let cfg = config(&t);
    init(&db.url, &t).await.unwrap();
    settle().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let (cfg, url, log, reg) = (
            cfg.clone(),
            db.url.clone(),
            env.log.clone(),
            env.registry.clone(),
        );
        tokio::spawn(async move {
            run(cfg, &url, log, reg, false, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let rekeyed = common::wait_for(&env.log, &cfg.rekeyed_topic, 7).await;
    assert_eq!(
        keys(&rekeyed),
        aisle_inventory::SEED_ROWS
            .iter()
            .map(|(n, _, _)| Some(n.to_string()))
            .collect::<Vec<_>>()
    );
    db.exec(&[
        &format!("UPDATE {t} SET count = 42 WHERE name = 'frisbee'"),
        &format!("DELETE FROM {t} WHERE name = 'spoon'"),
    ])
    .await;
    let rekeyed = common::wait_for(&env.log, &cfg.rekeyed_topic, 9).await;
    let tail = &rekeyed[7..];
    let frisbee = tail
        .iter()
        .find(|r| r.key.as_deref() == Some(&b"frisbee"[..]))
        .unwrap();
    assert_eq!(env.inventory(frisbee).1.count, Some(42));
    let spoon = tail
        .iter()
        .find(|r| r.key.as_deref() == Some(&b"spoon"[..]))
        .unwrap();
    assert!(spoon.value.is_none());
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    let mut again = env.start(&cfg, &db.url).await.unwrap();
    assert_eq!(again.poll_once().await.unwrap(), 0);
    assert_eq!(again.scan_deletes().await.unwrap(), 0);
    assert_eq!(records(&env.log, &cfg.jdbc_topic).await.len(), 8);
}
