//! In-process consumer groups: two members split partitions; a dropped member's partitions
//! move; committed offsets are where members resume, also after reopening.

use crate::common;

use aisle_log::{
    ConsumerConfig, Log, ProduceRecord, ProducerConfig, Rebalance, TopicPartition, TopicSpec,
};
use aisle_log_embedded::EmbeddedLog;
use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test]
async fn two_members_split_then_one_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    log.create_topic(&TopicSpec::new("t", 4)).await.unwrap();
    let p = log.producer(&ProducerConfig::default()).unwrap();
    for i in 0..40 {
        p.send(
            ProduceRecord::new("t")
                .partition(i % 4)
                .value(format!("{i}")),
        )
        .await
        .unwrap();
    }
    p.flush(Duration::from_secs(5)).await.unwrap();

    let mut a = log.consumer(&ConsumerConfig::group("g")).unwrap();
    a.subscribe(&["t"]).unwrap();
    assert_eq!(a.assignment().len(), 4);
    let mut b = log.consumer(&ConsumerConfig::group("g")).unwrap();
    b.subscribe(&["t"]).unwrap();
    assert_eq!(b.assignment().len(), 2);
    // `a` learns about the rebalance on its next call.
    let ra = a.take_rebalances();
    assert_eq!(ra.len(), 2, "{ra:?}");
    assert!(
        matches!(&ra[1], Rebalance::Revoked(v) if v.len() == 2),
        "{ra:?}"
    );
    let sa: BTreeSet<_> = a.assignment().into_iter().collect();
    let sb: BTreeSet<_> = b.assignment().into_iter().collect();
    assert_eq!(sa.len(), 2);
    assert!(sa.is_disjoint(&sb));
    assert_eq!(
        sa.iter()
            .chain(&sb)
            .map(|tp| tp.partition)
            .collect::<BTreeSet<_>>(),
        (0..4).collect()
    );

    // Each reads only its partitions.
    let mut got_a = Vec::new();
    while got_a.len() < 20 {
        got_a.extend(a.poll(Duration::from_secs(1)).await.unwrap());
    }
    assert!(got_a.iter().all(|r| sa.contains(&r.topic_partition())));
    a.commit_positions().await.unwrap();
    let mut got_b = Vec::new();
    while got_b.len() < 5 {
        got_b.extend(b.poll(Duration::from_secs(1)).await.unwrap());
    }
    // Commit only the first 5 records of b's partitions' progress: its next offsets.
    let commit: Vec<(TopicPartition, i64)> = sb
        .iter()
        .map(|tp| (tp.clone(), b.position(tp).unwrap().min(2)))
        .collect();
    b.commit(&commit).await.unwrap();

    drop(b);
    let r = a.take_rebalances();
    assert!(
        matches!(r.as_slice(), [Rebalance::Assigned(v)] if v.len() == 2),
        "{r:?}"
    );
    assert_eq!(a.assignment().len(), 4);
    // `a` resumes b's partitions at b's committed offsets.
    for (tp, off) in &commit {
        assert_eq!(a.position(tp), Some(*off));
    }
    let mut rest = Vec::new();
    loop {
        rest.extend(a.poll(Duration::from_millis(200)).await.unwrap());
        if a.is_caught_up() {
            break;
        }
    }
    assert_eq!(rest.len(), 20 - 2 * 2);
    a.commit_positions().await.unwrap();
    drop((a, p, log));

    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let mut c = log.consumer(&ConsumerConfig::group("g")).unwrap();
    c.subscribe(&["t"]).unwrap();
    for p in 0..4 {
        assert_eq!(
            c.position(&TopicPartition::new("t", p)),
            Some(10),
            "resumes at committed end"
        );
    }
    assert!(c.poll(Duration::from_millis(50)).await.unwrap().is_empty());
}

#[tokio::test]
async fn subscribing_before_the_topic_exists() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let mut c = log.consumer(&ConsumerConfig::group("g")).unwrap();
    c.subscribe(&["later"]).unwrap();
    assert!(c.assignment().is_empty());
    log.create_topic(&TopicSpec::new("later", 2)).await.unwrap();
    let p = log.producer(&ProducerConfig::default()).unwrap();
    p.send(ProduceRecord::new("later").partition(1).value("x"))
        .await
        .unwrap()
        .await
        .unwrap();
    let recs = c.poll(Duration::from_secs(2)).await.unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(c.assignment().len(), 2);
    assert!(!c.take_rebalances().is_empty());
    let _ = read_all(&log, "later", 1).await;
}
