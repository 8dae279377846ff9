//! Produce, consume, reopen: records come back exactly as written.

use crate::common;

use aisle_log::{
    ConsumerConfig, Log, LogError, Offset, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec,
};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog, FsyncPolicy, verify};
use common::*;
use std::time::Duration;

#[tokio::test]
async fn round_trip_with_headers_timestamps_and_tombstones_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    for policy in [
        FsyncPolicy::Always,
        FsyncPolicy::Interval { ms: 2 },
        FsyncPolicy::Never,
    ] {
        let _ = std::fs::remove_dir_all(dir.path());
        let cfg = EmbeddedConfig {
            fsync: policy,
            ..small_segments()
        };
        {
            let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
            assert!(log.create_topic(&TopicSpec::new("t", 3)).await.unwrap());
            assert!(!log.create_topic(&TopicSpec::new("t", 3)).await.unwrap());
            let p = log.producer(&ProducerConfig::default()).unwrap();
            let mut futs = Vec::new();
            for i in 0..200i64 {
                let mut r = ProduceRecord::new("t")
                    .key(format!("key-{}", i % 7))
                    .timestamp(10_000 + i)
                    .header("n", i.to_string());
                if i % 10 != 0 {
                    r = r.value(vec![i as u8; (i % 50) as usize]);
                }
                futs.push((i, r.clone(), p.send(r).await.unwrap()));
            }
            for (_, r, f) in &mut futs {
                let meta = f.await.unwrap();
                let want = aisle_log::partition_for_key(r.key.as_ref().unwrap(), 3);
                assert_eq!(meta.partition, want, "murmur2 placement");
            }
        }
        let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
        let mut total = 0;
        for part in 0..3 {
            let recs = read_all(&log, "t", part).await;
            for (i, r) in recs.iter().enumerate() {
                assert_eq!(r.offset, i as i64, "dense offsets");
                let n: i64 = std::str::from_utf8(r.header("n").unwrap())
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(r.timestamp, 10_000 + n);
                assert_eq!(r.key.as_deref(), Some(format!("key-{}", n % 7).as_bytes()));
                if n % 10 == 0 {
                    assert_eq!(r.value, None, "tombstone");
                } else {
                    assert_eq!(
                        r.value.as_deref(),
                        Some(&vec![n as u8; (n % 50) as usize][..])
                    );
                }
            }
            let (low, high) = log
                .watermarks(&TopicPartition::new("t", part))
                .await
                .unwrap();
            assert_eq!((low, high), (0, recs.len() as i64));
            total += recs.len();
        }
        assert_eq!(total, 200, "policy {policy:?}");
        drop(log);
        let report = verify(dir.path()).unwrap();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.total_records(), 200);
    }
}

#[tokio::test]
async fn unknown_topics_partitions_and_auto_create() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let p = log.producer(&ProducerConfig::default()).unwrap();
    assert!(
        matches!(p.send(ProduceRecord::new("nope").value("x")).await, Err(LogError::UnknownTopic(t)) if t == "nope")
    );
    log.create_topic(&TopicSpec::new("t", 2)).await.unwrap();
    assert!(matches!(
        p.send(ProduceRecord::new("t").partition(5).value("x"))
            .await,
        Err(LogError::UnknownPartition {
            partition: 5,
            partitions: 2,
            ..
        })
    ));
    assert!(
        log.create_topic(&TopicSpec::new("bad/name", 1))
            .await
            .is_err()
    );
    drop((p, log));

    let cfg = EmbeddedConfig {
        auto_create_topics: true,
        default_partitions: 4,
        ..small_segments()
    };
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    let p = log.producer(&ProducerConfig::default()).unwrap();
    p.send(ProduceRecord::new("auto").value("x"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(log.describe_topic("auto").await.unwrap().partitions, 4);
    let names: Vec<String> = log
        .list_topics()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["auto", "t"]);
    log.delete_topic("auto").await.unwrap();
    assert!(matches!(
        log.describe_topic("auto").await,
        Err(LogError::UnknownTopic(_))
    ));
}

#[tokio::test]
async fn second_open_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    match EmbeddedLog::open(dir.path(), small_segments()) {
        Err(LogError::Locked(d)) => assert_eq!(d, dir.path()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(log);
    EmbeddedLog::open(dir.path(), small_segments()).expect("lock released on drop");
}

/// A child forked by another thread shares the log's lock until it execs its program: the
/// reopen after a drop waits that moment out instead of reporting the dir locked (the model
/// test's reopen failed so while the kill -9 tests spawned their children).
#[test]
fn a_reopen_waits_out_a_forked_child_holding_the_lock_until_exec() {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let (mut forked, mut tell) = std::io::pipe().unwrap();
    let spawner = std::thread::spawn(move || {
        let mut cmd = std::process::Command::new("true");
        // SAFETY: between fork and exec the child only writes to a pipe and sleeps, both
        // async-signal-safe system calls; nothing allocates or takes a lock.
        unsafe {
            cmd.pre_exec(move || {
                tell.write_all(b"x")?;
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok(())
            });
        }
        cmd.status().unwrap()
    });
    // The child exists, holding a copy of the log's LOCK descriptor, for 200 ms more.
    let mut byte = [0u8; 1];
    forked.read_exact(&mut byte).unwrap();
    drop(log);
    let reopened = EmbeddedLog::open(dir.path(), small_segments());
    assert!(reopened.is_ok(), "reopen: {:?}", reopened.err());
    assert!(spawner.join().unwrap().success());
}

#[tokio::test]
async fn seek_across_many_segments_uses_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        index_interval_bytes: 64,
        ..small_segments()
    };
    let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
    log.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
    produce_each(&log, "t", 0, 300, 1000).await;
    assert!(
        segment_files(dir.path(), "t", 0).len() > 5,
        "segments rolled"
    );
    let tp = TopicPartition::new("t", 0);
    let mut c = log.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(tp.clone(), Offset::At(0))]).unwrap();
    for target in [0i64, 1, 57, 150, 151, 299, 123] {
        c.seek(&tp, Offset::At(target)).await.unwrap();
        let recs = c.poll(Duration::from_secs(1)).await.unwrap();
        assert_eq!(recs[0].offset, target);
        assert_eq!(
            recs[0].value.as_deref(),
            Some(format!("v{target}").as_bytes())
        );
    }
    c.seek(&tp, Offset::End).await.unwrap();
    assert_eq!(c.position(&tp), Some(300));
    assert!(c.poll(Duration::from_millis(50)).await.unwrap().is_empty());
    assert!(c.is_caught_up());
    drop(c);
    drop(log);
    // Indexes removed: open rebuilds them and seeks still work.
    for f in segment_files(dir.path(), "t", 0) {
        std::fs::remove_file(f.with_extension("index")).unwrap();
    }
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    let mut c = log.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(tp.clone(), Offset::At(222))]).unwrap();
    assert_eq!(c.poll(Duration::from_secs(1)).await.unwrap()[0].offset, 222);
    assert!(
        segment_files(dir.path(), "t", 0)
            .iter()
            .all(|f| f.with_extension("index").exists())
    );
}

#[tokio::test]
async fn consumer_wakes_promptly_on_new_data() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        fsync: FsyncPolicy::Interval { ms: 5 },
        ..small_segments()
    };
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    log.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
    let mut c = log.consumer(&ConsumerConfig::default()).unwrap();
    c.assign(&[(TopicPartition::new("t", 0), Offset::End)])
        .unwrap();
    let l2 = log.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let p = l2.producer(&ProducerConfig::default()).unwrap();
        p.send(ProduceRecord::new("t").value("hi"))
            .await
            .unwrap()
            .await
            .unwrap();
        tokio::time::Instant::now()
    });
    let recs = c.poll(Duration::from_secs(10)).await.unwrap();
    let got = tokio::time::Instant::now();
    let sent = writer.await.unwrap();
    assert_eq!(recs.len(), 1);
    assert!(
        got.duration_since(sent) < Duration::from_millis(50),
        "woken {:?} after ack",
        got.duration_since(sent)
    );
}
