//! `aisle_log_kafka::bench` against a real broker (AISLE_TEST_KAFKA): every record it reports
//! is really in the topic, placed by key as Aisle's producer would place it.

mod common;

use aisle_log::{Log, ProducerConfig, TopicPartition, partition_for_key};
use aisle_log_kafka::bench::{self, KEYS, Until};
use std::collections::BTreeMap;

#[tokio::test]
async fn raw_and_aisle_runs_deliver_every_record() {
    let Some(log) = common::log().await else {
        return;
    };
    let partitions = 3;
    let raw_topic = common::topic(&log, "bench-raw", partitions).await;
    let run = bench::raw_produce(
        &log.config().bootstrap,
        &BTreeMap::new(),
        &raw_topic,
        7_000,
        100,
    )
    .await
    .unwrap();
    assert_eq!((run.records, run.bytes), (7_000, 700_000));
    assert!(run.secs > 0.0 && run.rate().is_finite(), "{run:?}");

    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let aisle_topic = common::topic(&log, "bench-aisle", partitions).await;
    let aisle = bench::aisle_produce(&*producer, &aisle_topic, 7_000, 100, Until::Delivered)
        .await
        .unwrap();
    assert_eq!(aisle.records, 7_000);

    // 1,000 records per key on both sides, on the partition murmur2 gives each key.
    for topic in [&raw_topic, &aisle_topic] {
        let mut expected = vec![0i64; partitions as usize];
        for key in KEYS {
            expected[partition_for_key(key.as_bytes(), partitions) as usize] += 1_000;
        }
        for (p, want) in expected.iter().enumerate() {
            let (low, high) = log
                .watermarks(&TopicPartition::new(topic, p as i32))
                .await
                .unwrap();
            assert_eq!(high - low, *want, "{topic}/{p}");
        }
        log.delete_topic(topic).await.unwrap();
    }
}

#[tokio::test]
async fn raw_produce_names_a_missing_topic() {
    let Some(log) = common::log().await else {
        return;
    };
    let mut props = BTreeMap::new();
    // librdkafka gives up on an unknown topic after this; keep the test short.
    props.insert("message.timeout.ms".to_owned(), "2000".to_owned());
    let missing = common::unique("bench-missing");
    let err = bench::raw_produce(&log.config().bootstrap, &props, &missing, 10, 10)
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&missing), "{err}");
}
