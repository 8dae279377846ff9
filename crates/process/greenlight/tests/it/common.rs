//! Helpers shared by the modules: framing values as the registry's serializers do, and reading
//! an output topic back.

use aisle_events::{Event, wire};
use aisle_log::Log;
use std::sync::Arc;

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
