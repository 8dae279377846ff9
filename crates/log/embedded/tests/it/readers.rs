//! Read-only readers beside a writer: following a growing log, torn tails, refused writes, and
//! the writer's cleaner deleting or compacting segments under a reader.
//!
//! Waits are bounded polling loops (`poll` with a timeout, a deadline for the whole loop);
//! nothing sleeps to synchronise.

use crate::common;

use aisle_log::{
    CleanupPolicy, Consumer, ConsumerConfig, Log, LogError, Offset, ProduceRecord, ProducerConfig,
    Record, TopicPartition, TopicSpec,
};
use aisle_log_embedded::{
    EmbeddedConfig, EmbeddedLog, ReadOnlyConsumer, ReadOnlyLog, ReadOnlyOptions, Skipped, verify,
};
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

fn reader(dir: &Path) -> ReadOnlyLog {
    ReadOnlyLog::open(
        dir,
        ReadOnlyOptions {
            poll_interval: Duration::from_millis(5),
        },
    )
    .unwrap()
}

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

/// Polls until `done` says so, failing after 60 s.
async fn poll_until<C: Consumer + ?Sized>(
    c: &mut C,
    out: &mut Vec<Record>,
    mut done: impl FnMut(&[Record], &C) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(out, c) {
        assert!(
            Instant::now() < deadline,
            "reader stuck after {} records",
            out.len()
        );
        out.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
}

fn values(recs: &[Record]) -> Vec<String> {
    recs.iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or(b"")).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_sees_every_record_once_in_order_while_the_writer_appends() {
    const N: usize = 1500;
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    log.create_topic(&TopicSpec::new("plain", 1)).await.unwrap();
    log.create_topic(&TopicSpec::new("tx", 1)).await.unwrap();
    let ro = reader(dir.path());
    let mut c = ro.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[
        (tp("plain", 0), Offset::Beginning),
        (tp("tx", 0), Offset::Beginning),
    ])
    .unwrap();

    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            let p = log.producer(&ProducerConfig::default()).unwrap();
            let mut tx = log
                .tx_producer("readers-tx", &ProducerConfig::default())
                .await
                .unwrap();
            for i in 0..N {
                // Bursts of a few records per write cycle, so batches and segments vary.
                let d = p
                    .send(
                        ProduceRecord::new("plain")
                            .partition(0)
                            .value(format!("p{i}")),
                    )
                    .await
                    .unwrap();
                if i % 3 == 0 {
                    d.await.unwrap();
                }
                if i % 10 == 9 {
                    tx.begin().await.unwrap();
                    for j in i - 9..=i {
                        tx.send(ProduceRecord::new("tx").partition(0).value(format!("t{j}")))
                            .await
                            .unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            }
            p.flush(Duration::from_secs(10)).await.unwrap();
        })
    };

    let mut out = Vec::new();
    let mut verified = 0;
    poll_until(c.as_mut(), &mut out, |recs, _| {
        // `log verify` on the live directory never calls the growing tail corruption.
        if verified < 20 {
            let report = verify(dir.path()).unwrap();
            assert!(report.is_ok(), "{report}");
            verified += 1;
        }
        recs.len() >= 2 * N
    })
    .await;
    writer.await.unwrap();
    assert_eq!(out.len(), 2 * N, "nothing twice");
    for topic in ["plain", "tx"] {
        let got: Vec<&Record> = out.iter().filter(|r| r.topic == topic).collect();
        let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (0..N as i64).collect::<Vec<_>>(), "{topic}");
        let prefix = &topic[..1];
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r.value.as_deref(), Some(format!("{prefix}{i}").as_bytes()));
        }
    }
    assert!(
        segment_files(dir.path(), "plain", 0).len() > 10,
        "segments rolled while it read"
    );
    // Nothing more, and caught up.
    assert!(c.poll(Duration::from_millis(50)).await.unwrap().is_empty());
    assert!(c.is_caught_up());
    assert_eq!(
        ro.watermarks(&tp("plain", 0)).await.unwrap().1,
        log.watermarks(&tp("plain", 0)).await.unwrap().1
    );
}

/// Byte ranges of the batches in a segment file (each starts with its u32 length).
fn batch_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize + 4;
        out.push(at..at + len);
        at += len;
    }
    out
}

#[tokio::test]
async fn a_torn_tail_is_not_an_error_and_is_read_once_it_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
        log.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
        produce_each(&log, "t", 0, 10, 10).await;
    }
    let seg = segment_files(dir.path(), "t", 0).pop().unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    let ranges = batch_ranges(&bytes);
    let last = ranges.last().unwrap().clone();
    let (whole, batch) = (&bytes[..last.start], &bytes[last.clone()]);
    // The last batch is being appended: only its first half is there.
    std::fs::write(&seg, [whole, &batch[..batch.len() / 2]].concat()).unwrap();

    let ro = reader(dir.path());
    let mut c = ro.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(tp("t", 0), Offset::Beginning)]).unwrap();
    let mut out = Vec::new();
    poll_until(c.as_mut(), &mut out, |_, c| c.is_caught_up()).await;
    assert_eq!(out.len(), 9, "every whole batch (one record each)");
    assert_eq!(ro.watermarks(&tp("t", 0)).await.unwrap(), (0, 9));
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(
        report.notes.iter().any(|n| n.contains("torn tail")),
        "{report}"
    );

    // The append finishes: the record arrives, once.
    std::fs::write(&seg, &bytes).unwrap();
    poll_until(c.as_mut(), &mut out, |recs, _| recs.len() == 10).await;
    assert!(c.poll(Duration::from_millis(30)).await.unwrap().is_empty());
    let offsets: Vec<i64> = out.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    assert_eq!(values(&out)[9], "v9");

    // Garbage followed by a valid batch is corruption, not a tail.
    let mut bad = bytes.clone();
    bad[ranges[1].start + 30] ^= 0xff;
    std::fs::write(&seg, &bad).unwrap();
    let mut c = ro.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(tp("t", 0), Offset::Beginning)]).unwrap();
    let mut err = None;
    for _ in 0..10 {
        match c.poll(Duration::from_millis(20)).await {
            Ok(_) => {}
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    match err {
        Some(LogError::Corrupt { location, .. }) => {
            assert!(location.contains(&seg.display().to_string()), "{location}")
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// Every file's path, length and bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn assert_read_only<T: std::fmt::Debug>(r: aisle_log::Result<T>, dir: &Path) {
    match r {
        Err(LogError::ReadOnly(m)) => {
            assert!(m.contains(&dir.display().to_string()), "{m}");
            assert!(m.contains("read-only"), "{m}");
        }
        other => panic!("expected a read-only refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn writes_fail_with_a_clear_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    log.create_topic(&TopicSpec::new("t", 2)).await.unwrap();
    produce_each(&log, "t", 0, 5, 5).await;
    let mut g = log.consumer(&ConsumerConfig::group("g")).unwrap();
    g.commit(&[(tp("t", 0), 3)]).await.unwrap();

    // Beside the running writer: the lock is held, the reader opens anyway.
    assert!(matches!(
        EmbeddedLog::open(dir.path(), small_segments()),
        Err(LogError::Locked(_))
    ));
    let ro = EmbeddedLog::open_read_only(dir.path()).unwrap();
    let d = dir.path();
    let p = ro.producer(&ProducerConfig::default()).unwrap();
    assert_read_only(p.send(ProduceRecord::new("t").value("x")).await, d);
    assert_read_only(ro.create_topic(&TopicSpec::new("new", 1)).await, d);
    assert!(!ro.create_topic(&TopicSpec::new("t", 2)).await.unwrap());
    assert_read_only(ro.delete_topic("t").await, d);
    assert_read_only(
        ro.tx_producer("x", &ProducerConfig::default())
            .await
            .map(|_| ()),
        d,
    );
    let mut c = ro.consumer(&ConsumerConfig::group("g")).unwrap();
    assert_read_only(c.subscribe(&["t"]), d);
    c.assign(&[(tp("t", 0), Offset::Committed)]).unwrap();
    assert_eq!(
        c.position(&tp("t", 0)),
        Some(3),
        "starts at the committed offset"
    );
    assert_eq!(
        c.committed(&[tp("t", 0), tp("t", 1)]).await.unwrap(),
        vec![Some(3), None]
    );
    assert_read_only(c.commit(&[(tp("t", 0), 4)]).await, d);
    assert_read_only(c.commit_positions().await, d);
    assert_eq!(
        values(&c.poll(Duration::from_secs(1)).await.unwrap()),
        ["v3", "v4"]
    );
    drop((c, g, log));

    // With no writer either: reading changes no byte of any file, the lock file included.
    let before = snapshot(d);
    let ro = reader(d);
    assert_eq!(ro.list_topics().await.unwrap().len(), 1);
    let mut c = ro.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(tp("t", 0), Offset::Beginning), (tp("t", 1), Offset::End)])
        .unwrap();
    let mut out = Vec::new();
    poll_until(c.as_mut(), &mut out, |_, c| c.is_caught_up()).await;
    assert_eq!(out.len(), 5);
    assert!(snapshot(d) == before, "the reader changed files");
}

/// Reads once, so the reader holds segment 0 open and sits at its end.
async fn read_first_segment(c: &mut ReadOnlyConsumer) -> Vec<Record> {
    let first = c.poll(Duration::from_secs(5)).await.unwrap();
    assert!(!first.is_empty());
    first
}

#[tokio::test]
async fn a_reader_survives_compaction_replacing_the_segment_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    log.create_topic(&TopicSpec::new("c", 1).cleanup(CleanupPolicy::Compact))
        .await
        .unwrap();
    produce_each(&log, "c", 0, 300, 7).await;
    let all = read_all(&log, "c", 0).await;
    let ro = reader(dir.path());
    let mut c = ro.read_only_consumer(&ConsumerConfig::default());
    c.assign(&[(tp("c", 0), Offset::Beginning)]).unwrap();
    let mut out = read_first_segment(&mut c).await;
    let first_end = out.last().unwrap().offset + 1;
    let seg0 = segment_files(dir.path(), "c", 0)[0].clone();
    let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let seg0_ino = ino(&seg0);

    log.compact_now("c").await.unwrap();
    assert_ne!(ino(&seg0), seg0_ino, "segment 0 was replaced");
    produce_each(&log, "c", 0, 20, 7).await;
    poll_until(&mut c, &mut out, |recs, _| {
        recs.last().is_some_and(|r| r.offset == 319)
    })
    .await;
    // In order, nothing twice, each record as written; after the first segment only what
    // compaction kept, which includes the latest record of every key.
    for w in out.windows(2) {
        assert!(
            w[0].offset < w[1].offset,
            "{} then {}",
            w[0].offset,
            w[1].offset
        );
    }
    for r in out.iter().filter(|r| r.offset < 300) {
        assert_eq!(r, &all[r.offset as usize]);
    }
    let kept = read_all(&log, "c", 0).await;
    for r in kept.iter().filter(|r| r.offset >= first_end) {
        assert!(
            out.iter().any(|o| o.offset == r.offset),
            "missed {}",
            r.offset
        );
    }
    assert!(out.len() < 320, "the compacted records were not read again");
}

#[tokio::test]
async fn a_reader_survives_retention_deleting_segments_and_says_what_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    log.create_topic(&TopicSpec::new("r", 1)).await.unwrap();
    // Timestamps from 1970: every sealed segment is past the 7-day retention.
    produce_each(&log, "r", 0, 200, 200).await;
    let ro = reader(dir.path());
    let mut c = ro.read_only_consumer(&ConsumerConfig::default());
    c.assign(&[(tp("r", 0), Offset::Beginning)]).unwrap();
    let mut out = read_first_segment(&mut c).await;
    let first_end = out.last().unwrap().offset + 1;

    log.enforce_retention_now("r").await.unwrap();
    let (low, _) = log.watermarks(&tp("r", 0)).await.unwrap();
    assert!(
        low > first_end,
        "retention deleted segments ahead of the reader"
    );
    poll_until(&mut c, &mut out, |recs, c| {
        c.is_caught_up() && recs.last().is_some_and(|r| r.offset == 199)
    })
    .await;
    let after: Vec<i64> = out
        .iter()
        .map(|r| r.offset)
        .filter(|o| *o >= first_end)
        .collect();
    assert_eq!(after, (low..200).collect::<Vec<_>>());
    // The skipped range is reported (and was logged).
    assert_eq!(
        c.take_skipped(),
        vec![Skipped {
            topic: "r".into(),
            partition: 0,
            from: first_end,
            to: low
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_keeps_up_with_a_running_cleaner() {
    const N: i64 = 2000;
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        cleaner_interval_ms: 5,
        ..small_segments()
    };
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    log.create_topic(&TopicSpec::new("k", 1).cleanup(CleanupPolicy::Compact))
        .await
        .unwrap();
    let ro = reader(dir.path());
    let mut c = ro.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(tp("k", 0), Offset::Beginning)]).unwrap();
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            let p = log.producer(&ProducerConfig::default()).unwrap();
            for i in 0..N {
                let rec = ProduceRecord::new("k")
                    .partition(0)
                    .key(format!("k{}", i % 13))
                    .value(format!("v{i}"));
                p.send(rec).await.unwrap().await.unwrap();
            }
        })
    };
    let mut out = Vec::new();
    let mut checks = 0;
    poll_until(c.as_mut(), &mut out, |recs, _| {
        if checks < 20 {
            let report = verify(dir.path()).unwrap();
            assert!(report.is_ok(), "{report}");
            checks += 1;
        }
        recs.last().is_some_and(|r| r.offset == N - 1)
    })
    .await;
    writer.await.unwrap();
    let kept = read_all(&log, "k", 0).await.len() as i64;
    assert!(
        kept < N,
        "the cleaner compacted while the reader followed ({kept} kept)"
    );
    for w in out.windows(2) {
        assert!(
            w[0].offset < w[1].offset,
            "{} then {}",
            w[0].offset,
            w[1].offset
        );
    }
    for r in &out {
        assert_eq!(
            r.value.as_deref(),
            Some(format!("v{}", r.offset).as_bytes())
        );
    }
}
