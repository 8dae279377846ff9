//! Default topic names, their [`TopicSpec`]s, subjects and the M5 store → partition map.
//!
//! These are the defaults of the design's topic table; every component takes its topic names from
//! configuration, with these as the fallback, so a deployment can rename or prefix them.

use aisle_log::{CleanupPolicy, TopicSpec};

/// Detections from cart cameras, keyed by item name.
pub const SHOPPING_CART_OBJECTS: &str = "shopping_cart_objects";
/// Inventory rows as the JDBC source connector writes them (no key).
pub const INVENTORY_JDBC: &str = "mysql_tables_jdbc_inventory";
/// Inventory rows keyed by item name; compacted, so it is the table's latest state.
pub const INVENTORY_REKEYED: &str = "inventory_rekeyed";
/// Per-item counts of each closed window, keyed `item@window_start`.
pub const WINDOWED_ITEMS: &str = "windowed_items";
/// The winning special per store and window, keyed by store id.
pub const GREEN_LIGHT_SPECIALS: &str = "green_light_specials";
/// M5 daily sales, one partition per store, keyed `ITEM_STORE`.
pub const SALES: &str = "sales";
/// Latest forecast per M5 series; compacted.
pub const SALES_FORECASTS: &str = "sales_forecasts";
/// The schema registry's store; compacted.
pub const SCHEMAS: &str = "_schemas";

/// The M5 stores in Kaggle order; a store's index is its `sales` partition.
pub const M5_STORES: [&str; 10] = [
    "CA_1", "CA_2", "CA_3", "CA_4", "TX_1", "TX_2", "TX_3", "WI_1", "WI_2", "WI_3",
];

/// The states of a synthetic chain's stores beyond M5's ten, in turn.
const CHAIN_STATES: [&str; 3] = ["CA", "TX", "WI"];

/// The store with index `i` (0-based) of a chain: M5's ten stores first (so a chain of 10 is
/// M5's), then `CA_5`, `TX_4`, `WI_4`, `CA_6`, … (states in turn, numbered on from M5's).
pub fn chain_store(i: usize) -> String {
    if let Some(s) = M5_STORES.get(i) {
        return (*s).to_string();
    }
    let k = i - M5_STORES.len();
    let state = CHAIN_STATES[k % 3];
    let m5_count = [4, 3, 3][k % 3];
    format!("{state}_{}", m5_count + k / 3 + 1)
}

/// The first `n` stores of a chain ([`chain_store`]).
pub fn chain_stores(n: usize) -> Vec<String> {
    (0..n).map(chain_store).collect()
}

/// The chain index of a store id made by [`chain_store`] (`CA_1` → 0, `CA_5` → 10), `None` for
/// any other id.
pub fn chain_store_index(store_id: &str) -> Option<usize> {
    if let Some(i) = M5_STORES.iter().position(|s| *s == store_id) {
        return Some(i);
    }
    let (state, number) = store_id.split_once('_')?;
    let slot = CHAIN_STATES.iter().position(|s| *s == state)?;
    if number.starts_with('0') {
        return None;
    }
    let n: usize = number.parse().ok()?;
    let m5_count = [4, 3, 3][slot];
    let k = n.checked_sub(m5_count + 1)?.checked_mul(3)? + slot;
    Some(M5_STORES.len() + k)
}

/// The `sales` partition of the chain store with index `store` in a topic of `partitions`
/// partitions: `store mod partitions`. With M5's ten stores and ten partitions, a store's Kaggle
/// index is its partition.
pub fn chain_partition(store: usize, partitions: i32) -> i32 {
    let p = partitions.max(1) as usize;
    (store % p) as i32
}

/// The dead-letter topic of `topic`: records that could not be processed, with error headers.
pub fn dlq(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// The registry subject of `topic`'s values (Confluent's TopicNameStrategy).
pub fn value_subject(topic: &str) -> String {
    format!("{topic}-value")
}

/// The `sales` partition of an M5 store (its Kaggle index), `None` for an unknown store.
pub fn store_partition(store_id: &str) -> Option<i32> {
    M5_STORES
        .iter()
        .position(|s| *s == store_id)
        .and_then(|i| i32::try_from(i).ok())
}

/// How long the inventory table keeps superseded versions (event time, ms): the topic's
/// `min.compaction.lag.ms`, and greenlight's default `table_history_ms`. A version is compacted
/// away only once its successor is older than this, so a processor restarted after compaction
/// still joins its uncommitted cart objects with the rows in force at their times.
pub const INVENTORY_HISTORY_MS: i64 = 600_000;

/// Default spec of one of the topics above (or a `.dlq`): the design table's partition count and
/// cleanup policy. `None` for a name that is not one of Aisle's topics.
pub fn default_spec(topic: &str) -> Option<TopicSpec> {
    let (partitions, cleanup) = match topic {
        SHOPPING_CART_OBJECTS | INVENTORY_JDBC | WINDOWED_ITEMS | GREEN_LIGHT_SPECIALS => {
            (1, CleanupPolicy::Delete)
        }
        INVENTORY_REKEYED | SCHEMAS => (1, CleanupPolicy::Compact),
        SALES => (M5_STORES.len() as i32, CleanupPolicy::Delete),
        SALES_FORECASTS => (M5_STORES.len() as i32, CleanupPolicy::Compact),
        t if t.ends_with(".dlq") && t.len() > 4 => (1, CleanupPolicy::Delete),
        _ => return None,
    };
    let spec = TopicSpec::new(topic, partitions).cleanup(cleanup);
    // `sales` holds replayed history whose timestamps are the M5 days (2011–2016): time
    // retention would delete it as soon as the broker checks, so it is kept forever.
    Some(match topic {
        SALES => spec.retention_ms(-1),
        INVENTORY_REKEYED => {
            let mut spec = spec;
            spec.configs.insert(
                "min.compaction.lag.ms".into(),
                INVENTORY_HISTORY_MS.to_string(),
            );
            spec
        }
        _ => spec,
    })
}

/// Specs of every default topic (not the dead-letter topics, which are made on first use).
pub fn default_specs() -> Vec<TopicSpec> {
    [
        SHOPPING_CART_OBJECTS,
        INVENTORY_JDBC,
        INVENTORY_REKEYED,
        WINDOWED_ITEMS,
        GREEN_LIGHT_SPECIALS,
        SALES,
        SALES_FORECASTS,
        SCHEMAS,
    ]
    .into_iter()
    .filter_map(default_spec)
    .collect()
}

/// The value schema of each standard topic that carries Avro records (`_schemas` does not).
pub fn value_schemas() -> [(&'static str, &'static str); 7] {
    use crate::schemas;
    [
        (SHOPPING_CART_OBJECTS, schemas::SHOPPING_CART_OBJECT),
        (INVENTORY_JDBC, schemas::INVENTORY),
        (INVENTORY_REKEYED, schemas::INVENTORY),
        (WINDOWED_ITEMS, schemas::WINDOWED_ITEM),
        (GREEN_LIGHT_SPECIALS, schemas::GREEN_LIGHT_SPECIAL),
        (SALES, schemas::SALES_RECORD),
        (SALES_FORECASTS, schemas::SALES_FORECAST),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_the_design_table() {
        let specs = default_specs();
        assert_eq!(specs.len(), 8);
        let compacted: Vec<&str> = specs
            .iter()
            .filter(|s| s.cleanup == CleanupPolicy::Compact)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(compacted, [INVENTORY_REKEYED, SALES_FORECASTS, SCHEMAS]);
        assert_eq!(default_spec(SALES).unwrap().partitions, 10);
        // Replayed history (2011–2016 timestamps) is never deleted by time retention.
        assert_eq!(default_spec(SALES).unwrap().retention_ms, Some(-1));
        assert_eq!(
            default_spec(SHOPPING_CART_OBJECTS).unwrap().retention_ms,
            None
        );
        assert_eq!(default_spec(SALES_FORECASTS).unwrap().partitions, 10);
        assert_eq!(default_spec(SHOPPING_CART_OBJECTS).unwrap().partitions, 1);
        let dlq_spec = default_spec(&dlq(SALES)).unwrap();
        assert_eq!(
            (dlq_spec.name.as_str(), dlq_spec.partitions),
            ("sales.dlq", 1)
        );
        assert!(default_spec("orders").is_none());
        assert!(default_spec(".dlq").is_none());
    }

    #[test]
    fn names_subjects_and_store_partitions() {
        assert_eq!(INVENTORY_JDBC, "mysql_tables_jdbc_inventory");
        assert_eq!(value_subject(SALES), "sales-value");
        assert_eq!(dlq(SHOPPING_CART_OBJECTS), "shopping_cart_objects.dlq");
        assert_eq!(store_partition("CA_1"), Some(0));
        assert_eq!(store_partition("TX_1"), Some(4));
        assert_eq!(store_partition("WI_3"), Some(9));
        assert_eq!(store_partition("ca_1"), None);
    }

    #[test]
    fn chain_stores_start_with_m5_and_round_trip() {
        assert_eq!(chain_stores(10), M5_STORES);
        assert_eq!(chain_stores(14)[10..], ["CA_5", "TX_4", "WI_4", "CA_6"]);
        let stores = chain_stores(100);
        let unique: std::collections::BTreeSet<_> = stores.iter().collect();
        assert_eq!(unique.len(), 100);
        for (i, s) in stores.iter().enumerate() {
            assert_eq!(chain_store_index(s), Some(i), "{s}");
        }
        for bad in ["CA_0", "CA_05", "NY_1", "CA", "CA_x", "ca_1"] {
            assert_eq!(chain_store_index(bad), None, "{bad}");
        }
        assert_eq!(chain_partition(9, 10), 9);
        assert_eq!(chain_partition(57, 10), 7);
        assert_eq!(chain_partition(3, 0), 0);
    }
}
