//! The connector against real databases (SQLite always; MariaDB and PostgreSQL from
//! AISLE_TEST_MYSQL / AISLE_TEST_POSTGRES) on the embedded runtime: scripted changes produce
//! exactly the expected records on both topics; restarts resume; equal timestamps; schema
//! evolution; configuration errors name what is wrong.

use crate::common;

use aisle_events::{Event, datum_to_json, topics, wire};
use aisle_inventory::{Connector, InventoryError, init};
use common::{Kind, config, database, embedded, keys, records, settle, table};
use std::collections::HashSet;

async fn scripted(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    let cfg = config(&t);
    assert_eq!(init(&db.url, &t).await.unwrap().inserted, 7);
    settle().await;
    let start = || env.start(&cfg, &db.url);
    let mut c = start().await.unwrap();
    assert_eq!(c.poll_once().await.unwrap(), 7);
    db.exec(&[
        &format!("UPDATE {t} SET count = 5 WHERE name = 'cup'"),
        &format!("INSERT INTO {t} (name, upsell_item, count) VALUES ('knife', 'fork', 3)"),
        &format!("DELETE FROM {t} WHERE name = 'fork'"),
        &format!("INSERT INTO {t} (name, upsell_item, count) VALUES (NULL, 'plate', 1)"),
    ])
    .await;
    settle().await;
    assert_eq!(c.poll_once().await.unwrap(), 3);
    assert_eq!(c.scan_deletes().await.unwrap(), 1);
    assert_eq!(c.poll_once().await.unwrap(), 0, "nothing read twice");

    let jdbc = records(&env.log, &cfg.jdbc_topic).await;
    assert!(
        keys(&jdbc).iter().all(Option::is_none),
        "JDBC topic has no keys"
    );
    let ids: Vec<i32> = jdbc.iter().map(|r| env.inventory(r).1.id).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7, 1, 8, 9]);
    let null_row = env.inventory(&jdbc[9]).1;
    assert_eq!(
        (null_row.name, null_row.upsell_item),
        (None, Some("plate".into()))
    );
    let rekeyed = records(&env.log, &cfg.rekeyed_topic).await;
    let expected: Vec<Option<String>> = [
        "cup",
        "bowl",
        "fork",
        "spoon",
        "sports ball",
        "tennis racket",
        "frisbee",
        "cup",
        "knife",
        "fork",
    ]
    .iter()
    .map(|s| Some(s.to_string()))
    .collect();
    assert_eq!(keys(&rekeyed), expected);
    assert!(rekeyed[9].value.is_none(), "fork's delete is a tombstone");
    let cup = env.inventory(&rekeyed[7]).1;
    assert_eq!(
        (cup.count, cup.upsell_item.as_deref()),
        (Some(5), Some("plate"))
    );
    assert!(
        cup.modified > env.inventory(&rekeyed[0]).1.modified,
        "UPDATE moved `modified`"
    );
    let (schema_id, first) = env.inventory(&rekeyed[0]);
    assert_eq!(first.name.as_deref(), Some("cup"));
    let registered = env.registry.schema_by_id(schema_id).await.unwrap();
    let contract = apache_avro::Schema::parse_str(
        &aisle_events::schemas::INVENTORY_V1.replace("\"inventory\"", &format!("\"{t}\"")),
    )
    .unwrap();
    let ours = apache_avro::Schema::parse_str(&registered.schema_json).unwrap();
    assert_eq!(ours.canonical_form(), contract.canonical_form());
    let dlq = records(&env.log, &cfg.dlq()).await;
    assert_eq!(dlq.len(), 1);
    let reason = String::from_utf8_lossy(dlq[0].header(aisle_events::dead_letter::REASON).unwrap());
    assert!(reason.contains("`name` is NULL"), "{reason}");
    assert_eq!(env.inventory(&dlq[0]).1.id, 9);

    // A restart reads its offset and the live keys back: nothing repeated, no second tombstone.
    drop(c);
    let mut again = start().await.unwrap();
    assert_eq!(again.poll_once().await.unwrap(), 0);
    assert_eq!(again.scan_deletes().await.unwrap(), 0);
    assert_eq!(records(&env.log, &cfg.jdbc_topic).await.len(), 10);
}

async fn same_timestamp_and_restart(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    let mut cfg = config(&t);
    cfg.batch_rows = 2;
    init(&db.url, &t).await.unwrap();
    let ts = "'2026-01-01 00:00:00.000'";
    let insert = |n: &str| {
        format!(
            "INSERT INTO {t} (name, upsell_item, count, modified) VALUES ('{n}', 'cup', 1, {ts})"
        )
    };
    let stmts: Vec<String> = std::iter::once(format!("DELETE FROM {t}"))
        .chain(["s1", "s2", "s3", "s4", "s5"].iter().map(|n| insert(n)))
        .collect();
    db.exec(&stmts.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    let start = || env.start(&cfg, &db.url);
    let mut a = start().await.unwrap();
    assert_eq!(a.poll_once().await.unwrap(), 2);
    drop(a); // "crash" between two batches of rows that share one timestamp
    let mut b = start().await.unwrap();
    let mut n = 0;
    loop {
        let got = b.poll_once().await.unwrap();
        n += got;
        if got < 2 {
            break;
        }
    }
    assert_eq!(n, 3, "the restart read only what was left");
    // Committed later with the same timestamp and a higher id: still captured.
    db.exec(&[&insert("s6")]).await;
    assert_eq!(b.poll_once().await.unwrap(), 1);
    let names: Vec<String> = records(&env.log, &cfg.jdbc_topic)
        .await
        .iter()
        .map(|r| env.inventory(r).1.name.unwrap())
        .collect();
    assert_eq!(names, ["s1", "s2", "s3", "s4", "s5", "s6"]);
    let modified: HashSet<i64> = records(&env.log, &cfg.rekeyed_topic)
        .await
        .iter()
        .map(|r| env.inventory(r).1.modified)
        .collect();
    assert_eq!(
        modified.into_iter().collect::<Vec<_>>(),
        [1_767_225_600_000]
    );

    // --rescan starts over.
    let mut c = Connector::start(
        cfg.clone(),
        &db.url,
        env.log.clone(),
        env.registry.clone(),
        true,
    )
    .await
    .unwrap();
    let mut again = 0;
    loop {
        let got = c.poll_once().await.unwrap();
        again += got;
        if got < 2 {
            break;
        }
    }
    assert_eq!(again, 6);
}

async fn schema_evolution(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    let cfg = config(&t);
    init(&db.url, &t).await.unwrap();
    settle().await;
    let mut c = env.start(&cfg, &db.url).await.unwrap();
    assert_eq!(c.poll_once().await.unwrap(), 7);
    db.exec(&[
        &format!("ALTER TABLE {t} ADD COLUMN price DOUBLE PRECISION"),
        &format!("UPDATE {t} SET price = 1.5 WHERE name = 'cup'"),
    ])
    .await;
    settle().await;
    assert_eq!(c.poll_once().await.unwrap(), 1);
    assert_eq!(
        c.stats()
            .schema_changes
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let latest = env
        .registry
        .latest(&topics::value_subject(&cfg.rekeyed_topic))
        .await
        .unwrap();
    assert_eq!(latest.version, 2);
    let rekeyed = records(&env.log, &cfg.rekeyed_topic).await;
    assert_eq!(rekeyed.len(), 8);
    let (id, datum) = wire::split(rekeyed[7].value.as_ref().unwrap()).unwrap();
    assert_eq!(id, latest.schema.id);
    let json = datum_to_json(&latest.schema.schema_json, datum).unwrap();
    assert_eq!(json["price"], serde_json::json!({"double": 1.5}));
    assert_eq!(json["name"], serde_json::json!({"string": "cup"}));
    // Readers on the contract schema still read the new records (the new field is skipped).
    let old_reader =
        aisle_events::Inventory::decode_resolving(&latest.schema.schema_json, datum).unwrap();
    assert_eq!(old_reader.name.as_deref(), Some("cup"));
}

async fn config_errors(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    let start = |cfg| Connector::start(cfg, &db.url, env.log.clone(), env.registry.clone(), false);
    if kind == Kind::Sqlite {
        let err = start(config(&t)).await.err().unwrap();
        assert!(matches!(err, InventoryError::Config(_)), "{err}");
        assert!(
            err.to_string().contains("inventory.db") && err.to_string().contains("init"),
            "{err}"
        );
    }
    init(&db.url, &table()).await.unwrap(); // the database exists, the table does not
    let err = start(config(&t)).await.err().unwrap();
    assert!(matches!(err, InventoryError::Config(_)), "{err}");
    assert!(err.to_string().contains(&t), "{err}");
    init(&db.url, &t).await.unwrap();
    let mut cfg = config(&t);
    cfg.timestamp_column = "updated_at".into();
    let err = start(cfg).await.err().unwrap().to_string();
    assert!(
        err.contains("`updated_at`") && err.contains("modified"),
        "{err}"
    );
    let mut cfg = config(&t);
    cfg.incrementing_column = "name".into();
    let err = start(cfg).await.err().unwrap().to_string();
    assert!(err.contains("incrementing_column `name`"), "{err}");
    let odd = match kind {
        Kind::Postgres => "JSONB",
        Kind::MySql => "GEOMETRY",
        Kind::Sqlite => "JSON",
    };
    db.exec(&[&format!("ALTER TABLE {t} ADD COLUMN tags {odd}")])
        .await;
    let err = start(config(&t)).await.err().unwrap();
    assert!(matches!(err, InventoryError::Schema(_)), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("`tags`") && msg.to_lowercase().contains(&odd.to_lowercase()),
        "{msg}"
    );
}

/// The other modes: `incrementing` sees inserts only, `timestamp` sees updates too, `bulk`
/// re-reads the whole table every poll.
async fn other_modes(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    init(&db.url, &t).await.unwrap();
    settle().await;
    let start = |mode| {
        let mut cfg = config(&t);
        cfg.mode = mode;
        let url = db.url.clone();
        let (log, reg) = (env.log.clone(), env.registry.clone());
        async move { Connector::start(cfg, &url, log, reg, false).await.unwrap() }
    };
    let mut inc = start(aisle_inventory::Mode::Incrementing).await;
    let mut ts = start(aisle_inventory::Mode::Timestamp).await;
    let mut bulk = start(aisle_inventory::Mode::Bulk).await;
    assert_eq!(inc.poll_once().await.unwrap(), 7);
    assert_eq!(ts.poll_once().await.unwrap(), 7);
    assert_eq!(bulk.poll_once().await.unwrap(), 7);
    db.exec(&[
        &format!("UPDATE {t} SET count = 0 WHERE name = 'bowl'"),
        &format!("INSERT INTO {t} (name, upsell_item, count) VALUES ('plate', 'cup', 4)"),
    ])
    .await;
    settle().await;
    assert_eq!(inc.poll_once().await.unwrap(), 1, "the insert only");
    assert_eq!(inc.offset().incrementing, Some(8));
    assert_eq!(
        ts.poll_once().await.unwrap(),
        2,
        "the update and the insert"
    );
    assert_eq!(ts.poll_once().await.unwrap(), 0);
    assert_eq!(bulk.poll_once().await.unwrap(), 8, "the whole table again");
}

common::on_every_db!(
    scripted,
    same_timestamp_and_restart,
    schema_evolution,
    config_errors,
    other_modes
);
