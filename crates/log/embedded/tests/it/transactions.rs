//! Transactions: commit/abort visibility, fencing, atomic offsets, a crash mid-commit.

use crate::common;

use aisle_log::{
    ConsumerConfig, Log, LogError, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec,
};
use aisle_log_embedded::{EmbeddedLog, verify};
use common::*;
use std::process::Command;

async fn topics(log: &EmbeddedLog) {
    for t in ["in", "a", "b"] {
        log.create_topic(&TopicSpec::new(t, 1)).await.unwrap();
    }
}

#[tokio::test]
async fn commit_is_visible_abort_is_not_and_offsets_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    topics(&log).await;
    let mut consumer = log.consumer(&ConsumerConfig::group("g")).unwrap();
    consumer.subscribe(&["in"]).unwrap();
    let gm = consumer.group_metadata().unwrap();
    let mut tx = log
        .tx_producer("tx-1", &ProducerConfig::default())
        .await
        .unwrap();

    assert!(matches!(
        tx.send(ProduceRecord::new("a").value("x")).await,
        Err(LogError::Transaction(_))
    ));
    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new("a").value("a1")).await.unwrap();
    tx.send(ProduceRecord::new("b").value("b1")).await.unwrap();
    tx.send_offsets(&[(TopicPartition::new("in", 0), 7)], &gm)
        .await
        .unwrap();
    // Not visible before commit.
    assert!(read_all(&log, "a", 0).await.is_empty());
    tx.commit().await.unwrap();
    assert_eq!(read_all(&log, "a", 0).await.len(), 1);
    assert_eq!(read_all(&log, "b", 0).await.len(), 1);
    assert_eq!(
        consumer
            .committed(&[TopicPartition::new("in", 0)])
            .await
            .unwrap(),
        vec![Some(7)]
    );

    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new("a").value("a2")).await.unwrap();
    tx.send_offsets(&[(TopicPartition::new("in", 0), 9)], &gm)
        .await
        .unwrap();
    tx.abort().await.unwrap();
    assert_eq!(
        read_all(&log, "a", 0).await.len(),
        1,
        "aborted records invisible"
    );
    assert_eq!(
        consumer
            .committed(&[TopicPartition::new("in", 0)])
            .await
            .unwrap(),
        vec![Some(7)]
    );

    // Fencing: a newer producer with the same id wins; the old one's open transaction is lost.
    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new("a").value("zombie"))
        .await
        .unwrap();
    let mut tx2 = log
        .tx_producer("tx-1", &ProducerConfig::default())
        .await
        .unwrap();
    assert!(matches!(tx.commit().await, Err(LogError::Fenced(_))));
    tx2.begin().await.unwrap();
    tx2.send(ProduceRecord::new("a").value("a3")).await.unwrap();
    tx2.commit().await.unwrap();
    let vals: Vec<_> = read_all(&log, "a", 0)
        .await
        .into_iter()
        .map(|r| r.value.unwrap())
        .collect();
    assert_eq!(vals, ["a1", "a3"]);
    drop((consumer, tx, tx2, log));

    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let c = log.consumer(&ConsumerConfig::group("g")).unwrap();
    assert_eq!(
        c.committed(&[TopicPartition::new("in", 0)]).await.unwrap(),
        vec![Some(7)],
        "persisted"
    );
    assert_eq!(read_all(&log, "a", 0).await.len(), 2);
}

const CHILD_ENV: &str = "AISLE_TX_CRASH_CHILD_DIR";

/// The child: starts a transaction and commits it with the writer set to abort the process
/// after the data is written but before the commit decision is.
#[tokio::test]
async fn tx_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let log = EmbeddedLog::open(&dir, small_segments()).unwrap();
    let mut c = log.consumer(&ConsumerConfig::group("g")).unwrap();
    c.subscribe(&["in"]).unwrap();
    let gm = c.group_metadata().unwrap();
    let mut tx = log
        .tx_producer("tx", &ProducerConfig::default())
        .await
        .unwrap();
    tx.begin().await.unwrap();
    for i in 0..50 {
        tx.send(ProduceRecord::new("a").value(format!("lost-a{i}")))
            .await
            .unwrap();
        tx.send(ProduceRecord::new("b").value(format!("lost-b{i}")))
            .await
            .unwrap();
    }
    tx.send_offsets(&[(TopicPartition::new("in", 0), 99)], &gm)
        .await
        .unwrap();
    let _ = tx.commit().await;
    unreachable!("the writer aborts the process during commit");
}

#[tokio::test]
async fn crash_during_commit_rolls_back_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
        topics(&log).await;
        let c = log.consumer(&ConsumerConfig::group("g")).unwrap();
        let gm = c.group_metadata().unwrap();
        let mut tx = log
            .tx_producer("tx", &ProducerConfig::default())
            .await
            .unwrap();
        tx.begin().await.unwrap();
        tx.send(ProduceRecord::new("a").value("kept-a"))
            .await
            .unwrap();
        tx.send(ProduceRecord::new("b").value("kept-b"))
            .await
            .unwrap();
        tx.send_offsets(&[(TopicPartition::new("in", 0), 5)], &gm)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "transactions::tx_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .env("AISLE_EMBEDDED_FAULT", "crash_before_tx_commit")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "child must have crashed");
    // The data of the unfinished transaction is on disk...
    let raw = std::fs::read(segment_files(dir.path(), "a", 0).pop().unwrap()).unwrap();
    assert!(raw.windows(8).any(|w| w == b"lost-a49"));
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("would be rolled back")),
        "{report}"
    );

    // ...and recovery rolls all of it back, in both topics, offsets included.
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    for t in ["a", "b"] {
        let vals: Vec<_> = read_all(&log, t, 0)
            .await
            .into_iter()
            .map(|r| r.value.unwrap())
            .collect();
        assert_eq!(vals, [format!("kept-{t}")], "topic {t}");
    }
    let c = log.consumer(&ConsumerConfig::group("g")).unwrap();
    assert_eq!(
        c.committed(&[TopicPartition::new("in", 0)]).await.unwrap(),
        vec![Some(5)]
    );
    // New transactions work after recovery and land at the next offset.
    let mut tx = log
        .tx_producer("tx", &ProducerConfig::default())
        .await
        .unwrap();
    tx.begin().await.unwrap();
    tx.send(ProduceRecord::new("a").value("new")).await.unwrap();
    tx.commit().await.unwrap();
    let recs = read_all(&log, "a", 0).await;
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].offset, 1);
    drop((c, tx, log));
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.notes.is_empty(), "{report}");
}

/// A new producer of a transactional id is given only after every commit queued before it is
/// published (as Kafka's `init_transactions` completes the older epoch's transaction): once
/// the new producer exists, the old one's commit either shows in a read to the end or failed as
/// fenced, never lands unseen after the read. What the schema registry's single writer needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_epoch_waits_for_the_commits_queued_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(EmbeddedLog::open(dir.path(), small_segments()).unwrap());
    log.create_topic(&TopicSpec::new("a", 1)).await.unwrap();
    for round in 0..50 {
        let mut old = log
            .tx_producer("tx-race", &ProducerConfig::default())
            .await
            .unwrap();
        old.begin().await.unwrap();
        let value = format!("r{round}");
        old.send(ProduceRecord::new("a").value(value.clone()))
            .await
            .unwrap();
        let commit = tokio::spawn(async move { old.commit().await });
        // Race the commit with a takeover.
        let new = log
            .tx_producer("tx-race", &ProducerConfig::default())
            .await
            .unwrap();
        let seen = read_all(&log, "a", 0)
            .await
            .iter()
            .any(|r| r.value.as_deref() == Some(value.as_bytes()));
        match commit.await.unwrap() {
            Ok(()) => assert!(
                seen,
                "round {round}: committed but not readable after the takeover"
            ),
            Err(LogError::Fenced(_)) => assert!(!seen, "round {round}: fenced but visible"),
            Err(e) => panic!("round {round}: {e}"),
        }
        drop(new);
    }
}
