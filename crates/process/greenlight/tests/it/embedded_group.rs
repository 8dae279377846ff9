//! Scale-out on the embedded runtime, whose consumer groups live inside one process: two
//! greenlight tasks with the same application id split a 4-partition input (and the
//! repartition topic); one stops midway, the other takes over its partitions, restores their
//! window state from the changelog, and the output is what one task alone produces.

use crate::common::{framed, inputs, read};
use aisle_events::{GreenLightSpecial, Inventory, ShoppingCartObject, WindowedItem};
use aisle_greenlight::GreenlightConfig;
use aisle_log::{Log, ProduceRecord, ProducerConfig};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const STORES: [&str; 3] = ["CA_1", "TX_1", "WI_1"];

/// Detections per store and item, by construction: fork most, then spoon, then cup (no
/// inventory row).
fn counts(store: usize) -> [(&'static str, i64); 3] {
    [
        ("fork", 800 + 100 * store as i64),
        ("spoon", 500),
        ("cup", 300),
    ]
}

async fn setup(log: &Arc<dyn Log>, registry: &Arc<dyn SchemaRegistry>, base: i64) {
    let (cart_id, inv_id) = inputs(log, registry, 4).await;
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let rows: Vec<_> = [("fork", "spoon", 200), ("spoon", "fork", 10)]
        .iter()
        .enumerate()
        .map(|(i, (name, upsell, count))| {
            let row = Inventory {
                id: i as i32,
                name: Some((*name).into()),
                upsell_item: Some((*upsell).into()),
                count: Some(*count),
                modified: base - 60_000,
                store_id: None,
            };
            ProduceRecord::new("inventory")
                .key(*name)
                .value(framed(inv_id, &row))
                .timestamp(base - 60_000)
        })
        .collect();
    producer.send_batch(&rows).await.unwrap().await.unwrap();
    let mut carts = Vec::new();
    for (s, store) in STORES.iter().enumerate() {
        for (item, n) in counts(s) {
            for i in 0..n {
                let obj = ShoppingCartObject {
                    timestamp: base + (i % 50_000),
                    image_name: "x.jpg".into(),
                    class_id: -1,
                    class_name: item.into(),
                    score: 0.9,
                    box_x: 0,
                    box_y: 0,
                    box_w: 1,
                    box_h: 1,
                    store_id: Some((*store).into()),
                    cart_id: None,
                    camera_id: None,
                };
                carts.push(
                    ProduceRecord::new("carts")
                        .key(item)
                        .value(framed(cart_id, &obj))
                        .timestamp(obj.timestamp),
                );
            }
        }
    }
    producer.send_batch(&carts).await.unwrap().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_one_group_one_stops_midway() {
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn Log> =
        Arc::new(EmbeddedLog::open(dir.path(), EmbeddedConfig::default()).unwrap());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(LocalRegistry::new(
        SchemaStore::open(log.clone()).await.unwrap(),
    ));
    let base = (aisle_log::now_ms() / 60_000 - 10) * 60_000;
    setup(&log, &registry, base).await;
    let cfg = |instance: &str| GreenlightConfig {
        input: "carts".into(),
        inventory: "inventory".into(),
        windowed_items: "windowed".into(),
        specials: "specials".into(),
        application_id: "gl-group".into(),
        instance_id: Some(instance.into()),
        grace_ms: 600_000,
        idle_timeout_ms: 1_500,
        ..GreenlightConfig::default()
    };
    let (stop_a, rx_a) = tokio::sync::oneshot::channel::<()>();
    let (stop_b, rx_b) = tokio::sync::oneshot::channel::<()>();
    let a = tokio::spawn(aisle_greenlight::run(
        log.clone(),
        registry.clone(),
        cfg("a"),
        async move {
            let _ = rx_a.await;
        },
    ));
    let b = tokio::spawn(aisle_greenlight::run(
        log.clone(),
        registry.clone(),
        cfg("b"),
        async move {
            let _ = rx_b.await;
        },
    ));
    // b leaves while windows are still open (they close 1.5 s after the input stops).
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop_b.send(()).unwrap();
    let b_stats = b.await.unwrap().unwrap();
    let want_items = STORES.len() * 3;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (items, specials) = loop {
        let items = read::<WindowedItem>(&log, "windowed").await;
        let specials = read::<GreenLightSpecial>(&log, "specials").await;
        if items.len() >= want_items && specials.len() >= STORES.len() {
            break (items, specials);
        }
        assert!(tokio::time::Instant::now() < deadline, "outputs incomplete");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_a.send(()).unwrap();
    let a_stats = a.await.unwrap().unwrap();
    assert!(a_stats.records_in > 0);
    println!("a: {a_stats:?}\nb: {b_stats:?}");
    // Nothing more arrived after the wait: no duplicates.
    assert_eq!(
        read::<WindowedItem>(&log, "windowed").await.len(),
        items.len()
    );
    let mut got: BTreeMap<(String, String), i64> = BTreeMap::new();
    for w in &items {
        assert_eq!(w.window_start, base);
        assert_eq!(w.matched, w.item != "cup");
        assert!(
            got.insert((w.store_id.clone(), w.item.clone()), w.count)
                .is_none()
        );
    }
    for (s, store) in STORES.iter().enumerate() {
        for (item, n) in counts(s) {
            assert_eq!(
                got.get(&(store.to_string(), item.into())),
                Some(&n),
                "{store} {item}"
            );
        }
    }
    assert_eq!(specials.len(), STORES.len());
    for sp in &specials {
        let s = STORES.iter().position(|x| *x == sp.store_id).unwrap();
        assert_eq!((sp.item.as_str(), sp.count), ("fork", counts(s)[0].1));
        assert_eq!(sp.unmatched_items, 300);
        assert_eq!(sp.total_items, counts(s).iter().map(|c| c.1).sum::<i64>());
    }
}
