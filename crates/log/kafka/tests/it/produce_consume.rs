//! Producing and consuming against a real broker (AISLE_TEST_KAFKA).

use crate::common;

use aisle_log::{
    ConsumerConfig, Log, Offset, ProduceRecord, ProducerConfig, TopicPartition, partition_for_key,
};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn keys_headers_timestamps_and_tombstones_round_trip() {
    let Some(log) = common::log().await else {
        return;
    };
    let topic = common::topic(&log, "rt", 1).await;
    let producer = log.producer(&ProducerConfig::default()).unwrap();

    let first = producer
        .send(
            ProduceRecord::new(&topic)
                .key("cup")
                .value(&b"\x00\x00\x00\x00\x01avro"[..])
                .timestamp(1_700_000_000_123)
                .header("source", "camera-7")
                .header("empty", ""),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        (first.partition, first.offset, first.timestamp),
        (0, 0, 1_700_000_000_123)
    );
    let tomb = producer
        .send(ProduceRecord::new(&topic).key("cup"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(tomb.offset, 1);
    let unkeyed = producer
        .send(ProduceRecord::new(&topic).value("plain"))
        .await
        .unwrap();
    producer.flush(WAIT).await.unwrap();
    let unkeyed = unkeyed.await.unwrap();
    assert_eq!(unkeyed.offset, 2);
    assert!(
        unkeyed.timestamp > 1_700_000_000_123,
        "no timestamp means now"
    );

    let mut consumer = log.consumer(&ConsumerConfig::default()).unwrap();
    consumer
        .assign(&[(TopicPartition::new(&topic, 0), Offset::Beginning)])
        .unwrap();
    let records = common::read_to_end(consumer.as_mut(), WAIT).await;
    assert!(consumer.is_caught_up());
    assert_eq!(records.len(), 3, "{records:?}");

    let r = &records[0];
    assert_eq!(r.key.as_deref(), Some(&b"cup"[..]));
    assert_eq!(r.value.as_deref(), Some(&b"\x00\x00\x00\x00\x01avro"[..]));
    assert_eq!(r.timestamp, 1_700_000_000_123);
    assert_eq!(r.header("source").map(|v| &v[..]), Some(&b"camera-7"[..]));
    assert_eq!(r.headers.len(), 2);
    assert_eq!(r.headers[1].key, "empty");

    assert_eq!(records[1].key.as_deref(), Some(&b"cup"[..]));
    assert_eq!(records[1].value, None, "tombstone keeps its None value");
    assert_eq!(records[2].key, None);
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(consumer.position(&TopicPartition::new(&topic, 0)), Some(3));

    // Seek back and re-read the tombstone onwards.
    consumer
        .seek(&TopicPartition::new(&topic, 0), Offset::At(1))
        .await
        .unwrap();
    let again = common::read_n(consumer.as_mut(), 2, WAIT).await;
    assert_eq!(
        again.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(
        log.watermarks(&TopicPartition::new(&topic, 0))
            .await
            .unwrap(),
        (0, 3)
    );
}

#[tokio::test]
async fn keys_land_where_java_murmur2_puts_them() {
    let Some(log) = common::log().await else {
        return;
    };
    let partitions = 10;
    let topic = common::topic(&log, "murmur", partitions).await;
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("FOODS_3_{i:03}_CA_1")).collect();
    let mut pending = Vec::new();
    for key in &keys {
        pending.push(
            producer
                .send(ProduceRecord::new(&topic).key(key.clone()).value("v"))
                .await
                .unwrap(),
        );
    }
    let mut used = std::collections::HashSet::new();
    for (key, fut) in keys.iter().zip(pending) {
        let meta = fut.await.unwrap();
        assert_eq!(
            meta.partition,
            partition_for_key(key.as_bytes(), partitions),
            "key {key}"
        );
        used.insert(meta.partition);
    }
    assert!(used.len() > 5, "keys spread over partitions: {used:?}");

    // An explicit partition wins over the key.
    let meta = producer
        .send(
            ProduceRecord::new(&topic)
                .key("FOODS_3_000_CA_1")
                .partition(9)
                .value("v"),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(meta.partition, 9);
}

#[tokio::test]
async fn group_commits_and_resumes() {
    let Some(log) = common::log().await else {
        return;
    };
    let topic = common::topic(&log, "group", 2).await;
    let group = common::unique("g");
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    for i in 0..20 {
        producer
            .send(
                ProduceRecord::new(&topic)
                    .key(format!("k{i}"))
                    .value(format!("{i}")),
            )
            .await
            .unwrap();
    }
    producer.flush(WAIT).await.unwrap();

    let mut first = log.consumer(&ConsumerConfig::group(&group)).unwrap();
    first.subscribe(&[topic.as_str()]).unwrap();
    let read = common::read_to_end(first.as_mut(), WAIT).await;
    assert_eq!(read.len(), 20);
    let rebalances = first.take_rebalances();
    assert!(
        rebalances
            .iter()
            .any(|r| matches!(r, aisle_log::Rebalance::Assigned(tps) if tps.len() == 2)),
        "{rebalances:?}"
    );
    assert!(first.group_metadata().is_some_and(|g| g.group_id == group));
    // Commit only up to offset 3 of partition 0, and the full position of partition 1.
    let p0 = TopicPartition::new(&topic, 0);
    let p1 = TopicPartition::new(&topic, 1);
    first.commit_positions().await.unwrap();
    first.commit(&[(p0.clone(), 3)]).await.unwrap();
    let end1 = first.position(&p1).unwrap();
    assert_eq!(
        first.committed(&[p0.clone(), p1.clone()]).await.unwrap(),
        vec![Some(3), Some(end1)]
    );
    drop(first);

    // A new member resumes from the committed offsets: partition 0 from 3, partition 1 at its end.
    let mut second = log.consumer(&ConsumerConfig::group(&group)).unwrap();
    second.subscribe(&[topic.as_str()]).unwrap();
    let resumed = common::read_to_end(second.as_mut(), WAIT).await;
    let (low1, high1) = log.watermarks(&p1).await.unwrap();
    let (_, high0) = log.watermarks(&p0).await.unwrap();
    assert_eq!((low1, end1), (0, high1));
    assert_eq!(resumed.len() as i64, high0 - 3, "{resumed:?}");
    assert!(resumed.iter().all(|r| r.partition == 0 && r.offset >= 3));
}
