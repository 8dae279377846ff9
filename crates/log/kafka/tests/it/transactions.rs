//! Transactions against a real broker (AISLE_TEST_KAFKA).

use crate::common;

use aisle_log::{
    ConsumerConfig, Isolation, Log, LogError, Offset, ProduceRecord, ProducerConfig,
    TopicPartition, TxProducer,
};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn read_committed_sees_committed_not_aborted() {
    let Some(log) = common::log().await else {
        return;
    };
    let out_a = common::topic(&log, "tx-a", 1).await;
    let out_b = common::topic(&log, "tx-b", 1).await;
    let mut tx = log
        .kafka_tx_producer(&common::unique("txid"), &ProducerConfig::default())
        .await
        .unwrap();

    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new(&out_a).key("k").value("aborted-a"))
        .await
        .unwrap();
    tx.send(ProduceRecord::new(&out_b).key("k").value("aborted-b"))
        .await
        .unwrap();
    // Make the aborted records reach the log (abort alone would drop them locally).
    tx.flush(WAIT).await.unwrap();
    tx.abort().await.unwrap();

    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new(&out_a).key("k").value("committed-a"))
        .await
        .unwrap();
    tx.send(ProduceRecord::new(&out_b).key("k").value("committed-b"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    for (topic, want) in [(&out_a, "committed-a"), (&out_b, "committed-b")] {
        let mut c = log.consumer(&ConsumerConfig::default()).unwrap();
        c.assign(&[(TopicPartition::new(topic, 0), Offset::Beginning)])
            .unwrap();
        let got = common::read_to_end(c.as_mut(), WAIT).await;
        assert!(c.is_caught_up());
        let values: Vec<_> = got.iter().map(|r| r.value.clone().unwrap()).collect();
        assert_eq!(values, vec![bytes::Bytes::from(want)], "{topic}");
        // aborted record, abort marker, committed record, commit marker
        let (_, high) = log
            .watermarks(&TopicPartition::new(topic, 0))
            .await
            .unwrap();
        assert_eq!(high, 4);
        assert_eq!(got[0].offset, 2);

        let dirty = ConsumerConfig {
            isolation: Isolation::ReadUncommitted,
            ..Default::default()
        };
        let mut c = log.consumer(&dirty).unwrap();
        c.assign(&[(TopicPartition::new(topic, 0), Offset::Beginning)])
            .unwrap();
        let got = common::read_to_end(c.as_mut(), WAIT).await;
        assert_eq!(
            got.len(),
            2,
            "read_uncommitted also sees the aborted record"
        );
    }
}

#[tokio::test]
async fn offsets_commit_with_the_transaction() {
    let Some(log) = common::log().await else {
        return;
    };
    let input = common::topic(&log, "tx-in", 1).await;
    let output = common::topic(&log, "tx-out", 1).await;
    let group = common::unique("txg");
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    for i in 0..5 {
        producer
            .send(ProduceRecord::new(&input).value(format!("{i}")))
            .await
            .unwrap();
    }
    producer.flush(WAIT).await.unwrap();

    let mut consumer = log.consumer(&ConsumerConfig::group(&group)).unwrap();
    consumer.subscribe(&[input.as_str()]).unwrap();
    let records = common::read_n(consumer.as_mut(), 5, WAIT).await;
    assert_eq!(records.len(), 5);
    let meta = consumer.group_metadata().unwrap();
    let tp = TopicPartition::new(&input, 0);

    let mut tx = log
        .tx_producer(&common::unique("txid"), &ProducerConfig::default())
        .await
        .unwrap();
    // Aborted: neither output nor offsets.
    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new(&output).value("x"))
        .await
        .unwrap();
    tx.send_offsets(&[(tp.clone(), 2)], &meta).await.unwrap();
    tx.abort().await.unwrap();
    assert_eq!(
        consumer.committed(std::slice::from_ref(&tp)).await.unwrap(),
        vec![None]
    );
    // Committed: both.
    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new(&output).value("y"))
        .await
        .unwrap();
    tx.send_offsets(&[(tp.clone(), 5)], &meta).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        consumer.committed(std::slice::from_ref(&tp)).await.unwrap(),
        vec![Some(5)]
    );
}

#[tokio::test]
async fn a_newer_producer_fences_the_older_one() {
    let Some(log) = common::log().await else {
        return;
    };
    let topic = common::topic(&log, "fence", 1).await;
    let id = common::unique("txid");
    let mut old = log
        .tx_producer(&id, &ProducerConfig::default())
        .await
        .unwrap();
    old.begin().await.unwrap();
    old.send(ProduceRecord::new(&topic).value("zombie"))
        .await
        .unwrap();

    let mut new = log
        .tx_producer(&id, &ProducerConfig::default())
        .await
        .unwrap();
    new.begin().await.unwrap();
    new.send(ProduceRecord::new(&topic).value("live"))
        .await
        .unwrap();
    new.commit().await.unwrap();

    let err = old.commit().await.unwrap_err();
    assert!(matches!(err, LogError::Fenced(_)), "{err:?}");

    let mut c = log.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(TopicPartition::new(&topic, 0), Offset::Beginning)])
        .unwrap();
    let got = common::read_to_end(c.as_mut(), WAIT).await;
    let values: Vec<_> = got.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(values, vec![bytes::Bytes::from("live")]);
}
