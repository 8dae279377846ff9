//! [`Repartition`]: repartition by key — the upstream half of a two-stage task.
//!
//! The first stage reads the input partitions and writes each record to an internal topic keyed
//! by a new key (e.g. a store), so that every record of one key reaches the same downstream
//! partition whatever input partition it came from. The second stage's stream time must still
//! be the minimum over the *input* partitions ([`crate::Watermarks`]), which it cannot see
//! directly; so the first stage also writes **progress reports** ([`Progress`]): header-only
//! records, one to every repartition partition, carrying an input partition's time and whether
//! its reader was caught up. A report is due when the partition had records in the turn, when
//! its caught-up state changed, and at least every `heartbeat` (keep it below the downstream
//! `max_idle`, so a live but quiet partition is never mistaken for a dead one).
//!
//! With a single input partition the hop can be skipped: [`Repartition::due_reports`] still
//! says what the downstream stage must be told, and the caller applies it directly.

use crate::error::{Result, StreamsError};
use crate::processor::Turn;
use aisle_log::{ProduceRecord, Record};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// A progress report of one input partition, carried on the repartition topic (JSON in the
/// progress header): the downstream stream time is the minimum over these.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The input partition (`topic/partition`).
    pub source: String,
    /// Its partition time (largest event time read from it; `i64::MIN` before any).
    pub time: i64,
    /// Whether its reader was at its end.
    pub caught_up: bool,
}

/// The repartition stage's bookkeeping for the input partitions this member reads.
#[derive(Debug)]
pub struct Repartition {
    input: String,
    topic: String,
    partitions: i32,
    progress_header: &'static str,
    heartbeat: Duration,
    /// `topic/partition` of each input partition.
    source_names: Vec<String>,
    /// Partition time of each assigned input partition.
    partition_time: HashMap<i32, i64>,
    /// When each input partition's progress was last reported, and whether it was caught up.
    reported: HashMap<i32, (Instant, bool)>,
    /// Input partitions with records in the current turn.
    touched: BTreeSet<i32>,
}

impl Repartition {
    /// Repartitions `input` (`input_partitions` partitions) into `topic` (`partitions`
    /// partitions); progress reports carry `progress_header` and repeat every `heartbeat`.
    pub fn new(
        input: impl Into<String>,
        input_partitions: i32,
        topic: impl Into<String>,
        partitions: i32,
        progress_header: &'static str,
        heartbeat: Duration,
    ) -> Self {
        let input = input.into();
        let source_names = (0..input_partitions.max(0))
            .map(|p| format!("{input}/{p}"))
            .collect();
        Repartition {
            input,
            topic: topic.into(),
            partitions,
            progress_header,
            heartbeat,
            source_names,
            partition_time: HashMap::new(),
            reported: HashMap::new(),
            touched: BTreeSet::new(),
        }
    }

    /// The input topic.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// The repartition topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Every input partition's source name, the downstream [`crate::Watermarks`] sources.
    pub fn sources(&self) -> Vec<String> {
        self.source_names.clone()
    }

    /// The source name of input partition `partition` (`topic/partition`).
    pub fn source(&self, partition: i32) -> String {
        match self.source_names.get(partition as usize) {
            Some(name) => name.clone(),
            None => format!("{}/{partition}", self.input),
        }
    }

    /// Notes a record of input partition `partition` at event time `ts`; returns the
    /// partition's time after it.
    pub fn observe(&mut self, partition: i32, ts: i64) -> i64 {
        self.touched.insert(partition);
        let pt = self.partition_time.entry(partition).or_insert(i64::MIN);
        *pt = (*pt).max(ts);
        *pt
    }

    /// The record for the repartition topic: `value` keyed by `key`, at `ts`, with `header`.
    pub fn forward(
        &self,
        key: impl Into<Bytes>,
        ts: i64,
        value: Option<Bytes>,
        header: (&str, Vec<u8>),
    ) -> ProduceRecord {
        let mut r = ProduceRecord::new(self.topic.clone())
            .key(key)
            .timestamp(ts)
            .header(header.0, header.1);
        r.value = value;
        r
    }

    /// The progress reports due at the end of `turn`: each assigned input partition that had
    /// records, changed its caught-up state, or was last reported `heartbeat` ago.
    pub fn due_reports(&mut self, turn: Turn<'_>, now: Instant) -> Vec<Progress> {
        let inputs: Vec<i32> = turn
            .assigned
            .iter()
            .filter(|tp| tp.topic == self.input)
            .map(|tp| tp.partition)
            .collect();
        let mut due = Vec::new();
        for p in inputs {
            let report = match self.reported.get(&p) {
                None => true,
                Some((at, caught_up)) => {
                    self.touched.contains(&p)
                        || *caught_up != turn.caught_up
                        || now.duration_since(*at) >= self.heartbeat
                }
            };
            if report {
                self.reported.insert(p, (now, turn.caught_up));
                due.push(Progress {
                    source: self.source(p),
                    time: self.partition_time.get(&p).copied().unwrap_or(i64::MIN),
                    caught_up: turn.caught_up,
                });
            }
        }
        self.touched.clear();
        due
    }

    /// A report as header-only records, one to every repartition partition.
    pub fn progress_records(&self, report: &Progress) -> Result<Vec<ProduceRecord>> {
        let header = serde_json::to_vec(report)
            .map_err(|e| StreamsError::Processor(format!("encoding progress: {e}")))?;
        Ok((0..self.partitions)
            .map(|q| {
                ProduceRecord::new(self.topic.clone())
                    .partition(q)
                    .header(self.progress_header, header.clone())
            })
            .collect())
    }

    /// The progress report a repartition record carries, if it is one (`Err`: unreadable).
    pub fn read_progress(&self, rec: &Record) -> Option<std::result::Result<Progress, String>> {
        let h = rec.header(self.progress_header)?;
        Some(
            serde_json::from_slice(h)
                .map_err(|e| format!("bad {} header: {e}", self.progress_header)),
        )
    }

    /// Input partition `partition` was taken away: forget it.
    pub fn revoke(&mut self, partition: i32) {
        self.partition_time.remove(&partition);
        self.reported.remove(&partition);
        self.touched.remove(&partition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_log::TopicPartition;

    fn turn(assigned: &[TopicPartition], caught_up: bool) -> Turn<'_> {
        Turn {
            assigned,
            caught_up,
            records: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reports_are_sent_on_records_state_changes_and_heartbeats() {
        let mut r = Repartition::new("in", 2, "rep", 3, "p", Duration::from_secs(10));
        let assigned = [TopicPartition::new("in", 0), TopicPartition::new("in", 1)];
        let now = Instant::now();
        // First turn: both partitions are reported (never reported before).
        assert_eq!(r.observe(0, 5), 5);
        assert_eq!(r.observe(0, 3), 5, "partition time never goes back");
        let due = r.due_reports(turn(&assigned, false), now);
        assert_eq!(due.len(), 2);
        assert_eq!((due[0].source.as_str(), due[0].time), ("in/0", 5));
        assert_eq!((due[1].source.as_str(), due[1].time), ("in/1", i64::MIN));
        // Nothing new: nothing due.
        assert!(r.due_reports(turn(&assigned, false), now).is_empty());
        // A record on partition 1 only.
        r.observe(1, 7);
        let due = r.due_reports(turn(&assigned, false), now);
        assert_eq!(due.iter().map(|p| p.time).collect::<Vec<_>>(), [7]);
        // Caught up: both change state.
        assert_eq!(r.due_reports(turn(&assigned, true), now).len(), 2);
        // Heartbeat.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            r.due_reports(turn(&assigned, true), Instant::now()).len(),
            2
        );
        // Each report goes to every repartition partition and reads back.
        let recs = r.progress_records(&due[0]).unwrap();
        assert_eq!(
            recs.iter().map(|x| x.partition).collect::<Vec<_>>(),
            [Some(0), Some(1), Some(2)]
        );
        let rec = Record {
            topic: "rep".into(),
            partition: 0,
            offset: 0,
            timestamp: 0,
            key: None,
            value: None,
            headers: recs[0].headers.clone(),
        };
        assert_eq!(r.read_progress(&rec), Some(Ok(due[0].clone())));
    }

    #[test]
    fn forwarded_records_are_keyed_by_the_new_key() {
        let r = Repartition::new("in", 1, "rep", 4, "p", Duration::from_secs(10));
        let f = r.forward(
            b"CA_1".to_vec(),
            42,
            Some(Bytes::from_static(b"v")),
            ("j", b"{}".to_vec()),
        );
        assert_eq!(f.topic, "rep");
        assert_eq!(f.key.as_deref(), Some(&b"CA_1"[..]));
        assert_eq!((f.timestamp, f.partition), (Some(42), None));
        assert_eq!(f.headers[0].key, "j");
    }
}
