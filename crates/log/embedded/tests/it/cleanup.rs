//! Compaction and retention.

use crate::common;

use aisle_log::{CleanupPolicy, Log, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog, verify};
use common::*;
use std::collections::HashMap;

#[tokio::test]
async fn compaction_keeps_latest_per_key_with_offsets_and_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        delete_retention_ms: 3_600_000,
        ..small_segments()
    };
    let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
    log.create_topic(&TopicSpec::new("c", 1).cleanup(CleanupPolicy::Compact))
        .await
        .unwrap();
    produce_each(&log, "c", 0, 200, 10).await;
    let p = log.producer(&ProducerConfig::default()).unwrap();
    // Tombstone for k3, then more data so it lands in a sealed segment.
    p.send(ProduceRecord::new("c").partition(0).key("k3"))
        .await
        .unwrap()
        .await
        .unwrap();
    for i in 0..30 {
        let r = ProduceRecord::new("c")
            .partition(0)
            .key(format!("filler{i}"))
            .value("f");
        p.send(r).await.unwrap().await.unwrap();
    }
    let before = read_all(&log, "c", 0).await;
    let segs_before = segment_files(dir.path(), "c", 0).len();

    log.compact_now("c").await.unwrap();
    let after = read_all(&log, "c", 0).await;
    assert!(after.len() < before.len());
    let segs_after_first = segment_files(dir.path(), "c", 0).len();
    assert!(segs_after_first <= segs_before);
    // Model: latest record per key among everything but the active segment's contents.
    let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
    for r in &before {
        latest.insert(r.key.clone().unwrap().to_vec(), r.offset);
    }
    for r in &after {
        let orig = &before[r.offset as usize];
        assert_eq!(orig, r, "offsets and contents preserved");
    }
    for (k, off) in &latest {
        assert!(
            after.iter().any(|r| r.offset == *off),
            "latest of {:?} kept",
            String::from_utf8_lossy(k)
        );
    }
    // Nothing older than the tombstone remains for k3; the tombstone itself is kept for now.
    let k3: Vec<_> = after
        .iter()
        .filter(|r| r.key.as_deref() == Some(b"k3"))
        .collect();
    assert_eq!(k3.len(), 1);
    assert_eq!(k3[0].value, None);
    let (low, high) = log.watermarks(&TopicPartition::new("c", 0)).await.unwrap();
    assert_eq!((low, high), (0, 231));
    drop((p, log));
    assert!(verify(dir.path()).unwrap().is_ok());

    // Past delete retention the tombstone goes too; reopening sees the same compacted data.
    let cfg = EmbeddedConfig {
        delete_retention_ms: 0,
        ..cfg
    };
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    assert_eq!(read_all(&log, "c", 0).await, after);
    log.compact_now("c").await.unwrap();
    let last = read_all(&log, "c", 0).await;
    assert!(last.iter().all(|r| r.key.as_deref() != Some(b"k3")));
    assert_eq!(last.len(), after.len() - 1);
    assert!(
        segment_files(dir.path(), "c", 0).len() < segs_after_first,
        "segments shrunk by the first compaction merge in the second"
    );
    // A second compaction changes nothing.
    log.compact_now("c").await.unwrap();
    assert_eq!(read_all(&log, "c", 0).await, last);
}

#[tokio::test]
async fn interrupted_compaction_swap_is_finished_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    log.create_topic(&TopicSpec::new("c", 1).cleanup(CleanupPolicy::Compact))
        .await
        .unwrap();
    produce_each(&log, "c", 0, 100, 5).await;
    drop(log);
    let pdir = dir.path().join("topics/c/0");
    // A leftover `.cleaned` (compaction output never completed) is discarded.
    std::fs::write(pdir.join("00000000000000000000.cleaned"), b"junk").unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let all = read_all(&log, "c", 0).await;
    assert_eq!(all.len(), 100);
    assert!(!pdir.join("00000000000000000000.cleaned").exists());
    drop(log);

    // A crash after the `.swap` was in place but before the old segments were deleted: the
    // swap (here: the first two segments merged) replaces them at open.
    let segs = segment_files(dir.path(), "c", 0);
    assert!(segs.len() >= 3);
    let end: i64 = segs[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut merged = std::fs::read(&segs[0]).unwrap();
    merged.extend(std::fs::read(&segs[1]).unwrap());
    std::fs::write(pdir.join(format!("{:020}-{end:020}.swap", 0)), merged).unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(read_all(&log, "c", 0).await, all);
    assert_eq!(segment_files(dir.path(), "c", 0).len(), segs.len() - 1);
    drop(log);
    assert!(verify(dir.path()).unwrap().is_ok());
}

#[tokio::test]
async fn retention_deletes_old_sealed_segments_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    // Timestamps in the far past (produce_each uses 1000+i): all sealed segments are expired.
    log.create_topic(&TopicSpec::new("old", 1).retention_ms(60_000))
        .await
        .unwrap();
    log.create_topic(&TopicSpec::new("forever", 1).retention_ms(-1))
        .await
        .unwrap();
    log.create_topic(
        &TopicSpec::new("sized", 1)
            .retention_ms(-1)
            .config("retention.bytes", "3000"),
    )
    .await
    .unwrap();
    for t in ["old", "forever", "sized"] {
        produce_each(&log, t, 0, 100, 1000).await;
    }
    let n_old = segment_files(dir.path(), "old", 0).len();
    assert!(n_old > 3);
    for t in ["old", "forever", "sized"] {
        log.enforce_retention_now(t).await.unwrap();
    }
    assert_eq!(
        segment_files(dir.path(), "old", 0).len(),
        1,
        "only the active segment is left"
    );
    assert_eq!(segment_files(dir.path(), "forever", 0).len(), n_old);
    let sized: u64 = segment_files(dir.path(), "sized", 0)
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(sized <= 3000 + 1100, "size retention: {sized}");

    let (low, high) = log
        .watermarks(&TopicPartition::new("old", 0))
        .await
        .unwrap();
    assert!(low > 0 && high == 100);
    let recs = read_all(&log, "old", 0).await;
    assert_eq!(recs.first().unwrap().offset, low);
    assert_eq!(recs.len() as i64, high - low);
    drop(log);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    assert_eq!(
        log.watermarks(&TopicPartition::new("old", 0))
            .await
            .unwrap(),
        (low, high)
    );
}

/// `min.compaction.lag.ms`: a key's older versions survive while their successor is younger
/// than the lag (a versioned table reads them after a restart), and go once it is older.
#[tokio::test]
async fn compaction_lag_keeps_recent_versions() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let spec = |name: &str, lag: i64| {
        let mut s = TopicSpec::new(name, 1).cleanup(CleanupPolicy::Compact);
        s.configs
            .insert("min.compaction.lag.ms".into(), lag.to_string());
        s
    };
    log.create_topic(&spec("young", 3_600_000)).await.unwrap();
    log.create_topic(&spec("old", 3_600_000)).await.unwrap();
    let p = log.producer(&ProducerConfig::default()).unwrap();
    let now = aisle_log::now_ms();
    // Ten versions of each of 20 keys: in "young" written now, in "old" two hours ago.
    for (topic, ts) in [("young", now), ("old", now - 7_200_000)] {
        for v in 0..10 {
            for k in 0..20 {
                let r = ProduceRecord::new(topic)
                    .partition(0)
                    .key(format!("k{k}"))
                    .value(format!("v{v}"))
                    .timestamp(ts + v);
                p.send(r).await.unwrap().await.unwrap();
            }
        }
    }
    let young = read_all(&log, "young", 0).await;
    log.compact_now("young").await.unwrap();
    assert_eq!(
        read_all(&log, "young", 0).await,
        young,
        "every version is kept"
    );
    let old = read_all(&log, "old", 0).await;
    log.compact_now("old").await.unwrap();
    assert!(
        read_all(&log, "old", 0).await.len() < old.len(),
        "older than the lag: compacted"
    );
}
