//! Which images a camera has already done, kept in the log itself.
//!
//! Topic `_aisle_camera_offsets` (compacted, one partition): one record per finished image, key
//! `<camera id>/<path relative to the image directory>`, value a small JSON note (detections,
//! the event time used, `captured_ms`, and where it came from, `time`: `exif` or `arrival`; or
//! the dead-letter reason). The marker is written in the **same transaction** as the image's
//! detections (or its dead letter), so after any crash either both are in the log or neither is:
//! a restart reads the committed markers of its camera and skips exactly those images. Compaction
//! keeps one record per image, so the set survives retention.
//!
//! The arrival time (event time of a photo without EXIF) is stamped when the camera sees the
//! file, so it is only as stable as this marker: a committed image is skipped before it is read
//! and keeps the time it was sent with; an image seen but not committed before a crash is done
//! again on restart, with the new arrival time (nothing of the first attempt is in the log).

use std::collections::HashSet;
use std::time::Duration;

use aisle_log::{CleanupPolicy, Log, ProduceRecord, TopicSpec};

use crate::error::Result;

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

/// Relative paths of every image `camera` has committed, read from the whole topic.
pub async fn load(log: &dyn Log, topic: &str, camera: &str) -> Result<HashSet<String>> {
    let prefix = format!("{camera}/");
    let partitions = aisle_log::partitions_of(log, topic).await?;
    let mut done = HashSet::new();
    aisle_log::read_to_end(
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
    Ok(done)
}
