//! Which images a camera has already done, kept in the log itself.
//!
//! Two compacted topics, both written in the **same transaction** as an image's detections (or
//! its dead letter), so after any crash either all of it is in the log or none is:
//!
//! * **Checkpoints**, `<offsets topic>_checkpoints` ([`checkpoint_topic`]; default
//!   `_aisle_camera_offsets_checkpoints`), one partition: one record per transaction, key the
//!   camera id, value a [`Checkpoint`] (JSON): a file-time high-water mark `through` plus the
//!   few done images at or above it (see [`crate::progress`]). Compaction keeps the latest per
//!   camera, and the topic rolls 1 MiB segments so compaction can work (a compacted topic is
//!   only cleaned below its active segment). This is all a restart reads: [`resume`] looks for
//!   the camera's latest record backwards from the end of its partition (1, 4, 16, ...
//!   records), which is one small window when the camera wrote last, and never more than what
//!   compaction left, however many photos were ever processed.
//! * **Markers**, `_aisle_camera_offsets`, one partition: one record per finished image, key
//!   `<camera id>/<path relative to the image directory>`, value a small JSON note (detections,
//!   the event time used, `captured_ms`, and where it came from, `time`: `exif` or `arrival`;
//!   or the dead-letter reason). What was done with each photo, for people and tools; a restart
//!   does not read them, except once to migrate a camera that has no checkpoint yet (cameras
//!   before checkpoints kept only these; see [`crate::progress`] for how the migration stays
//!   exactly-once).
//!
//! The arrival time (event time of a photo without EXIF) is stamped when the camera sees the
//! file, so it is only as stable as the checkpoint: a committed image is skipped before it is
//! read and keeps the time it was sent with; an image seen but not committed before a crash is
//! done again on restart, with the new arrival time (nothing of the first attempt is in the log).

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use aisle_log::{
    CleanupPolicy, ConsumerConfig, Isolation, Log, LogError, Offset, ProduceRecord, Record,
    TopicPartition, TopicSpec,
};

use crate::error::{CameraError, Result};
pub use crate::progress::Checkpoint;

/// Default name of the processed-images topic.
pub const OFFSETS_TOPIC: &str = "_aisle_camera_offsets";

/// The spec the camera creates the offsets topic with.
pub fn spec(topic: &str) -> TopicSpec {
    TopicSpec::new(topic, 1).cleanup(CleanupPolicy::Compact)
}

/// The marker key of image `rel` (path relative to the image directory) for `camera`.
pub fn key(camera: &str, rel: &str) -> String {
    format!("{camera}/{rel}")
}

/// The marker record for image `rel`, with `note` (JSON) as value.
pub fn marker(topic: &str, camera: &str, rel: &str, note: &serde_json::Value) -> ProduceRecord {
    ProduceRecord::new(topic)
        .key(key(camera, rel))
        .value(note.to_string())
}

/// The checkpoint topic that goes with markers topic `offsets_topic`.
pub fn checkpoint_topic(offsets_topic: &str) -> String {
    format!("{offsets_topic}_checkpoints")
}

/// The spec the camera creates the checkpoint topic with: compacted, one partition, 1 MiB
/// segments (Kafka's smallest `segment.bytes`) so the cleaner can compact all but the last MiB.
pub fn checkpoint_spec(topic: &str) -> TopicSpec {
    TopicSpec::new(topic, 1)
        .cleanup(CleanupPolicy::Compact)
        .config("segment.bytes", (1u32 << 20).to_string())
}

/// The checkpoint record of `camera`.
pub fn checkpoint_record(topic: &str, camera: &str, cp: &Checkpoint) -> Result<ProduceRecord> {
    let value = serde_json::to_vec(cp).map_err(|e| CameraError::Encode(e.to_string()))?;
    Ok(ProduceRecord::new(topic)
        .key(camera.to_string())
        .value(value))
}

/// What a camera starts from, and what reading it cost.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// The camera's latest checkpoint, if it has one.
    pub checkpoint: Option<Checkpoint>,
    /// Paths named by old per-image markers (read only without a checkpoint, or while the
    /// checkpoint says the migration is unfinished).
    pub legacy: HashSet<String>,
    /// Records read from the checkpoint topic.
    pub checkpoint_records: u64,
    /// Bytes (keys and values) of those records.
    pub checkpoint_bytes: u64,
    /// Records read from the markers topic (0 once the camera has migrated).
    pub marker_records: u64,
}

/// Reads where `camera` resumes: its latest checkpoint in `checkpoint_topic` and, if it has none
/// or it is marked `legacy`, the paths of its old markers in `offsets_topic`.
pub async fn resume(
    log: &dyn Log,
    offsets_topic: &str,
    checkpoint_topic: &str,
    camera: &str,
) -> Result<Resume> {
    let (latest, records, bytes) = latest_for_key(log, checkpoint_topic, camera).await?;
    let checkpoint = match latest.and_then(|r| r.value) {
        Some(v) => Some(serde_json::from_slice::<Checkpoint>(&v).map_err(|e| {
            CameraError::Checkpoint(format!(
                "{checkpoint_topic}: the checkpoint of camera {camera} is not valid: {e}"
            ))
        })?),
        None => None, // never written, or deleted (a tombstone) to start the camera afresh
    };
    let mut r = Resume {
        checkpoint_records: records,
        checkpoint_bytes: bytes,
        ..Default::default()
    };
    if checkpoint.as_ref().is_none_or(|c| c.legacy) {
        let (legacy, n) = load_markers(log, offsets_topic, camera).await?;
        (r.legacy, r.marker_records) = (legacy, n);
    }
    r.checkpoint = checkpoint;
    Ok(r)
}

/// The latest committed record with key `key` in its partition of `topic` (and how many
/// records and bytes were read to find it), searching backwards from the end in windows of 1,
/// 4, 16, ... records (on Kafka the last offset is a commit marker: the second window finds it), so the cost is the distance from the end, not the topic's length.
async fn latest_for_key(
    log: &dyn Log,
    topic: &str,
    key: &str,
) -> Result<(Option<Record>, u64, u64)> {
    let info = log.describe_topic(topic).await?;
    let tp = TopicPartition::new(
        topic,
        aisle_log::partition_for_key(key.as_bytes(), info.partitions),
    );
    let (low, high) = log.watermarks(&tp).await?;
    let (mut records, mut bytes) = (0u64, 0u64);
    if high <= low {
        return Ok((None, 0, 0));
    }
    let mut consumer = log.consumer(&ConsumerConfig {
        client_id: format!("aisle-camera-{key}-resume"),
        isolation: Isolation::ReadCommitted,
        ..Default::default()
    })?;
    let within = Duration::from_secs(60);
    let deadline = Instant::now() + within;
    let (mut end, mut window) = (high, 1i64);
    loop {
        let start = end.saturating_sub(window).max(low);
        consumer.assign(&[(tp.clone(), Offset::At(start))])?;
        let mut found = None;
        loop {
            let batch = consumer.poll(Duration::from_millis(200)).await?;
            let empty = batch.is_empty();
            for rec in batch.into_iter().filter(|r| r.offset < end) {
                records += 1;
                bytes += (rec.key.as_ref().map_or(0, |k| k.len())
                    + rec.value.as_ref().map_or(0, |v| v.len())) as u64;
                if rec.key.as_deref() == Some(key.as_bytes()) {
                    found = Some(rec);
                }
            }
            // Under read_committed the end may be a transaction marker, hence `is_caught_up`.
            if consumer.position(&tp).is_some_and(|p| p >= end)
                || (empty && consumer.is_caught_up())
            {
                break;
            }
            if Instant::now() > deadline {
                return Err(LogError::Timeout(format!(
                    "reading the checkpoint of {key} from {topic} took over {within:?}"
                ))
                .into());
            }
        }
        if found.is_some() || start == low {
            return Ok((found, records, bytes));
        }
        (end, window) = (start, window.saturating_mul(4));
    }
}

/// Relative paths of every image `camera` has committed under the old per-image markers, read
/// from the whole topic (the migration; see [`crate::progress`]), and how many records that was.
pub async fn load_markers(
    log: &dyn Log,
    topic: &str,
    camera: &str,
) -> Result<(HashSet<String>, u64)> {
    let prefix = format!("{camera}/");
    let partitions = aisle_log::partitions_of(log, topic).await?;
    let mut done = HashSet::new();
    let n = aisle_log::read_to_end(
        log,
        &partitions,
        "aisle-camera-offsets",
        Duration::from_secs(60),
        |rec| {
            let rel = rec
                .key
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .and_then(|k| k.strip_prefix(&prefix));
            if let Some(rel) = rel {
                if rec.value.is_some() {
                    done.insert(rel.to_string());
                } else {
                    done.remove(rel);
                }
            }
            Ok::<_, std::convert::Infallible>(())
        },
    )
    .await
    .map_err(|e| e.into_log())?;
    Ok((done, n))
}
