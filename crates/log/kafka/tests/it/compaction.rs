//! Compaction on a real broker (AISLE_TEST_KAFKA): checks that topic configs pass through and
//! that the broker settings of scripts/kafka-up let the cleaner run within a test's patience.

use crate::common;

use aisle_log::{
    CleanupPolicy, ConsumerConfig, Log, Offset, ProduceRecord, ProducerConfig, TopicPartition,
    TopicSpec,
};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test]
async fn compaction_keeps_the_latest_value_per_key_and_drops_tombstoned_keys() {
    let Some(log) = common::log().await else {
        return;
    };
    let topic = common::unique("compact");
    let spec = TopicSpec::new(&topic, 1)
        .cleanup(CleanupPolicy::Compact)
        // Roll segments quickly (only closed segments are cleaned), clean at any dirt ratio,
        // and drop tombstones soon after cleaning.
        .config("segment.ms", "100")
        .config("min.cleanable.dirty.ratio", "0.001")
        .config("delete.retention.ms", "100");
    assert!(log.create_topic(&spec).await.unwrap());
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let send = |key: &str, value: Option<&str>| {
        let mut r = ProduceRecord::new(&topic).key(key.to_owned());
        r.value = value.map(|v| Bytes::from(v.to_owned()));
        r
    };
    for (k, v) in [
        ("a", Some("a1")),
        ("b", Some("b1")),
        ("a", Some("a2")),
        ("b", None),
    ] {
        producer.send(send(k, v)).await.unwrap().await.unwrap();
    }
    let tp = TopicPartition::new(&topic, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // A later record rolls the segment holding the earlier ones, making them cleanable.
        tokio::time::sleep(Duration::from_millis(300)).await;
        producer
            .send(send("c", Some("c1")))
            .await
            .unwrap()
            .await
            .unwrap();

        let mut consumer = log.consumer(&ConsumerConfig::default()).unwrap();
        consumer.assign(&[(tp.clone(), Offset::Beginning)]).unwrap();
        let records = common::read_to_end(consumer.as_mut(), Duration::from_secs(10)).await;
        let mut latest = BTreeMap::new();
        let mut seen_a1 = false;
        for r in &records {
            let key = String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap();
            seen_a1 |= r.value.as_deref() == Some(&b"a1"[..]);
            latest.insert(key, r.value.clone());
        }
        let b_gone = !records.iter().any(|r| r.key.as_deref() == Some(&b"b"[..]));
        if !seen_a1 && b_gone {
            assert_eq!(
                latest.get("a"),
                Some(&Some(Bytes::from("a2"))),
                "{records:?}"
            );
            assert!(latest.contains_key("c"));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not compacted within 60 s (is log.cleaner.backoff.ms short?): {records:?}"
        );
    }
}
