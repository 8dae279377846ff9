//! Which images a camera has already done, kept in the log itself.
//!
//! Topic `_aisle_camera_offsets` (compacted, one partition): one record per finished image, key
//! `<camera id>/<path relative to the image directory>`, value a small JSON note (detections,
//! or the dead-letter reason). The marker is written in the **same transaction** as the image's
//! detections (or its dead letter), so after any crash either both are in the log or neither is:
//! a restart reads the committed markers of its camera and skips exactly those images. Compaction
//! keeps one record per image, so the set survives retention.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aisle_log::{
    CleanupPolicy, ConsumerConfig, Isolation, Log, LogError, Offset, ProduceRecord, TopicPartition,
    TopicSpec,
};

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
    let info = log.describe_topic(topic).await?;
    let mut ends = Vec::new();
    for p in 0..info.partitions {
        let tp = TopicPartition::new(topic, p);
        let (low, high) = log.watermarks(&tp).await?;
        if high > low {
            ends.push((tp, high));
        }
    }
    let mut done = HashSet::new();
    if ends.is_empty() {
        return Ok(done);
    }
    let mut consumer = log.consumer(&ConsumerConfig {
        client_id: "aisle-camera-offsets".into(),
        isolation: Isolation::ReadCommitted,
        ..Default::default()
    })?;
    let assign: Vec<_> = ends
        .iter()
        .map(|(tp, _)| (tp.clone(), Offset::Beginning))
        .collect();
    consumer.assign(&assign)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for rec in consumer.poll(Duration::from_millis(200)).await? {
            let Some(rel) = rec
                .key
                .as_deref()
                .and_then(|k| std::str::from_utf8(k).ok())
                .and_then(|k| k.strip_prefix(&prefix))
            else {
                continue;
            };
            if rec.value.is_some() {
                done.insert(rel.to_string());
            } else {
                done.remove(rel);
            }
        }
        if consumer.is_caught_up()
            || ends
                .iter()
                .all(|(tp, high)| consumer.position(tp).is_some_and(|p| p >= *high))
        {
            return Ok(done);
        }
        if Instant::now() > deadline {
            return Err(
                LogError::Timeout(format!("reading {topic} to its end within 60 s")).into(),
            );
        }
    }
}
