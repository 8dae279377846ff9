//! A missing topic or partition is refused at `send`, promptly and with the log contract's
//! error, by both producers; the metadata behind it follows topics that appear or grow.

use crate::common;

use aisle_log::{Log, LogError, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::DefaultClientContext;
use std::time::Duration;
use tokio::time::Instant;

/// Well under librdkafka's own 30 s metadata wait, which is what the check replaces.
const PROMPT: Duration = Duration::from_secs(5);

/// Sends and awaits delivery, so an error at either step counts.
async fn produce(producer: &dyn aisle_log::Producer, rec: ProduceRecord) -> aisle_log::Result<()> {
    producer.send(rec).await?.await.map(drop)
}

#[tokio::test]
async fn missing_topic_fails_fast_and_a_later_one_is_seen() {
    let Some(log) = common::log().await else {
        return;
    };
    let missing = common::unique("missing");
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let start = Instant::now();
    let err = produce(&*producer, ProduceRecord::new(&missing).value("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LogError::UnknownTopic(ref t) if *t == missing),
        "{err:?}"
    );
    assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    // The refusal is not cached: once the topic exists the same producer writes to it.
    assert!(
        log.create_topic(&TopicSpec::new(&missing, 2))
            .await
            .unwrap()
    );
    produce(
        &*producer,
        ProduceRecord::new(&missing).value("x").partition(1),
    )
    .await
    .unwrap();
    assert_eq!(
        log.watermarks(&TopicPartition::new(&missing, 1))
            .await
            .unwrap(),
        (0, 1)
    );
    log.delete_topic(&missing).await.unwrap();
}

#[tokio::test]
async fn partition_past_the_end_is_unknown_partition_until_the_topic_grows() {
    let Some(log) = common::log().await else {
        return;
    };
    let topic = common::topic(&log, "grow", 2).await;
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    // Warm the cache with the 2-partition count first.
    produce(
        &*producer,
        ProduceRecord::new(&topic).value("a").partition(1),
    )
    .await
    .unwrap();
    for bad in [2, 7, -1] {
        let start = Instant::now();
        let err = produce(
            &*producer,
            ProduceRecord::new(&topic).value("b").partition(bad),
        )
        .await
        .unwrap_err();
        match err {
            LogError::UnknownPartition {
                topic: t,
                partition,
                partitions: 2,
            } => assert_eq!((t.as_str(), partition), (topic.as_str(), bad)),
            other => panic!("partition {bad} of 2: {other:?}"),
        }
        assert!(start.elapsed() < PROMPT, "took {:?}", start.elapsed());
    }

    // Grow the topic behind the producer's back: a stale count must not refuse partition 2.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &log.config().bootstrap)
        .create()
        .unwrap();
    let grown = admin
        .create_partitions(&[NewPartitions::new(&topic, 3)], &AdminOptions::new())
        .await
        .unwrap();
    assert!(grown.iter().all(Result::is_ok), "{grown:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match produce(
            &*producer,
            ProduceRecord::new(&topic).value("c").partition(2),
        )
        .await
        {
            Ok(()) => break,
            Err(LogError::UnknownPartition { partitions: 2, .. }) if Instant::now() < deadline => {
                // Metadata of the new partition still propagating.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("partition 2 of the grown topic: {e:?}"),
        }
    }
    assert_eq!(log.describe_topic(&topic).await.unwrap().partitions, 3);
    log.delete_topic(&topic).await.unwrap();
}

#[tokio::test]
async fn transactional_send_checks_topic_and_partition() {
    let Some(log) = common::log().await else {
        return;
    };
    let topic = common::topic(&log, "txcheck", 2).await;
    let mut tx = log
        .tx_producer(&common::unique("tx-check"), &ProducerConfig::default())
        .await
        .unwrap();
    tx.begin().await.unwrap();
    let err = tx
        .send(ProduceRecord::new(&topic).value("x").partition(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LogError::UnknownPartition { partition: 2, partitions: 2, topic: ref t } if *t == topic),
        "{err:?}"
    );
    let missing = common::unique("tx-missing");
    let err = tx
        .send(ProduceRecord::new(&missing).value("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LogError::UnknownTopic(ref t) if *t == missing),
        "{err:?}"
    );
    // Refused records never entered the transaction: it still commits what was valid.
    tx.send(ProduceRecord::new(&topic).value("ok").partition(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The coordinator writes the commit markers after `commit` returns; until then the last
    // stable offset (what `watermarks` reports under read_committed) stays at 0.
    let tp = TopicPartition::new(&topic, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut high = log.watermarks(&tp).await.unwrap().1;
    while high < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        high = log.watermarks(&tp).await.unwrap().1;
    }
    assert_eq!(high, 2, "the record plus the commit marker");
    log.delete_topic(&topic).await.unwrap();
}

#[tokio::test]
async fn watermarks_answer_right_after_create() {
    let Some(log) = common::log().await else {
        return;
    };
    // Several fresh topics in a row: each used to hit NOT_LEADER_OR_FOLLOWER now and then.
    for _ in 0..3 {
        let topic = common::topic(&log, "marks", 3).await;
        for p in 0..3 {
            assert_eq!(
                log.watermarks(&TopicPartition::new(&topic, p))
                    .await
                    .unwrap(),
                (0, 0),
                "{topic}/{p}"
            );
        }
        match log.watermarks(&TopicPartition::new(&topic, 3)).await {
            Err(LogError::UnknownPartition {
                partition: 3,
                partitions: 3,
                ..
            }) => {}
            other => panic!("{topic}/3: {other:?}"),
        }
        log.delete_topic(&topic).await.unwrap();
    }
}
