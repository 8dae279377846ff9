//! Helpers shared by the modules: the input topics, framing values as the registry's
//! serializers do, and reading an output topic back.

use aisle_events::{Event, wire};
use aisle_log::{CleanupPolicy, Log, TopicSpec};
use aisle_registry::SchemaRegistry;
use std::sync::Arc;

/// Creates `carts` (`partitions`) and the compacted `inventory`, registers both value schemas;
/// returns their ids (cart objects, inventory).
pub async fn inputs(
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    partitions: i32,
) -> (u32, u32) {
    log.create_topic(&TopicSpec::new("carts", partitions))
        .await
        .unwrap();
    log.create_topic(&TopicSpec::new("inventory", 1).cleanup(CleanupPolicy::Compact))
        .await
        .unwrap();
    let cart_id = registry
        .register("carts-value", aisle_events::schemas::SHOPPING_CART_OBJECT)
        .await
        .unwrap();
    let inv_id = registry
        .register("inventory-value", aisle_events::schemas::INVENTORY)
        .await
        .unwrap();
    (cart_id, inv_id)
}

/// `v` Confluent-framed with schema id `id`.
pub fn framed<T: Event>(id: u32, v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_header(&mut out, id);
    v.encode(&mut out).unwrap();
    out
}

/// Every value of `topic` decoded (none if the topic does not exist yet).
pub async fn read<T: Event>(log: &Arc<dyn Log>, topic: &str) -> Vec<T> {
    if log.describe_topic(topic).await.is_err() {
        return Vec::new();
    }
    aisle_testkit::read_all(&**log, topic)
        .await
        .unwrap()
        .iter()
        .map(|r| T::decode(wire::split(r.value.as_ref().unwrap()).unwrap().1).unwrap())
        .collect()
}
