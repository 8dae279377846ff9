//! `aisle camera simulate`: realistic detection events without a model or photos.
//!
//! Like the original system's test producer, but keyed by item name so the records join with the
//! inventory: about 85% of the items are the seven seed inventory rows (cup, bowl, fork, spoon,
//! sports ball, tennis racket, frisbee), the rest other COCO classes found in a shop.
//!
//! Carts are spread over the first [`SimOptions::stores`] stores of the chain
//! ([`topics::chain_store`]: M5's ten first, then `CA_5`, `TX_4`, `WI_4`, ...): four carts per
//! store, cart `c` (1..=4 × stores) in store `c mod stores`. The default, ten stores, is M5's
//! stores with carts 1..=40.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aisle_events::{ShoppingCartObject, topics};
use aisle_log::{Log, ProduceRecord, ProducerConfig};
use aisle_registry::SchemaRegistry;
use rand::Rng;
use rand::rngs::StdRng;
use rand::{SeedableRng, seq::IndexedRandom};

use crate::error::Result;
use crate::labels::{LabelMap, coco_by_name};
use crate::run::encode;

/// Items and relative weights: the seed inventory's seven first.
const ITEMS: [(&str, u32); 11] = [
    ("cup", 20),
    ("bowl", 12),
    ("fork", 10),
    ("spoon", 10),
    ("sports ball", 12),
    ("tennis racket", 10),
    ("frisbee", 11),
    ("bottle", 5),
    ("banana", 4),
    ("apple", 3),
    ("orange", 3),
];

/// Carts per store.
const CARTS_PER_STORE: u32 = 4;

/// Stores of the default simulation: M5's ten.
const DEFAULT_STORES: usize = topics::M5_STORES.len();

/// Simulator settings.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Events per second (> 0).
    pub rate: f64,
    /// Store id of every event; `None`: each cart's store, among the first `stores` of the
    /// chain.
    pub store_id: Option<String>,
    /// Stores the carts are spread over (the first N of the chain; default 10: M5's stores).
    pub stores: usize,
    /// Output topic.
    pub topic: String,
    /// Stop after this many events (`None`: until shutdown).
    pub count: Option<u64>,
    /// Random seed (`None`: from the OS).
    pub seed: Option<u64>,
    /// COCO label → inventory name, as for the real camera.
    pub labels: LabelMap,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            rate: 5.0,
            store_id: None,
            stores: DEFAULT_STORES,
            topic: topics::SHOPPING_CART_OBJECTS.into(),
            count: None,
            seed: None,
            labels: LabelMap::default(),
        }
    }
}

/// One simulated detection at `now_ms`.
pub fn event(rng: &mut impl Rng, opts: &SimOptions, now_ms: i64) -> ShoppingCartObject {
    let (label, _) = *ITEMS
        .choose_weighted(rng, |(_, w)| *w)
        .expect("ITEMS is non-empty with positive weights");
    let class = coco_by_name(label).expect("ITEMS are COCO labels");
    let stores = opts.stores.max(1);
    let cart = rng.random_range(1..=CARTS_PER_STORE * stores as u32);
    let store = opts
        .store_id
        .clone()
        .unwrap_or_else(|| topics::chain_store(cart as usize % stores));
    let (w, h) = (rng.random_range(40..400), rng.random_range(40..400));
    ShoppingCartObject {
        timestamp: now_ms,
        image_name: format!("sim-{store}-cart{cart:02}-{now_ms}.jpg"),
        class_id: class.id,
        class_name: opts.labels.item(label).to_string(),
        score: rng.random_range(0.5f32..0.99),
        box_x: rng.random_range(0..(640 - w)),
        box_y: rng.random_range(0..(480 - h).max(1)),
        box_w: w,
        box_h: h,
        store_id: Some(store),
        cart_id: Some(format!("cart-{cart:02}")),
        camera_id: Some(format!("sim-camera-{cart:02}")),
    }
}

/// Sends simulated events at `opts.rate` until `count` or `shutdown`; returns how many were
/// delivered.
pub async fn simulate(
    log: Arc<dyn Log>,
    registry: Arc<dyn SchemaRegistry>,
    opts: SimOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<u64> {
    let spec = topics::default_spec(&opts.topic)
        .unwrap_or_else(|| aisle_log::TopicSpec::new(&opts.topic, 1));
    log.create_topic(&spec).await?;
    let schema = crate::run::register(registry.as_ref(), &opts.topic).await?;
    let producer = log.producer(&ProducerConfig {
        client_id: "aisle-camera-simulate".into(),
        ..Default::default()
    })?;
    let mut rng = match opts.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    };
    let period = Duration::from_secs_f64(1.0 / opts.rate.max(1e-3));
    let mut ticker = tokio::time::interval(period);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut deliveries = Vec::new();
    let mut sent = 0u64;
    while opts.count.is_none_or(|c| sent < c) {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        let now = aisle_log::now_ms();
        let ev = event(&mut rng, &opts, now);
        let rec = ProduceRecord::new(&opts.topic)
            .key(ev.class_name.clone())
            .value(encode(schema, &ev)?)
            .timestamp(now);
        deliveries.push(producer.send(rec).await?);
        sent += 1;
        metrics::counter!("aisle_records_out_total", "component" => "camera-simulator", "topic" => opts.topic.clone()).increment(1);
        if deliveries.len() >= 256 {
            for d in deliveries.drain(..) {
                d.await?;
            }
        }
    }
    for d in deliveries {
        d.await?;
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_mostly_match_the_seed_inventory() {
        let mut rng = StdRng::seed_from_u64(7);
        let opts = SimOptions::default();
        let seed = [
            "cup",
            "bowl",
            "fork",
            "spoon",
            "sports ball",
            "tennis racket",
            "frisbee",
        ];
        let n = 2000;
        let mut hits = 0;
        for i in 0..n {
            let e = event(&mut rng, &opts, i);
            assert!(e.score >= 0.5 && e.box_x + e.box_w <= 640 && e.box_w > 0);
            assert_eq!(coco_by_name(&e.class_name).map(|c| c.id), Some(e.class_id));
            assert!(topics::M5_STORES.contains(&e.store_id.as_deref().unwrap()));
            hits += seed.contains(&e.class_name.as_str()) as usize;
        }
        assert!(hits > n as usize * 3 / 4, "{hits}");
    }

    #[test]
    fn carts_spread_over_the_first_n_chain_stores() {
        let stores_of = |stores: usize, n: i64| {
            let mut rng = StdRng::seed_from_u64(11);
            let opts = SimOptions {
                stores,
                ..SimOptions::default()
            };
            let mut seen = std::collections::BTreeMap::<String, u32>::new();
            for i in 0..n {
                let e = event(&mut rng, &opts, i);
                let cart: usize = e.cart_id.unwrap()[5..].parse().unwrap();
                let store = e.store_id.unwrap();
                assert_eq!(store, topics::chain_store(cart % stores));
                *seen.entry(store).or_default() += 1;
            }
            seen
        };
        let m5 = stores_of(10, 2000);
        let want: std::collections::BTreeSet<String> =
            topics::M5_STORES.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            m5.keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>(),
            want
        );
        let chain = stores_of(100, 20_000);
        let want: std::collections::BTreeSet<String> =
            topics::chain_stores(100).into_iter().collect();
        assert_eq!(
            chain
                .keys()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>(),
            want
        );
        assert!(
            chain.values().all(|n| *n > 100),
            "every store gets carts: {chain:?}"
        );
        assert_eq!(stores_of(3, 500).len(), 3);
    }
}
