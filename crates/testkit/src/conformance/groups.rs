//! Consumer groups: committed offsets survive members, and partitions move between members.

use super::{CaseResult, ctx, new_topic, send_all};
use crate::Fixture;
use crate::names::rand_group;
use crate::read::{DEFAULT_WAIT, POLL_STEP, poll_count, wait_for_assignment};
use aisle_log::{
    Consumer, ConsumerConfig, ProduceRecord, ProducerConfig, Rebalance, Record, TopicPartition,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// Values of records, for set comparisons.
fn value_set(records: &[Record]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

/// A member reads part of the topic, commits only the records it processed (fewer than it
/// polled), and leaves; the next member of the group starts exactly after them: nothing lost,
/// nothing twice. Then `commit_positions` hands over the end, and a third member sees only new
/// records.
pub async fn group_resumes_from_committed_offsets(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "resume", 2).await?;
    let group = rand_group("resume");
    let producer = log.producer(&ProducerConfig::default())?;
    let recs = (0..40).map(|i| {
        ProduceRecord::new(&topic)
            .partition(i % 2)
            .value(format!("r{i}"))
    });
    send_all(&*producer, recs).await?;
    let all: BTreeSet<String> = (0..40).map(|i| format!("r{i}")).collect();

    let mut c1 = log.consumer(&ConsumerConfig::group(&group))?;
    c1.subscribe(&[&topic])?;
    let polled = poll_count(c1.as_mut(), 10, DEFAULT_WAIT).await?;
    // "Process" the first 10 polled records: per partition, a prefix of what was polled.
    let processed = &polled[..10];
    let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in processed {
        next.insert(r.topic_partition(), r.offset + 1);
    }
    let commits: Vec<(TopicPartition, i64)> = next.clone().into_iter().collect();
    c1.commit(&commits).await?;
    let tps = [
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    ];
    let committed = c1.committed(&tps).await?;
    let want: Vec<Option<i64>> = tps.iter().map(|tp| next.get(tp).copied()).collect();
    assert_eq!(committed, want, "{}: committed offsets", ctx(f, &topic));
    drop(c1);

    let mut c2 = log.consumer(&ConsumerConfig::group(&group))?;
    c2.subscribe(&[&topic])?;
    let rest = poll_count(c2.as_mut(), 30, DEFAULT_WAIT).await?;
    // Give a duplicate the chance to show up before judging.
    let extra = c2.poll(Duration::from_millis(500)).await?;
    assert!(
        extra.is_empty(),
        "{}: more than the 30 unprocessed records: {extra:?}",
        ctx(f, &topic)
    );
    assert_eq!(
        rest.len(),
        30,
        "{}: second member read {} records",
        ctx(f, &topic),
        rest.len()
    );
    let mut union = value_set(processed);
    let rest_values = value_set(&rest);
    assert!(
        union.is_disjoint(&rest_values),
        "{}: records read twice",
        ctx(f, &topic)
    );
    union.extend(rest_values);
    assert_eq!(union, all, "{}: records lost", ctx(f, &topic));
    for (tp, offset) in &next {
        let first = rest
            .iter()
            .find(|r| &r.topic_partition() == tp)
            .map(|r| r.offset);
        assert_eq!(
            first,
            Some(*offset),
            "{}: {tp} did not resume at its commit",
            ctx(f, &topic)
        );
    }

    c2.commit_positions().await?;
    assert_eq!(
        c2.committed(&tps).await?,
        vec![Some(20), Some(20)],
        "{}",
        ctx(f, &topic)
    );
    drop(c2);

    send_all(
        &*producer,
        (0..4).map(|i| {
            ProduceRecord::new(&topic)
                .partition(i % 2)
                .value(format!("new{i}"))
        }),
    )
    .await?;
    let mut c3 = log.consumer(&ConsumerConfig::group(&group))?;
    c3.subscribe(&[&topic])?;
    let fresh = poll_count(c3.as_mut(), 4, DEFAULT_WAIT).await?;
    let extra = c3.poll(Duration::from_millis(500)).await?;
    let got = value_set(&[fresh, extra].concat());
    let want: BTreeSet<String> = (0..4).map(|i| format!("new{i}")).collect();
    assert_eq!(
        got,
        want,
        "{}: third member after commit_positions",
        ctx(f, &topic)
    );
    Ok(())
}

/// Applies rebalance events to a starting set, as an application tracking its partitions would.
fn replay(mut set: BTreeSet<TopicPartition>, events: Vec<Rebalance>) -> BTreeSet<TopicPartition> {
    for e in events {
        match e {
            Rebalance::Revoked(tps) => tps.iter().for_each(|tp| {
                set.remove(tp);
            }),
            Rebalance::Assigned(tps) => set.extend(tps),
        }
    }
    set
}

fn assigned(c: &dyn Consumer) -> BTreeSet<TopicPartition> {
    c.assignment().into_iter().collect()
}

/// Two members of one group split the partitions (disjoint, complete, both busy) and read each
/// record once between them; when one leaves, the other takes its partitions and continues from
/// its committed offsets. Rebalance events replay to the reported assignment.
pub async fn group_members_split_partitions_and_take_over(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "split", 4).await?;
    let group = rand_group("split");
    let every: BTreeSet<TopicPartition> = (0..4).map(|p| TopicPartition::new(&topic, p)).collect();

    let mut c1 = log.consumer(&ConsumerConfig::group(&group))?;
    c1.subscribe(&[&topic])?;
    wait_for_assignment(c1.as_mut(), DEFAULT_WAIT).await?;
    let mut c2 = log.consumer(&ConsumerConfig::group(&group))?;
    c2.subscribe(&[&topic])?;

    // Both members must keep polling for a rebalance to complete.
    let deadline = Instant::now() + DEFAULT_WAIT;
    loop {
        c1.poll(POLL_STEP).await?;
        c2.poll(POLL_STEP).await?;
        let (a1, a2) = (assigned(c1.as_ref()), assigned(c2.as_ref()));
        let split = !a1.is_empty()
            && !a2.is_empty()
            && a1.is_disjoint(&a2)
            && a1.union(&a2).cloned().collect::<BTreeSet<_>>() == every;
        if split {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}: no split, {a1:?} / {a2:?}",
            ctx(f, &topic)
        );
    }
    let (a1, a2) = (assigned(c1.as_ref()), assigned(c2.as_ref()));
    assert_eq!(
        replay(BTreeSet::new(), c1.take_rebalances()),
        a1,
        "{}: c1 events",
        ctx(f, &topic)
    );
    assert_eq!(
        replay(BTreeSet::new(), c2.take_rebalances()),
        a2,
        "{}: c2 events",
        ctx(f, &topic)
    );

    let producer = log.producer(&ProducerConfig::default())?;
    send_all(
        &*producer,
        (0..40).map(|i| {
            ProduceRecord::new(&topic)
                .partition(i % 4)
                .value(format!("a{i}"))
        }),
    )
    .await?;
    let (mut r1, mut r2) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + DEFAULT_WAIT;
    while r1.len() + r2.len() < 40 {
        r1.extend(c1.poll(POLL_STEP).await?);
        r2.extend(c2.poll(POLL_STEP).await?);
        assert!(
            Instant::now() < deadline,
            "{}: read {} of 40",
            ctx(f, &topic),
            r1.len() + r2.len()
        );
    }
    assert!(
        r1.iter().all(|r| a1.contains(&r.topic_partition())),
        "{}: c1 read outside its partitions",
        ctx(f, &topic)
    );
    assert!(
        r2.iter().all(|r| a2.contains(&r.topic_partition())),
        "{}: c2 read outside its partitions",
        ctx(f, &topic)
    );
    let (v1, v2) = (value_set(&r1), value_set(&r2));
    assert!(
        v1.is_disjoint(&v2),
        "{}: a record went to both members",
        ctx(f, &topic)
    );
    assert_eq!(v1.len() + v2.len(), 40, "{}", ctx(f, &topic));
    c1.commit_positions().await?;
    c2.commit_positions().await?;
    drop(c2);

    // The survivor takes over every partition.
    let deadline = Instant::now() + DEFAULT_WAIT;
    let mut during = Vec::new();
    while assigned(c1.as_ref()) != every {
        during.extend(c1.poll(POLL_STEP).await?);
        assert!(
            Instant::now() < deadline,
            "{}: c1 never took over: {:?}",
            ctx(f, &topic),
            c1.assignment()
        );
    }
    assert!(
        during.is_empty(),
        "{}: re-read committed records {during:?}",
        ctx(f, &topic)
    );
    assert_eq!(
        replay(a1, c1.take_rebalances()),
        every,
        "{}: c1 events after leave",
        ctx(f, &topic)
    );

    send_all(
        &*producer,
        (0..8).map(|i| {
            ProduceRecord::new(&topic)
                .partition(i % 4)
                .value(format!("b{i}"))
        }),
    )
    .await?;
    let got = poll_count(c1.as_mut(), 8, DEFAULT_WAIT).await?;
    let extra = c1.poll(Duration::from_millis(500)).await?;
    let got = value_set(&[got, extra].concat());
    let want: BTreeSet<String> = (0..8).map(|i| format!("b{i}")).collect();
    assert_eq!(
        got,
        want,
        "{}: after take-over, exactly the new records",
        ctx(f, &topic)
    );
    Ok(())
}
