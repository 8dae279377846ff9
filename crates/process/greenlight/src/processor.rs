//! [`Greenlight`]: the Green Light Special as a composition of `aisle-streams` operators.
//!
//! 1. **join** (input partitions): decode ([`Deserializer`]; bad records to the dead-letter topic,
//!    [`aisle_streams::side`]), then join with the inventory at event time
//!    ([`TableJoin::catch_up`] first: the table is read to its end or past the record's time):
//!    the store's own row for the item if it has one then, else the chain-wide row
//!    ([`StoreRows`]).
//! 2. **repartition by store** ([`Repartition`]; skipped with one input partition, "direct"
//!    mode): the original bytes as value, the join result in a header, keyed by store; every
//!    turn the join stage also reports each input partition's time to every repartition
//!    partition ([`Progress`]).
//! 3. **windowed aggregate** ([`Windows`], an [`aisle_streams::WindowedAggregate`] of
//!    [`WindowAgg`]): counts per store and window, closed on the
//!    stream time (minimum over input partitions) or, when the input is idle, the wall clock;
//!    late records to the late topic.

use crate::special::Rule;
use crate::store_rows::StoreRows;
use crate::window_state::{JOIN_HEADER, Joined, PROGRESS_HEADER, WindowAgg};
use crate::windows::{self, Outputs, Windows};
use aisle_events::types::key_store;
use aisle_events::{Inventory, ShoppingCartObject};
use aisle_log::{Log, ProduceRecord, Record, TopicPartition};
use aisle_serde::{DecodeError, Deserializer};
use aisle_streams::{
    ChangelogStore, Input, Processor, Progress, Repartition, Result, StreamsError, TableJoin, Turn,
    WindowSpec, side,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Topic names and schema ids the processor writes with.
#[derive(Clone, Debug)]
pub struct Topics {
    /// Cart objects.
    pub input: String,
    /// Partitions of the input topic (each is a watermark source).
    pub input_partitions: i32,
    /// Joined cart objects by store (internal).
    pub repartition: String,
    /// Partitions of the repartition topic.
    pub repartition_partitions: i32,
    /// Window state (internal, compacted).
    pub changelog: String,
    /// Unreadable cart objects.
    pub dlq: String,
    /// Where closed windows and late records go.
    pub outputs: Outputs,
}

/// Time settings of the processor.
#[derive(Clone, Debug)]
pub struct Timing {
    /// The windows.
    pub spec: WindowSpec,
    /// With no cart object for this long, windows close on the wall clock (`None`: never).
    pub idle: Option<Duration>,
    /// An input partition silent for this long stops holding the stream time back.
    pub max_idle: Duration,
    /// Where time is read.
    pub clock: aisle_log::SharedClock,
}

/// The processor. Build it with [`crate::run`] (or [`Greenlight::new`] for a custom loop).
pub struct Greenlight {
    topics: Topics,
    timing: Timing,
    rule: Rule,
    default_store: String,
    table: TableJoin<Inventory>,
    /// The join's store-key buffer.
    rows: StoreRows,
    carts: Deserializer<ShoppingCartObject>,
    /// The windows of each assigned state partition.
    tasks: HashMap<i32, Windows>,
    /// The repartition stage: partition times and progress reports of the input partitions.
    rep: Repartition,
    /// One input partition: a store's records are all in it already, so windows are counted
    /// right after the join, without the repartition hop.
    direct: bool,
}

impl std::fmt::Debug for Greenlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Greenlight")
            .field("topics", &self.topics)
            .field("timing", &self.timing)
            .finish()
    }
}

impl Greenlight {
    /// A processor over a restored table join.
    pub fn new(
        topics: Topics,
        timing: Timing,
        rule: Rule,
        default_store: String,
        table: TableJoin<Inventory>,
        carts: Deserializer<ShoppingCartObject>,
    ) -> Self {
        let rep = Repartition::new(
            topics.input.clone(),
            topics.input_partitions,
            topics.repartition.clone(),
            topics.repartition_partitions,
            PROGRESS_HEADER,
            timing.max_idle / 3,
        );
        Greenlight {
            topics,
            timing,
            rule,
            default_store,
            table,
            rows: StoreRows::new(),
            carts,
            tasks: HashMap::new(),
            rep,
            direct: false,
        }
    }

    /// Direct mode (see the field); only correct with a single input partition.
    pub fn direct(mut self, direct: bool) -> Self {
        self.direct = direct;
        self
    }

    /// The topic whose partitions own window state: the input itself in direct mode.
    fn state_topic(&self) -> &String {
        if self.direct {
            &self.topics.input
        } else {
            &self.topics.repartition
        }
    }

    /// Stage 1: decode and join (`None`: the record went to the dead-letter topic).
    async fn join(&mut self, rec: &Record, out: &mut Vec<ProduceRecord>) -> Result<Option<Joined>> {
        let dlq = |out: &mut Vec<ProduceRecord>, reason: &str| {
            out.push(side::dead_letter(
                crate::COMPONENT,
                &self.topics.dlq,
                rec,
                reason,
            ));
        };
        let Some(value) = &rec.value else {
            dlq(out, "tombstone: a cart object needs a value");
            return Ok(None);
        };
        self.carts.prepare(value).await.map_err(unavailable)?;
        let obj = match self.carts.decode(value) {
            Ok(o) => o,
            Err(DecodeError::Bad(reason)) => {
                dlq(out, &reason);
                return Ok(None);
            }
            Err(e) => return Err(unavailable(e)),
        };
        let item = obj.class_name.trim();
        if item.is_empty() {
            dlq(out, "class_name is empty");
            return Ok(None);
        }
        // The store the record names (trimmed, not blank); without one the record is counted
        // in the default store's windows but joins chain-wide rows only.
        let own_store = key_store(obj.store_id.as_deref());
        let store = own_store.unwrap_or(self.default_store.as_str()).to_owned();
        let partition_time = self.rep.observe(rec.partition, obj.timestamp);
        // Table before stream: the row in force at the record's time must have been read.
        self.table.catch_up(obj.timestamp).await?;
        let row = self
            .rows
            .get_at(&self.table, own_store, item, obj.timestamp);
        Ok(Some(Joined {
            store,
            item: item.to_owned(),
            ts: obj.timestamp,
            matched: row.is_some(),
            upsell: row.and_then(|r| r.upsell_item.clone()),
            stock: row.and_then(|r| r.count),
            // Direct mode: a late record takes its source from `rec` (no string per record).
            source: if self.direct {
                String::new()
            } else {
                side::source_of(rec)
            },
            partition: self.rep.source(rec.partition),
            partition_time,
        }))
    }

    /// Stage 2: to the repartition topic, keyed by store.
    fn forward(&self, rec: &Record, joined: &Joined, out: &mut Vec<ProduceRecord>) -> Result<()> {
        let header = serde_json::to_vec(joined)
            .map_err(|e| StreamsError::Processor(format!("encoding the join header: {e}")))?;
        out.push(self.rep.forward(
            joined.store.clone().into_bytes(),
            joined.ts,
            rec.value.clone(),
            (JOIN_HEADER, header),
        ));
        Ok(())
    }

    /// Stage 3: into the windows of state partition `partition`.
    fn aggregate(
        &mut self,
        partition: i32,
        rec: &Record,
        joined: &Joined,
        now: Instant,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<()> {
        let Some(task) = self.tasks.get_mut(&partition) else {
            return Err(StreamsError::Processor(format!(
                "record of {}/{} arrived before its state was restored",
                rec.topic, rec.partition
            )));
        };
        let input = Input {
            key: &joined.store,
            ts: joined.ts,
            source: &joined.partition,
            source_time: joined.partition_time,
        };
        let init = |w: aisle_streams::Window| WindowAgg::new(w.start, w.end);
        if let Some(late) = task.add(input, now, init, |agg| agg.add(joined)) {
            let source = (!joined.source.is_empty()).then_some(joined.source.as_str());
            let late_topic = &self.topics.outputs.late;
            let mut r = task.late_record(crate::COMPONENT, late_topic, rec, input, source, &late);
            r.key = Some(joined.item.clone().into_bytes().into());
            out.push(r);
        }
        let closed = task.advance(now);
        windows::emit(&closed, self.rule, &self.table, &self.topics.outputs, out)
    }

    /// A progress report reached state partition `partition`.
    fn progress(&mut self, partition: i32, p: &Progress, now: Instant) {
        if let Some(task) = self.tasks.get_mut(&partition) {
            task.report(&p.source, p.time, p.caught_up, now);
        }
    }

    /// The join stage's progress reports for this turn ([`Repartition::due_reports`]): to every
    /// repartition partition, or straight to the windows in direct mode.
    fn report_progress(
        &mut self,
        turn: Turn<'_>,
        now: Instant,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<()> {
        for report in self.rep.due_reports(turn, now) {
            if self.direct {
                for task in self.tasks.values_mut() {
                    task.report(&report.source, report.time, report.caught_up, now);
                }
            } else {
                out.extend(self.rep.progress_records(&report)?);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Processor for Greenlight {
    async fn assigned(&mut self, log: &dyn Log, partitions: &[TopicPartition]) -> Result<()> {
        let now = self.timing.clock.now();
        for tp in partitions {
            if tp.topic != *self.state_topic() {
                continue;
            }
            let store = ChangelogStore::restore(
                log,
                TopicPartition::new(self.topics.changelog.clone(), tp.partition),
            )
            .await?;
            let task = Windows::restore(
                self.timing.spec,
                "store",
                store,
                self.rep.sources(),
                self.timing.max_idle,
                now,
            );
            self.tasks.insert(tp.partition, task);
        }
        Ok(())
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if tp.topic == *self.state_topic() {
                self.tasks.remove(&tp.partition);
            }
            if tp.topic == self.topics.input {
                self.rep.revoke(tp.partition);
            }
        }
    }

    async fn process(&mut self, records: &[Record], out: &mut Vec<ProduceRecord>) -> Result<()> {
        self.table.refresh().await?;
        // One clock read per batch: it only dates arrivals for the idle timers.
        let now = self.timing.clock.now();
        for rec in records {
            if rec.topic == self.topics.input {
                if let Some(joined) = self.join(rec, out).await? {
                    if self.direct {
                        self.aggregate(rec.partition, rec, &joined, now, out)?;
                    } else {
                        self.forward(rec, &joined, out)?;
                    }
                }
            } else if rec.topic == self.topics.repartition {
                if let Some(report) = self.rep.read_progress(rec) {
                    match report {
                        Ok(p) => self.progress(rec.partition, &p, now),
                        Err(e) => tracing::warn!(error = %e, "unreadable progress report skipped"),
                    }
                    continue;
                }
                let dlq = |out: &mut Vec<ProduceRecord>, reason: &str| {
                    out.push(side::dead_letter(
                        crate::COMPONENT,
                        &self.topics.dlq,
                        rec,
                        reason,
                    ));
                };
                match rec
                    .header(JOIN_HEADER)
                    .map(|h| serde_json::from_slice::<Joined>(h))
                {
                    Some(Ok(j)) => self.aggregate(rec.partition, rec, &j, now, out)?,
                    Some(Err(e)) => dlq(out, &format!("bad {JOIN_HEADER} header: {e}")),
                    None => dlq(out, &format!("no {JOIN_HEADER} header")),
                }
            }
        }
        Ok(())
    }

    async fn punctuate(&mut self, turn: Turn<'_>, out: &mut Vec<ProduceRecord>) -> Result<()> {
        let now = self.timing.clock.now();
        self.report_progress(turn, now, out)?;
        let wall = self.timing.clock.wall_ms();
        let mut parts: Vec<i32> = self.tasks.keys().copied().collect();
        parts.sort_unstable();
        for p in parts {
            let Some(task) = self.tasks.get_mut(&p) else {
                continue;
            };
            let mut closed = task.advance(now);
            if let Some(idle) = self.timing.idle {
                closed.extend(task.close_idle(idle, now, wall));
            }
            windows::emit(&closed, self.rule, &self.table, &self.topics.outputs, out)?;
        }
        Ok(())
    }

    fn drain_state(&mut self) -> Result<Vec<ProduceRecord>> {
        let mut out = Vec::new();
        for task in self.tasks.values_mut() {
            out.extend(task.drain_changes()?);
        }
        Ok(out)
    }
}

/// A decode failure that is not the record's fault stops the turn (the registry may come back).
fn unavailable(e: DecodeError) -> StreamsError {
    match e {
        DecodeError::Bad(r) => StreamsError::Processor(r),
        DecodeError::Unavailable(r) => StreamsError::Unavailable(r),
    }
}
