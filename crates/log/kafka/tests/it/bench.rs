//! `aisle_log_kafka::bench` against a real broker (AISLE_TEST_KAFKA): every record it reports
//! is really in the topic, placed by key as Aisle's producer would place it.

use crate::common;

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

#[tokio::test]
async fn a_raw_pool_run_keeps_each_records_partition_timestamp_and_headers() {
    let Some(log) = common::log().await else {
        return;
    };
    let topic = common::topic(&log, "bench-pool", 3).await;
    let pool: Vec<aisle_log::ProduceRecord> = (0..3)
        .map(|p| {
            aisle_log::ProduceRecord::new("ignored")
                .partition(p)
                .key(format!("k{p}"))
                .value(format!("v{p}"))
                .timestamp(1_000 + i64::from(p))
                .header("h", "x")
        })
        .collect();
    let run = bench::raw_produce_pool(&log.config().bootstrap, &BTreeMap::new(), &topic, &pool, 30)
        .await
        .unwrap();
    assert_eq!((run.records, run.bytes), (30, 60));
    let mut consumer = log.consumer(&aisle_log::ConsumerConfig::default()).unwrap();
    let all: Vec<_> = (0..3)
        .map(|p| (TopicPartition::new(&topic, p), aisle_log::Offset::Beginning))
        .collect();
    consumer.assign(&all).unwrap();
    let records = common::read_n(&mut *consumer, 30, std::time::Duration::from_secs(20)).await;
    assert_eq!(records.len(), 30);
    for r in &records {
        let p = r.partition;
        assert_eq!(r.key.as_deref(), Some(format!("k{p}").as_bytes()));
        assert_eq!(r.timestamp, 1_000 + i64::from(p));
        assert_eq!(r.header("h").map(|v| v.as_ref()), Some(&b"x"[..]));
    }
    log.delete_topic(&topic).await.unwrap();
}
