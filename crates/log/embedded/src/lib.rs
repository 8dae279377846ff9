//! `aisle-log-embedded`: Aisle's own durable log on local disk, the default runtime.
//!
//! One process, no servers: [`EmbeddedLog`] implements every trait of [`aisle_log`] over a data
//! directory — topics with partitions, acknowledged-on-durability produce, consumer groups with
//! persisted offsets, compaction, retention, and atomic multi-topic transactions.
//!
//! Main types: [`EmbeddedLog`] (open a directory, `impl Log`), [`EmbeddedConfig`] and
//! [`FsyncPolicy`] (settings), [`ReadOnlyLog`] (a reader beside the writer, also `impl Log`),
//! [`verify`] / [`VerifyReport`] (check, also of a live directory).
//!
//! # Example
//!
//! ```
//! use aisle_log::{ConsumerConfig, Log, Offset, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec};
//! use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aisle_log::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let log = EmbeddedLog::open(dir.path(), EmbeddedConfig::default())?;
//! log.create_topic(&TopicSpec::new("sales", 2)).await?;
//! let producer = log.producer(&ProducerConfig::default())?;
//! let meta = producer.send(ProduceRecord::new("sales").partition(1).key("k").value("v")).await?.await?;
//! assert_eq!(meta.offset, 0);
//!
//! let mut consumer = log.consumer(&ConsumerConfig::default())?;
//! consumer.assign(&[(TopicPartition::new("sales", 1), Offset::Beginning)])?;
//! let records = consumer.poll(Duration::from_secs(1)).await?;
//! assert_eq!(records[0].value.as_deref(), Some(&b"v"[..]));
//! assert!(aisle_log_embedded::verify(dir.path())?.is_ok());
//! # Ok(()) }
//! ```
//!
//! # Directory layout
//!
//! ```text
//! <dir>/LOCK                               flock held while open (second open: LogError::Locked)
//! <dir>/clean_shutdown                     present only between a clean close and the next open
//! <dir>/journal.log                        group offsets + transaction commit decisions
//! <dir>/topics/<topic>/topic.json          partitions, cleanup policy, retention, configs
//! <dir>/topics/<topic>/<p>/<base>.log      segment: batches, base = first offset, 20 digits
//! <dir>/topics/<topic>/<p>/<base>.index    sparse offset/time index of that segment
//! <dir>/trash/                             deleted topics on their way out
//! ```
//!
//! # Segment and batch format
//!
//! A segment is a sequence of record batches, nothing else (no file header). All integers
//! little-endian. A batch:
//!
//! ```text
//! 0  u32 length        bytes after this field
//! 4  u32 crc32c        of bytes 8 .. 4+length (everything after the CRC)
//! 8  u8  magic = 1     9 u8 attributes (bit 0: transactional)     10 u16 reserved
//! 12 u32 record_count  16 i64 base_offset   24 i64 last_offset
//! 32 i64 max_timestamp 40 i64 append_time   48 u64 txn_seq (0: not transactional)
//! 56 records: u32 length, u32 offset_delta, i64 timestamp, i32 key_len (-1 = null), key,
//!    i32 value_len (-1 = tombstone), value, u16 header_count,
//!    header_count × (u16 name_len, name, u32 value_len, value)
//! ```
//!
//! Invariants: offsets are dense when written and strictly increase across batches and
//! segments; compaction removes records but never renumbers them, so a compacted segment has
//! gaps. Segment `<base>.log` holds offsets `>= base` and below the next segment's base.
//!
//! # Index format
//!
//! `<base>.index` is an array of 16-byte entries `(u32 offset - base, u32 byte position,
//! i64 max timestamp so far)`. An entry is written for the first batch of a segment and then for
//! the first batch starting `index_interval_bytes` or more after the previous entry. A seek
//! binary-searches the entries and scans forward from the batch found. The index is derived
//! data: it is not synced on every write, and open rebuilds any index that is missing,
//! malformed, points at the wrong batch, or is *short* (its tail needs an entry it lacks).
//!
//! # Writing and the fsync policy
//!
//! `send` assigns the offset and encodes the record into the partition's in-memory batch
//! (no syscall, no allocation beyond the batch buffer). One writer thread does all file
//! writes: it takes every pending batch, writes it with one positional write, syncs per
//! [`FsyncPolicy`], then appends journal entries, syncs the journal, and *only then* publishes
//! the new high watermark, which resolves delivery futures and wakes consumers (through tokio
//! `watch` channels, no polling). Consumers read only below the high watermark.
//!
//! * `Always`: every write cycle is `fdatasync`ed before it is acknowledged (power-loss safe).
//! * `Interval { ms }` (default 10 ms): group commit; at most one cycle per `ms` — records
//!   arriving within `ms` of the previous cycle's start collect until then, and go out in one
//!   write and one sync per partition, while records reaching an idle log are written and
//!   synced after 0.2 ms; acknowledged after that sync (power-loss safe).
//! * `Never`: acknowledged once written to the OS: survives kill -9, not a power loss.
//!
//! `ProducerConfig::linger` is not used: the write cycle is the batching window. In TOML the
//! policy is written `fsync = "always"`, `fsync = "never"` or `fsync = { interval = { ms = 10 } }`.
//!
//! The active segment is rolled only at the start of a write cycle, so every unacknowledged
//! byte is in the last segment of its partition.
//!
//! # Recovery at open
//!
//! 1. Take the lock; remove `trash/`; replay the journal, cutting a torn last entry.
//! 2. Per partition: delete `*.cleaned` (unfinished compaction output), finish any
//!    `<base>-<end>.swap` (a synced compaction result: delete the segments in `[base, end)`,
//!    rename it to `<base>.log`), delete indexes without a log.
//! 3. Sealed segments: validate the index cheaply (rebuild if needed).
//! 4. The last segment (unless the previous run shut down cleanly): scan every batch checking
//!    its CRC. An unreadable batch with nothing valid after it is a *torn tail* and is cut; a
//!    bad batch followed by a valid one is corruption and `open` fails with
//!    [`aisle_log::LogError::Corrupt`] naming file and byte (nothing is silently dropped).
//!    Then cut from the first batch of a transaction the journal does not record as committed.
//!    Rebuild the index.
//! 5. Rewrite the journal as a snapshot (group offsets + "every transaction below N is
//!    resolved") and start the writer; the writer rewrites it the same way while running
//!    whenever it passes 16 MiB, so it stays small.
//!
//! Every acknowledged record survives: it was written (and per policy synced) before its
//! watermark was published, and recovery only cuts bytes after the last complete batch or
//! from an uncommitted transaction, which no one was told about.
//!
//! # Readers beside the writer
//!
//! [`EmbeddedLog::open_read_only`] (or [`ReadOnlyLog::open`]) opens a directory another
//! process is writing, without the lock: it reads whole, checksum-valid batches as they are
//! written, waits at a batch still being appended instead of calling it corruption, shows a
//! transaction's batches once the journal records its commit, follows new segments, survives
//! the cleaner deleting or compacting the segment it reads, and refuses every write with
//! [`aisle_log::LogError::ReadOnly`]. Details in the `readonly` module docs.
//!
//! # Transactions
//!
//! A [`aisle_log::TxProducer`] buffers its records and offsets in memory. `commit` hands them to
//! the writer as one unit: the writer gives them a transaction sequence number, appends them
//! as batches tagged with it (attribute bit 0, `txn_seq`), writes and syncs the data, and then
//! appends one `tx_commit` journal entry listing the batches and the group offsets. Recovery
//! keeps a tagged batch only if its sequence number is committed in the journal (the tagged
//! batches of an unfinished commit are always at the end of the last segment, because
//! nothing is acknowledged past them until the entry is durable). So records and offsets
//! appear all together or not at all, across a crash mid-commit too. Open or aborted
//! transactions never reach the log, so `ReadCommitted` consumers cannot see them. A newer
//! producer with the same transactional id bumps the epoch; the old one gets
//! [`aisle_log::LogError::Fenced`] and its buffered transaction is dropped.
//!
//! # Retention and compaction
//!
//! A cleaner thread (every `cleaner_interval_ms`) deletes whole sealed segments whose newest
//! timestamp is older than the retention, or beyond size retention, and compacts topics with a
//! compacting cleanup policy: the sealed segments are rewritten keeping the latest record of
//! each key (offsets preserved), tombstones kept until `delete_retention_ms` after they were
//! appended; neighbours merge up to the segment size. The active segment is never touched.
//! [`EmbeddedLog::compact_now`] and [`EmbeddedLog::enforce_retention_now`] run them on demand.
//!
//! # Layout
//! * `config.rs`: [`EmbeddedConfig`], [`FsyncPolicy`].
//! * `batch.rs`: batch encoding, CRC checks, record decoding.
//! * `segment.rs`: segment files, the sparse index, the scan shared by recovery and verify.
//! * `partition.rs`: a partition's segments, pending records and read path.
//! * `writer.rs`: the writer thread (group commit, journal, transactions).
//! * `journal.rs`: the journal of group offsets and transaction commits.
//! * `recovery.rs`: opening a partition after a crash.
//! * `cleaner.rs`: retention and compaction.
//! * `groups.rs`: in-process consumer groups (range assignment).
//! * `topic.rs`: topic metadata.
//! * `log.rs`: [`EmbeddedLog`] and the `Log` trait.
//! * `producer.rs`, `consumer.rs`: the `Producer`, `TxProducer` and `Consumer` traits.
//! * `verify.rs`: [`verify`], the checker behind `aisle log verify` (safe on a live directory).
//! * `readonly/`: [`ReadOnlyLog`], reading a directory beside its writer.
//! * `fsutil.rs`: directory fsync, atomic file replacement.

mod batch;
mod cleaner;
mod config;
mod consumer;
mod fsutil;
mod groups;
mod journal;
mod log;
mod partition;
mod producer;
mod readonly;
mod recovery;
mod segment;
mod topic;
mod verify;
mod writer;

pub use config::{EmbeddedConfig, FsyncPolicy};
pub use consumer::{EmbeddedConsumer, MemberInfo};
pub use log::EmbeddedLog;
pub use producer::{EmbeddedProducer, EmbeddedTxProducer};
pub use readonly::{ReadOnlyConsumer, ReadOnlyLog, ReadOnlyOptions, ReadOnlyProducer, Skipped};
pub use verify::{PartitionReport, VerifyReport, verify};
