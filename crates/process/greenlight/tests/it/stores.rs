//! A retail chain's inventory (issue 15): `inventory_rekeyed` holds chain-wide rows keyed by item
//! name and a store's own rows keyed `{store}/{name}`. Each scenario runs the processor on the
//! embedded runtime over a small table and a few cart objects and checks, from its outputs, which
//! row each store joined: a store's row shadows the chain-wide one for that store only, a
//! tombstone of it falls back to the chain-wide row, and the special's upsell stock is the
//! window's store's own.

use crate::common::{framed, inputs, read};
use aisle_events::{GreenLightSpecial, Inventory, ShoppingCartObject, WindowedItem};
use aisle_greenlight::GreenlightConfig;
use aisle_log::{Log, ProduceRecord, ProducerConfig};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const WINDOW_MS: i64 = 60_000;

/// A table change: the row (keyed by [`Inventory::key`]) or a tombstone of `key`, at `ts`.
enum Change {
    Put(Inventory, i64),
    Delete(&'static str, i64),
}

fn row(store: Option<&str>, name: &str, upsell: &str, count: i32) -> Inventory {
    Inventory {
        id: 0,
        name: Some(name.into()),
        upsell_item: Some(upsell.into()),
        count: Some(count),
        modified: 0,
        store_id: store.map(Into::into),
    }
}

/// A cart object of `store` (`None`: no `store_id`, as the 2019 producers wrote them).
fn cart(store: Option<&str>, item: &str, ts: i64) -> ShoppingCartObject {
    ShoppingCartObject {
        timestamp: ts,
        image_name: "x.jpg".into(),
        class_id: -1,
        class_name: item.into(),
        score: 0.9,
        box_x: 0,
        box_y: 0,
        box_w: 1,
        box_h: 1,
        store_id: store.map(Into::into),
        cart_id: None,
        camera_id: None,
    }
}

/// A window start half an hour ago: its windows are long closed on the wall clock, so the idle
/// timeout closes the last one.
fn base() -> i64 {
    (aisle_log::now_ms() / WINDOW_MS - 30) * WINDOW_MS
}

/// What a scenario wrote: windowed items by (store, window start, item), specials by
/// (store, window start).
struct Outputs {
    items: BTreeMap<(String, i64, String), WindowedItem>,
    specials: BTreeMap<(String, i64), GreenLightSpecial>,
}

impl Outputs {
    fn item(&self, store: &str, start: i64, item: &str) -> &WindowedItem {
        self.items
            .get(&(store.into(), start, item.into()))
            .unwrap_or_else(|| panic!("no windowed item {store} {start} {item}"))
    }

    fn special(&self, store: &str, start: i64) -> &GreenLightSpecial {
        self.specials
            .get(&(store.into(), start))
            .unwrap_or_else(|| panic!("no special for {store} {start}"))
    }
}

/// Writes `table` and `carts` (in this order, carts in event-time order), runs the processor
/// until `items` windowed items and `specials` specials are out, and returns them.
async fn scenario(
    table: Vec<Change>,
    carts: Vec<ShoppingCartObject>,
    items: usize,
    specials: usize,
) -> Outputs {
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn Log> =
        Arc::new(EmbeddedLog::open(dir.path(), EmbeddedConfig::default()).unwrap());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(LocalRegistry::new(
        SchemaStore::open(log.clone()).await.unwrap(),
    ));
    let (cart_id, inv_id) = inputs(&log, &registry, 1).await;
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let rows: Vec<_> = table
        .into_iter()
        .enumerate()
        .map(|(i, change)| match change {
            Change::Put(mut r, ts) => {
                r.id = i as i32 + 1;
                r.modified = ts;
                ProduceRecord::new("inventory")
                    .key(r.key().unwrap())
                    .value(framed(inv_id, &r))
                    .timestamp(ts)
            }
            Change::Delete(key, ts) => ProduceRecord::new("inventory").key(key).timestamp(ts),
        })
        .collect();
    producer.send_batch(&rows).await.unwrap().await.unwrap();
    let carts: Vec<_> = carts
        .iter()
        .map(|c| {
            ProduceRecord::new("carts")
                .key(c.class_name.clone())
                .value(framed(cart_id, c))
                .timestamp(c.timestamp)
        })
        .collect();
    producer.send_batch(&carts).await.unwrap().await.unwrap();
    let cfg = GreenlightConfig {
        input: "carts".into(),
        inventory: "inventory".into(),
        windowed_items: "windowed".into(),
        specials: "specials".into(),
        application_id: "gl-stores".into(),
        instance_id: Some("a".into()),
        window_ms: WINDOW_MS as u64,
        grace_ms: 0,
        idle_timeout_ms: 300,
        ..GreenlightConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(aisle_greenlight::run(
        log.clone(),
        registry,
        cfg,
        async move {
            let _ = stopped.await;
        },
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got_items = read::<WindowedItem>(&log, "windowed").await.len();
        let got_specials = read::<GreenLightSpecial>(&log, "specials").await.len();
        if got_items >= items && got_specials >= specials {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline && !task.is_finished(),
            "outputs incomplete: {got_items}/{items} windowed items, {got_specials}/{specials} specials"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let mut out = Outputs {
        items: BTreeMap::new(),
        specials: BTreeMap::new(),
    };
    for w in read::<WindowedItem>(&log, "windowed").await {
        let key = (w.store_id.clone(), w.window_start, w.item.clone());
        assert!(out.items.insert(key, w).is_none(), "a windowed item twice");
    }
    for s in read::<GreenLightSpecial>(&log, "specials").await {
        let key = (s.store_id.clone(), s.window_start);
        assert!(out.specials.insert(key, s).is_none(), "a special twice");
    }
    assert_eq!((out.items.len(), out.specials.len()), (items, specials));
    out
}

/// `(matched, upsell, stock)` of a windowed item: the row it joined.
fn joined(w: &WindowedItem) -> (bool, Option<&str>, Option<i32>) {
    (w.matched, w.upsell_item.as_deref(), w.stock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_row_shadows_the_chain_wide_row_for_that_store_only() {
    let base = base();
    let t0 = base - WINDOW_MS;
    let table = vec![
        Change::Put(row(None, "cup", "plate", 100), t0),
        Change::Put(row(Some("CA_1"), "cup", "saucer", 7), t0),
        // An item only CA_1 stocks.
        Change::Put(row(Some("CA_1"), "spoon", "fork", 5), t0),
        // The default store's own row: cart objects without a store id do not see it.
        Change::Put(row(Some("store"), "cup", "mug", 1), t0),
    ];
    let mut carts = Vec::new();
    for (i, store) in [Some("CA_1"), Some("TX_1"), None].into_iter().enumerate() {
        let ts = base + 1_000 * i as i64;
        carts.push(cart(store, "cup", ts));
        carts.push(cart(store, "spoon", ts + 1));
    }
    let out = scenario(table, carts, 6, 3).await;
    // CA_1 joins its own rows; the other stores, and records without a store, the chain's.
    assert_eq!(
        joined(out.item("CA_1", base, "cup")),
        (true, Some("saucer"), Some(7))
    );
    assert_eq!(
        joined(out.item("CA_1", base, "spoon")),
        (true, Some("fork"), Some(5))
    );
    for store in ["TX_1", "store"] {
        assert_eq!(
            joined(out.item(store, base, "cup")),
            (true, Some("plate"), Some(100)),
            "{store}"
        );
        assert_eq!(
            joined(out.item(store, base, "spoon")),
            (false, None, None),
            "{store}"
        );
    }
    // The specials follow: CA_1's cup promotes its saucer.
    let ca = out.special("CA_1", base);
    assert_eq!(
        (ca.item.as_str(), ca.upsell_item.as_str()),
        ("cup", "saucer")
    );
    assert_eq!(ca.unmatched_items, 0);
    let tx = out.special("TX_1", base);
    assert_eq!(
        (tx.item.as_str(), tx.upsell_item.as_str()),
        ("cup", "plate")
    );
    assert_eq!(tx.unmatched_items, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_rows_tombstone_falls_back_to_the_chain_wide_row() {
    let base = base();
    let second = base + WINDOW_MS;
    let table = vec![
        Change::Put(row(None, "cup", "plate", 100), base - WINDOW_MS),
        Change::Put(row(Some("CA_1"), "cup", "saucer", 7), base - WINDOW_MS),
        // CA_1 stops keeping its own stock of cups when the second window starts.
        Change::Delete("CA_1/cup", second),
    ];
    let carts = vec![
        cart(Some("CA_1"), "cup", base + 1_000),
        cart(Some("TX_1"), "cup", base + 1_001),
        cart(Some("CA_1"), "cup", second + 1_000),
        cart(Some("TX_1"), "cup", second + 1_001),
    ];
    let out = scenario(table, carts, 4, 4).await;
    assert_eq!(
        joined(out.item("CA_1", base, "cup")),
        (true, Some("saucer"), Some(7))
    );
    assert_eq!(
        joined(out.item("CA_1", second, "cup")),
        (true, Some("plate"), Some(100))
    );
    for start in [base, second] {
        assert_eq!(
            joined(out.item("TX_1", start, "cup")),
            (true, Some("plate"), Some(100))
        );
    }
    assert_eq!(out.special("CA_1", base).upsell_item, "saucer");
    assert_eq!(out.special("CA_1", second).upsell_item, "plate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_specials_upsell_stock_is_the_stores_own() {
    let base = base();
    let t0 = base - WINDOW_MS;
    let table = vec![
        Change::Put(row(None, "bowl", "cup", 10), t0),
        Change::Put(row(None, "cup", "plate", 100), t0),
        Change::Put(row(None, "fork", "spoon", 200), t0),
        // CA_1 has no cups left, and keeps spoons, which the chain does not list.
        Change::Put(row(Some("CA_1"), "cup", "plate", 0), t0),
        Change::Put(row(Some("CA_1"), "spoon", "fork", 5), t0),
    ];
    let mut carts = Vec::new();
    for (s, store) in ["CA_1", "TX_1"].into_iter().enumerate() {
        let ts = base + 1_000 * s as i64;
        for k in 0..3 {
            carts.push(cart(Some(store), "bowl", ts + k));
        }
        carts.push(cart(Some(store), "fork", ts + 3));
    }
    let out = scenario(table, carts, 4, 2).await;
    // CA_1: bowl's upsell (cup) is out of stock there, so fork wins, its spoon in CA_1's stock.
    let ca = out.special("CA_1", base);
    assert_eq!(
        (ca.item.as_str(), ca.upsell_item.as_str()),
        ("fork", "spoon")
    );
    assert_eq!(
        ca.reason,
        "most carted (1, no other candidate); upsell spoon in stock (5); \
         passed over: bowl 3 (upsell cup out of stock (0))"
    );
    // TX_1 sees the chain's cups.
    let tx = out.special("TX_1", base);
    assert_eq!((tx.item.as_str(), tx.upsell_item.as_str()), ("bowl", "cup"));
    assert_eq!(
        tx.reason,
        "most carted (3, next fork 1); upsell cup in stock (100)"
    );
}
