//! Recovery: torn tails are cut, acknowledged records kept, real corruption reported.

use crate::common;

use aisle_log::{Log, LogError, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_log_embedded::{EmbeddedLog, verify};
use common::*;
use std::fs::OpenOptions;
use std::io::Write;

async fn setup(dir: &std::path::Path, n: usize) {
    let log = EmbeddedLog::open(dir, small_segments()).unwrap();
    log.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
    produce_each(&log, "t", 0, n, 1000).await;
}

#[tokio::test]
async fn truncated_mid_batch_is_cut_and_earlier_records_kept() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 40).await;
    let last = segment_files(dir.path(), "t", 0).pop().unwrap();
    let len = std::fs::metadata(&last).unwrap().len();
    // Cut the last batch in half (each record is its own batch here).
    OpenOptions::new()
        .write(true)
        .open(&last)
        .unwrap()
        .set_len(len - 20)
        .unwrap();
    std::fs::remove_file(dir.path().join("clean_shutdown")).unwrap();

    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(
        report.notes.iter().any(|n| n.contains("torn tail")),
        "{report}"
    );

    let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
    let recs = read_all(&log, "t", 0).await;
    assert_eq!(recs.len(), 39);
    assert_eq!(recs.last().unwrap().value.as_deref(), Some(&b"v38"[..]));
    // The next record reuses the cut offset.
    let p = log.producer(&ProducerConfig::default()).unwrap();
    let m = p
        .send(ProduceRecord::new("t").value("again"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(m.offset, 39);
    drop((p, log));
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.notes.is_empty(), "{report}");
}

#[tokio::test]
async fn appended_garbage_is_a_torn_tail() {
    for garbage in [
        vec![0u8; 300],
        b"garbage! not a batch at all".to_vec(),
        vec![0xAB; 5000],
    ] {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path(), 30).await;
        let last = segment_files(dir.path(), "t", 0).pop().unwrap();
        OpenOptions::new()
            .append(true)
            .open(&last)
            .unwrap()
            .write_all(&garbage)
            .unwrap();
        std::fs::remove_file(dir.path().join("clean_shutdown")).unwrap();
        let report = verify(dir.path()).unwrap();
        assert!(report.is_ok(), "{report}");
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains(&format!("torn tail: {} bytes", garbage.len()))),
            "{report}"
        );
        let log = EmbeddedLog::open(dir.path(), small_segments()).unwrap();
        assert_eq!(read_all(&log, "t", 0).await.len(), 30);
    }
}

#[tokio::test]
async fn bad_crc_followed_by_data_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 30).await;
    let last = segment_files(dir.path(), "t", 0).pop().unwrap();
    let mut bytes = std::fs::read(&last).unwrap();
    assert!(bytes.len() > 200, "last segment holds several batches");
    bytes[70] ^= 0xFF; // inside the first batch's records
    std::fs::write(&last, &bytes).unwrap();
    std::fs::remove_file(dir.path().join("clean_shutdown")).unwrap();

    let report = verify(dir.path()).unwrap();
    assert!(!report.is_ok());
    let msg = &report.problems[0];
    assert!(
        msg.contains(&last.display().to_string()) && msg.contains("byte 0"),
        "{msg}"
    );
    assert!(report.to_string().contains("CORRUPTION FOUND"));
    match EmbeddedLog::open(dir.path(), small_segments()) {
        Err(LogError::Corrupt { location, reason }) => {
            assert!(location.contains("t/0"), "{location}");
            assert!(reason.contains("CRC"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn corruption_in_a_sealed_segment_fails_open_or_read() {
    // Near the end of a sealed segment: open's index check reads that region and refuses.
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 30).await;
    let first = segment_files(dir.path(), "t", 0).remove(0);
    let mut bytes = std::fs::read(&first).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x01;
    std::fs::write(&first, &bytes).unwrap();
    let report = verify(dir.path()).unwrap();
    assert!(!report.is_ok(), "{report}");
    match EmbeddedLog::open(dir.path(), small_segments()) {
        Err(LogError::Corrupt { location, .. }) => {
            assert!(
                location.contains(&first.display().to_string()),
                "{location}"
            )
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }

    // Early in a sealed segment with a dense index: open trusts the index, the read fails
    // with an error naming the place.
    let dir = tempfile::tempdir().unwrap();
    let cfg = aisle_log_embedded::EmbeddedConfig {
        index_interval_bytes: 32,
        ..small_segments()
    };
    {
        let log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
        log.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
        produce_each(&log, "t", 0, 30, 1000).await;
    }
    let first = segment_files(dir.path(), "t", 0).remove(0);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[70] ^= 0x01;
    std::fs::write(&first, &bytes).unwrap();
    assert!(!verify(dir.path()).unwrap().is_ok());
    let log = EmbeddedLog::open(dir.path(), cfg).unwrap();
    let mut c = log.consumer(&aisle_log::ConsumerConfig::default()).unwrap();
    c.assign(&[(
        aisle_log::TopicPartition::new("t", 0),
        aisle_log::Offset::Beginning,
    )])
    .unwrap();
    match c.poll(std::time::Duration::from_millis(100)).await {
        Err(LogError::Corrupt { location, .. }) => {
            assert!(
                location.contains("t/0") && location.contains("byte 0"),
                "{location}"
            )
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
