//! Reading without a group: watermarks, seeks, and knowing when the end is reached.

use super::{CaseResult, ctx, new_topic, send_all};
use crate::Fixture;
use crate::read::{DEFAULT_WAIT, POLL_STEP, poll_count, poll_until};
use aisle_log::{ConsumerConfig, LogError, Offset, ProduceRecord, ProducerConfig, TopicPartition};
use std::time::Duration;

/// `(low, high)` start at `(0, 0)`, `high` counts the records of exactly its own partition, and
/// an unknown topic is an error, not `(0, 0)`.
pub async fn watermarks(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "watermarks", 2).await?;
    let (p0, p1) = (
        TopicPartition::new(&topic, 0),
        TopicPartition::new(&topic, 1),
    );
    assert_eq!(
        log.watermarks(&p0).await?,
        (0, 0),
        "{}: fresh partition 0",
        ctx(f, &topic)
    );
    assert_eq!(
        log.watermarks(&p1).await?,
        (0, 0),
        "{}: fresh partition 1",
        ctx(f, &topic)
    );

    let producer = log.producer(&ProducerConfig::default())?;
    let recs = (0..5).map(|i| {
        ProduceRecord::new(&topic)
            .partition(0)
            .value(format!("{i}"))
    });
    let metas = send_all(&*producer, recs).await?;
    assert_eq!(
        metas.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(
        log.watermarks(&p0).await?,
        (0, 5),
        "{}: after 5 records",
        ctx(f, &topic)
    );
    assert_eq!(
        log.watermarks(&p1).await?,
        (0, 0),
        "{}: untouched partition",
        ctx(f, &topic)
    );

    let missing = TopicPartition::new(format!("{topic}-missing"), 0);
    match log.watermarks(&missing).await {
        Err(LogError::UnknownTopic(_) | LogError::UnknownPartition { .. }) => {}
        other => panic!(
            "[{}] watermarks of {missing}: {other:?}, want UnknownTopic",
            f.name()
        ),
    }
    let past_end = TopicPartition::new(&topic, 2);
    assert!(
        log.watermarks(&past_end).await.is_err(),
        "{}: partition 2 of 2",
        ctx(f, &topic)
    );
    Ok(())
}

/// A standalone consumer starts where it is assigned and moves where it seeks: beginning, an
/// absolute offset, the end (then sees only newer records), and back.
pub async fn seek_to_beginning_end_and_offset(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "seek", 1).await?;
    let tp = TopicPartition::new(&topic, 0);
    let producer = log.producer(&ProducerConfig::default())?;
    let recs = (0..10).map(|i| ProduceRecord::new(&topic).value(format!("v{i}")));
    send_all(&*producer, recs).await?;

    let mut c = log.consumer(&ConsumerConfig::default())?;
    c.assign(&[(tp.clone(), Offset::At(7))])?;
    let got = poll_count(c.as_mut(), 3, DEFAULT_WAIT).await?;
    let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![7, 8, 9], "{}: assign at 7", ctx(f, &topic));
    assert_eq!(
        c.position(&tp),
        Some(10),
        "{}: position after reading to the end",
        ctx(f, &topic)
    );
    assert_eq!(
        c.assignment(),
        vec![tp.clone()],
        "{}: assignment",
        ctx(f, &topic)
    );

    c.seek(&tp, Offset::Beginning).await?;
    let got = poll_count(c.as_mut(), 10, DEFAULT_WAIT).await?;
    let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (0..10).collect::<Vec<_>>(),
        "{}: from beginning",
        ctx(f, &topic)
    );

    c.seek(&tp, Offset::At(5)).await?;
    let got = poll_count(c.as_mut(), 5, DEFAULT_WAIT).await?;
    assert_eq!(got[0].offset, 5, "{}: seek to 5", ctx(f, &topic));
    assert_eq!(
        got[0].value.as_deref(),
        Some(b"v5".as_slice()),
        "{}",
        ctx(f, &topic)
    );

    c.seek(&tp, Offset::End).await?;
    let stale = c.poll(Duration::from_millis(500)).await?;
    assert!(
        stale.is_empty(),
        "{}: after seek to end got {stale:?}",
        ctx(f, &topic)
    );
    send_all(&*producer, [ProduceRecord::new(&topic).value("after-end")]).await?;
    let got = poll_count(c.as_mut(), 1, DEFAULT_WAIT).await?;
    assert_eq!(got.len(), 1, "{}: only the new record", ctx(f, &topic));
    assert_eq!(got[0].offset, 10, "{}", ctx(f, &topic));
    assert_eq!(
        got[0].value.as_deref(),
        Some(b"after-end".as_slice()),
        "{}",
        ctx(f, &topic)
    );
    Ok(())
}

/// `is_caught_up` turns true only once every assigned partition was read to its end, including
/// an empty partition, and again after new records are read.
pub async fn is_caught_up_at_the_end(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    // Three partitions, one left empty: an empty partition is caught up from the start.
    let topic = new_topic(&*log, "caught-up", 3).await?;
    let producer = log.producer(&ProducerConfig::default())?;
    let recs = (0..60).map(|i| {
        ProduceRecord::new(&topic)
            .partition(i % 2)
            .value(format!("{i}"))
    });
    send_all(&*producer, recs).await?;

    let mut c = log.consumer(&ConsumerConfig::default())?;
    let all: Vec<_> = (0..3)
        .map(|p| (TopicPartition::new(&topic, p), Offset::Beginning))
        .collect();
    c.assign(&all)?;
    let mut seen = 0;
    let got = poll_until(c.as_mut(), DEFAULT_WAIT, "first catch-up", |recs, c| {
        // The invariant under test: never caught up while records are still unread.
        if c.is_caught_up() {
            seen = recs.len();
            true
        } else {
            false
        }
    })
    .await?;
    assert_eq!(
        seen,
        60,
        "{}: caught up with {seen} of 60 read",
        ctx(f, &topic)
    );
    assert_eq!(got.len(), 60, "{}", ctx(f, &topic));

    send_all(
        &*producer,
        (0..5).map(|i| {
            ProduceRecord::new(&topic)
                .partition(2)
                .value(format!("n{i}"))
        }),
    )
    .await?;
    // The new records are eventually read, and once they are, it is caught up again.
    let more = poll_until(c.as_mut(), DEFAULT_WAIT, "second catch-up", |recs, c| {
        recs.len() >= 5 && c.is_caught_up()
    })
    .await?;
    assert_eq!(more.len(), 5, "{}: new records", ctx(f, &topic));
    assert!(more.iter().all(|r| r.partition == 2), "{}", ctx(f, &topic));
    let idle = c.poll(POLL_STEP).await?;
    assert!(
        idle.is_empty() && c.is_caught_up(),
        "{}: idle poll",
        ctx(f, &topic)
    );

    // An empty topic is caught up without any record.
    let empty = new_topic(&*log, "caught-up-empty", 2).await?;
    let mut c = log.consumer(&ConsumerConfig::default())?;
    c.assign(&[
        (TopicPartition::new(&empty, 0), Offset::Beginning),
        (TopicPartition::new(&empty, 1), Offset::Beginning),
    ])?;
    let got = poll_until(c.as_mut(), DEFAULT_WAIT, "empty topic", |_, c| {
        c.is_caught_up()
    })
    .await?;
    assert!(got.is_empty(), "{}", ctx(f, &empty));
    Ok(())
}
