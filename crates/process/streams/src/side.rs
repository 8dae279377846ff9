//! Side outputs: records that leave the main flow — unreadable ones (dead-letter topic) and ones
//! too late for their window (late topic) — with one header vocabulary.
//!
//! Every side-output record keeps the original key, value and timestamp and carries the
//! dead-letter headers of the event contracts ([`aisle_events::dead_letter`], built there):
//!
//! | header | meaning |
//! |---|---|
//! | `aisle.dlq.reason` | why it left the flow, in words a user can act on |
//! | `aisle.dlq.source` | where it was read: `topic/partition@offset` |
//! | `aisle.dlq.kind` | `dead_letter` or `late` |
//!
//! Late records add the window they missed: `aisle.late.store`, `aisle.late.window_start`,
//! `aisle.late.window_end`, `aisle.late.windows` (every missed window, `start-end`, comma
//! separated) and `aisle.late.stream_time` (the stream time that closed it).

use aisle_events::dead_letter::DeadLetter;
use aisle_log::{ProduceRecord, Record};

pub use aisle_events::dead_letter::{KIND, REASON, SOURCE, source_of};

/// Header of late records: the store (or other grouping key) of the window.
pub const LATE_STORE: &str = "aisle.late.store";
/// Header of late records: start of the first missed window, ms.
pub const LATE_WINDOW_START: &str = "aisle.late.window_start";
/// Header of late records: end of the first missed window, ms.
pub const LATE_WINDOW_END: &str = "aisle.late.window_end";
/// Header of late records: every missed window as `start-end`, comma separated.
pub const LATE_WINDOWS: &str = "aisle.late.windows";
/// Header of late records: the stream time that had closed the window, ms.
pub const LATE_STREAM_TIME: &str = "aisle.late.stream_time";

/// A side-output copy of `rec` on `topic`: same key, value and timestamp, with the reason,
/// source and kind headers. `source` overrides where the record is said to come from (e.g. the
/// original input of a repartitioned record).
pub fn side_record(
    topic: &str,
    kind: &str,
    rec: &Record,
    source: Option<&str>,
    reason: &str,
) -> ProduceRecord {
    let d = DeadLetter::of_record(topic, rec, reason).kind(kind);
    match source {
        Some(s) => d.source(s),
        None => d,
    }
    .build()
}

/// A dead-letter copy of `rec` (logged and counted as `aisle_dlq_total`).
pub fn dead_letter(
    component: &'static str,
    topic: &str,
    rec: &Record,
    reason: &str,
) -> ProduceRecord {
    tracing::warn!(component, topic = %rec.topic, partition = rec.partition, offset = rec.offset, %reason, "record to the dead-letter topic");
    metrics::counter!("aisle_dlq_total", "component" => component, "topic" => topic.to_owned())
        .increment(1);
    DeadLetter::of_record(topic, rec, reason).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_records_keep_the_record_and_say_why() {
        let rec = Record {
            topic: "carts".into(),
            partition: 2,
            offset: 7,
            timestamp: 42,
            key: Some(bytes::Bytes::from_static(b"cup")),
            value: Some(bytes::Bytes::from_static(b"v")),
            headers: Vec::new(),
        };
        let r = dead_letter("test", "carts.dlq", &rec, "bad");
        assert_eq!(r.topic, "carts.dlq");
        assert_eq!(r.timestamp, Some(42));
        assert_eq!(r.key, rec.key);
        assert_eq!(r.value, rec.value);
        let h = |name: &str| {
            r.headers
                .iter()
                .find(|h| h.key == name)
                .map(|h| String::from_utf8(h.value.to_vec()).unwrap())
        };
        assert_eq!(h(REASON).as_deref(), Some("bad"));
        assert_eq!(h(SOURCE).as_deref(), Some("carts/2@7"));
        assert_eq!(h(KIND).as_deref(), Some("dead_letter"));
    }
}
