//! Dead letters: the one header vocabulary and the one builder every component uses.
//!
//! Input Aisle cannot use is never dropped: it goes to `<input topic>.dlq`
//! ([`crate::topics::dlq`]) with the bytes it came with and headers saying why and from where.
//! Every component writes the same headers:
//!
//! | header | on | meaning |
//! |---|---|---|
//! | `aisle.dlq.reason` | every dead letter | why, in words a user can act on |
//! | `aisle.dlq.kind` | every dead letter | `dead_letter`, or `late` for records too late for their window |
//! | `aisle.dlq.source` | records read from a topic | `topic/partition@offset` as read |
//! | `aisle.dlq.file` | rows of files, images | the file (or directory) rejected |
//! | `aisle.dlq.line` | rows of files | its 1-based line |
//! | `aisle.dlq.table` | rows of database tables | the table |
//! | `aisle.dlq.row_id` | rows of database tables | the row's incrementing column, when known |
//!
//! Late records (`aisle-streams`' windowed aggregate) add `aisle.late.*` headers naming the
//! window they missed.
//!
//! ```
//! use aisle_events::dead_letter::{self, DeadLetter};
//!
//! let rec = DeadLetter::new("sales.dlq", "sold is negative")
//!     .file("sales_train_evaluation.csv")
//!     .line(7)
//!     .value(b"HOBBIES_1_001_CA_1_evaluation,-1".to_vec())
//!     .build();
//! assert_eq!(rec.topic, "sales.dlq");
//! let h = |k: &str| rec.headers.iter().find(|h| h.key == k).map(|h| h.value.clone());
//! assert_eq!(h(dead_letter::LINE).as_deref(), Some(&b"7"[..]));
//! assert_eq!(h(dead_letter::KIND).as_deref(), Some(&b"dead_letter"[..]));
//! ```

use aisle_log::{ProduceRecord, Record};
use bytes::Bytes;

/// Header: why the record left the flow.
pub const REASON: &str = "aisle.dlq.reason";
/// Header: [`KIND_DEAD_LETTER`] or [`KIND_LATE`].
pub const KIND: &str = "aisle.dlq.kind";
/// Header: `topic/partition@offset` of the record as read.
pub const SOURCE: &str = "aisle.dlq.source";
/// Header: the input file (or directory) of a rejected row or image.
pub const FILE: &str = "aisle.dlq.file";
/// Header: the 1-based line of a rejected row in [`FILE`].
pub const LINE: &str = "aisle.dlq.line";
/// Header: the database table of a rejected row.
pub const TABLE: &str = "aisle.dlq.table";
/// Header: the rejected row's incrementing column, when known.
pub const ROW_ID: &str = "aisle.dlq.row_id";
/// [`KIND`] of input that cannot be used.
pub const KIND_DEAD_LETTER: &str = "dead_letter";
/// [`KIND`] of records too late for their window.
pub const KIND_LATE: &str = "late";

/// `topic/partition@offset` of a record.
pub fn source_of(rec: &Record) -> String {
    format!("{}/{}@{}", rec.topic, rec.partition, rec.offset)
}

/// Builds one dead letter (or another side-output record) with the documented headers.
#[derive(Debug)]
pub struct DeadLetter {
    rec: ProduceRecord,
}

impl DeadLetter {
    /// A dead letter on `topic` saying `reason`, with no source record (rows of files or
    /// tables, images): add what identifies the input with [`DeadLetter::file`],
    /// [`DeadLetter::line`], [`DeadLetter::table`], [`DeadLetter::row_id`].
    pub fn new(topic: &str, reason: &str) -> Self {
        DeadLetter {
            rec: ProduceRecord::new(topic)
                .header(REASON, reason.as_bytes().to_vec())
                .header(KIND, KIND_DEAD_LETTER),
        }
    }

    /// A dead-letter copy of `rec` on `topic`: the same key, value and timestamp, with the
    /// reason, the kind and `rec`'s source.
    pub fn of_record(topic: &str, rec: &Record, reason: &str) -> Self {
        let mut d = DeadLetter::new(topic, reason).header(SOURCE, source_of(rec));
        d.rec.key = rec.key.clone();
        d.rec.value = rec.value.clone();
        d.rec.timestamp = Some(rec.timestamp);
        d
    }

    /// Replaces the kind ([`KIND_LATE`] for late records).
    pub fn kind(self, kind: &str) -> Self {
        self.replace(KIND, kind.as_bytes().to_vec())
    }

    /// Replaces the source (e.g. the original input of a repartitioned record).
    pub fn source(self, source: &str) -> Self {
        self.replace(SOURCE, source.as_bytes().to_vec())
    }

    /// The rejected file (or directory).
    pub fn file(self, file: &str) -> Self {
        self.header(FILE, file.to_owned())
    }

    /// The rejected row's 1-based line.
    pub fn line(self, line: u64) -> Self {
        self.header(LINE, line.to_string())
    }

    /// The rejected row's table.
    pub fn table(self, table: &str) -> Self {
        self.header(TABLE, table.to_owned())
    }

    /// The rejected row's incrementing column.
    pub fn row_id(self, id: i64) -> Self {
        self.header(ROW_ID, id.to_string())
    }

    /// The record key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.rec.key = Some(key.into());
        self
    }

    /// The record value (the input as it came).
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.rec.value = Some(value.into());
        self
    }

    /// The record timestamp, ms.
    pub fn timestamp(mut self, ts: i64) -> Self {
        self.rec.timestamp = Some(ts);
        self
    }

    /// Any further header (`aisle.late.*`).
    pub fn header(mut self, key: &str, value: impl Into<Bytes>) -> Self {
        self.rec = self.rec.header(key, value);
        self
    }

    fn replace(mut self, key: &str, value: Vec<u8>) -> Self {
        self.rec.headers.retain(|h| h.key != key);
        self.header(key, value)
    }

    /// The record to send.
    pub fn build(self) -> ProduceRecord {
        self.rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(rec: &ProduceRecord, key: &str) -> Vec<String> {
        rec.headers
            .iter()
            .filter(|h| h.key == key)
            .map(|h| String::from_utf8_lossy(&h.value).into_owned())
            .collect()
    }

    #[test]
    fn a_copy_keeps_the_record_and_says_why_and_where() {
        let rec = Record {
            topic: "carts".into(),
            partition: 2,
            offset: 41,
            timestamp: 1_000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: vec![],
        };
        let d = DeadLetter::of_record("carts.dlq", &rec, "bad Avro").build();
        assert_eq!(d.topic, "carts.dlq");
        assert_eq!(
            (d.key.as_deref(), d.value.as_deref()),
            (Some(&b"k"[..]), Some(&b"v"[..]))
        );
        assert_eq!(d.timestamp, Some(1_000));
        assert_eq!(header(&d, REASON), ["bad Avro"]);
        assert_eq!(header(&d, SOURCE), ["carts/2@41"]);
        assert_eq!(header(&d, KIND), [KIND_DEAD_LETTER]);
    }

    #[test]
    fn kind_and_source_are_replaced_not_repeated() {
        let rec = Record {
            topic: "rekeyed".into(),
            partition: 0,
            offset: 3,
            timestamp: 5,
            key: None,
            value: None,
            headers: vec![],
        };
        let d = DeadLetter::of_record("carts.late", &rec, "late")
            .kind(KIND_LATE)
            .source("carts/1@9")
            .build();
        assert_eq!(header(&d, KIND), [KIND_LATE]);
        assert_eq!(header(&d, SOURCE), ["carts/1@9"]);
    }

    #[test]
    fn rows_say_their_file_line_table_and_id() {
        let d = DeadLetter::new("inventory.dlq", "no name")
            .table("inventory")
            .row_id(12)
            .file("f.csv")
            .line(3)
            .build();
        assert_eq!(header(&d, TABLE), ["inventory"]);
        assert_eq!(header(&d, ROW_ID), ["12"]);
        assert_eq!(header(&d, FILE), ["f.csv"]);
        assert_eq!(header(&d, LINE), ["3"]);
        assert_eq!(d.key, None);
    }
}
