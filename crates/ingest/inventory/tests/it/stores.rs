//! A chain's inventory (SQLite always; MariaDB and PostgreSQL from AISLE_TEST_MYSQL /
//! AISLE_TEST_POSTGRES): a `store_id` column added to a captured seed table registers a
//! BACKWARD-compatible schema version; store rows are keyed `{store}/{name}`, chain-wide rows
//! by name as before; rows that would make the two kinds of keys meet are dead letters; a row
//! moved to another store (or to chain-wide) tombstones its old key in the same poll, a deleted
//! one at the next scan; a restart detects the column from the catalog and repeats nothing.

use crate::common;

use aisle_events::{Inventory, topics};
use aisle_inventory::{Connector, InventoryError, init};
use aisle_log::Record;
use common::{Kind, config, database, embedded, keys, records, settle, table};
use std::sync::atomic::Ordering;

fn key(r: &Record) -> String {
    String::from_utf8_lossy(r.key.as_deref().unwrap()).into_owned()
}

async fn store_rows(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    let cfg = config(&t);
    init(&db.url, &t).await.unwrap();
    settle().await;
    let start = || env.start(&cfg, &db.url);
    let mut c = start().await.unwrap();
    assert_eq!(c.poll_once().await.unwrap(), 7, "the seed table, unchanged");
    let subject = topics::value_subject(&cfg.rekeyed_topic);
    assert_eq!(env.registry.latest(&subject).await.unwrap().version, 1);

    let ins = |name: &str, count: i32, store: &str| {
        format!(
            "INSERT INTO {t} (name, upsell_item, count, store_id) VALUES ('{name}', 'plate', {count}, {store})"
        )
    };
    db.exec(&[
        &format!("ALTER TABLE {t} ADD COLUMN store_id VARCHAR(20)"),
        &ins("cup", 3, "'CA_1'"),
        &ins("cup", 0, "'TX_1'"),
        &ins("bowl", 5, "' WI_1 '"),
        &ins("cup", 1, "'CA/9'"),
        &ins("1/2 gal", 1, "NULL"),
        &ins("1/2 gal", 2, "'CA_2'"),
        &ins("knife", 4, "''"),
    ])
    .await;
    settle().await;
    assert_eq!(c.poll_once().await.unwrap(), 7);
    // The column was added: version 2, the contract's schema (store_id last, optional), and the
    // registry (BACKWARD by default) accepted it after the seed's version.
    let latest = env.registry.latest(&subject).await.unwrap();
    assert_eq!(latest.version, 2);
    let contract = apache_avro::Schema::parse_str(
        &aisle_events::schemas::INVENTORY.replace("\"inventory\"", &format!("\"{t}\"")),
    )
    .unwrap();
    let ours = apache_avro::Schema::parse_str(&latest.schema.schema_json).unwrap();
    assert_eq!(ours.canonical_form(), contract.canonical_form());
    assert_eq!(c.stats().schema_changes.load(Ordering::Relaxed), 1);

    let rekeyed = records(&env.log, &cfg.rekeyed_topic).await;
    let new: Vec<String> = rekeyed[7..].iter().map(key).collect();
    assert_eq!(
        new,
        ["CA_1/cup", "TX_1/cup", "WI_1/bowl", "CA_2/1/2 gal", "knife"]
    );
    let rows: Vec<Inventory> = rekeyed[7..].iter().map(|r| env.inventory(r).1).collect();
    assert_eq!(rows[0].store_id.as_deref(), Some("CA_1"));
    assert_eq!(
        (rows[1].count, rows[1].store_id.as_deref()),
        (Some(0), Some("TX_1"))
    );
    assert_eq!(
        rows[2].store_id.as_deref(),
        Some(" WI_1 "),
        "the value as stored"
    );
    assert_eq!(rows[4].store_id.as_deref(), Some(""), "blank: chain-wide");
    // Seed rows written before the column read as chain-wide with the current reader.
    assert_eq!(env.inventory(&rekeyed[0]).1.store_id, None);
    assert_eq!(key(&rekeyed[0]), "cup");
    let dlq = records(&env.log, &cfg.dlq()).await;
    let reasons: Vec<String> = dlq
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r.header(aisle_events::dead_letter::REASON).unwrap())
                .into_owned()
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("`CA/9`"), "{}", reasons[0]);
    assert!(
        reasons[1].contains("`1/2 gal`") && reasons[1].contains("chain-wide"),
        "{}",
        reasons[1]
    );

    // TX_1's cup moves to CA_3, CA_1's becomes chain-wide: the old keys are tombstoned in the
    // same poll (right after the rows), before any scan interval.
    db.exec(&[
        &format!("UPDATE {t} SET store_id = 'CA_3' WHERE store_id = 'TX_1'"),
        &format!("UPDATE {t} SET store_id = NULL WHERE store_id = 'CA_1'"),
    ])
    .await;
    settle().await;
    assert_eq!(c.poll_once().await.unwrap(), 2);
    assert_eq!(c.stats().tombstones.load(Ordering::Relaxed), 2);
    let after = records(&env.log, &cfg.rekeyed_topic).await;
    let tail: Vec<(String, bool)> = after[rekeyed.len()..]
        .iter()
        .map(|r| (key(r), r.value.is_some()))
        .collect();
    let want = |k: &str, live: bool| (k.to_string(), live);
    let mut rows = tail[..2].to_vec();
    rows.sort();
    assert_eq!(rows, [want("CA_3/cup", true), want("cup", true)]);
    let mut tombstones = tail[2..].to_vec();
    tombstones.sort();
    assert_eq!(
        tombstones,
        [want("CA_1/cup", false), want("TX_1/cup", false)]
    );

    // A deleted store row: tombstoned by the scan; the chain-wide `cup` stays (two rows hold it).
    db.exec(&[&format!(
        "DELETE FROM {t} WHERE name = 'bowl' AND store_id IS NOT NULL"
    )])
    .await;
    assert_eq!(c.scan_deletes().await.unwrap(), 1);
    let last = records(&env.log, &cfg.rekeyed_topic).await;
    let end = last.last().unwrap();
    assert_eq!((key(end), end.value.is_none()), ("WI_1/bowl".into(), true));

    // A restart finds the column in the catalog: nothing new, no tombstone for a live key.
    drop(c);
    let mut again = start().await.unwrap();
    assert_eq!(again.poll_once().await.unwrap(), 0);
    assert_eq!(again.scan_deletes().await.unwrap(), 0);
    assert_eq!(
        records(&env.log, &cfg.rekeyed_topic).await.len(),
        last.len()
    );
    assert_eq!(keys(&records(&env.log, &cfg.dlq()).await).len(), 2);
}

/// A `store_id` column that is not text is refused at start, naming the column and its type.
async fn store_column_must_be_text(kind: Kind) {
    let Some(db) = database(kind).await else {
        return;
    };
    let env = embedded().await;
    let t = table();
    init(&db.url, &t).await.unwrap();
    db.exec(&[&format!("ALTER TABLE {t} ADD COLUMN store_id INTEGER")])
        .await;
    let err = Connector::start(
        config(&t),
        &db.url,
        env.log.clone(),
        env.registry.clone(),
        false,
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(err, InventoryError::Config(_)), "{err}");
    let msg = err.to_string().to_lowercase();
    assert!(
        msg.contains("`store_id`") && msg.contains("int") && msg.contains("text"),
        "{msg}"
    );
}

common::on_every_db!(store_rows, store_column_must_be_text);
