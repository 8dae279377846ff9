//! [`Greenlight`]: the [`aisle_streams::Processor`] of the Green Light Special.
//!
//! Two stages in one task, both exactly-once through the same transaction loop:
//! 1. **join** (input partitions): each cart object is decoded (any registered writer schema),
//!    joined with the inventory table as of its event time, and forwarded to the internal
//!    repartition topic keyed by store — the original bytes as value, the join result in a
//!    header. Bad records go to `<input>.dlq`.
//! 2. **windows** (repartition partitions, so all of a store's records meet in one task): per
//!    store, event-time windows count items; a window closes when the store's stream time passes
//!    end + grace, or when the store has been quiet for the idle timeout (wall clock). Closing
//!    emits one `WindowedItem` per item and the window's `GreenLightSpecial`. Records for closed
//!    windows go to `<input>.late` with the windows they missed.
//!
//! With a single input partition the two stages run back to back on each record ("direct"
//! mode): a store's records are already together, so the repartition hop would only cost.

use crate::codec::{self, DecodeError, Decoder};
use crate::special::{self, Rule};
use crate::window_state::{
    Entry, JOIN_HEADER, Joined, StoreMeta, WindowAgg, store_key, store_of_key, window_key,
    window_prefix,
};
use aisle_events::{Inventory, ShoppingCartObject, WindowedItem};
use aisle_log::{Log, ProduceRecord, Record, TopicPartition};
use aisle_streams::{
    ChangelogStore, Processor, Result, StreamsError, TableFeed, VersionedTable, Window, WindowSpec,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const COMPONENT: &str = "greenlight";

/// Topic names and schema ids the processor writes with.
#[derive(Clone, Debug)]
pub struct Topics {
    /// Cart objects.
    pub input: String,
    /// Joined cart objects by store (internal).
    pub repartition: String,
    /// Window state (internal, compacted).
    pub changelog: String,
    /// Per-item window counts.
    pub windowed_items: String,
    /// Specials.
    pub specials: String,
    /// Late records.
    pub late: String,
    /// Unreadable cart objects.
    pub dlq: String,
    /// Schema id of `WindowedItem` values.
    pub windowed_item_id: u32,
    /// Schema id of `GreenLightSpecial` values.
    pub special_id: u32,
}

/// One repartition partition's state.
struct Task {
    store: ChangelogStore<Entry>,
    /// Wall-clock time of each store's last record (for idle close).
    last_seen: HashMap<String, Instant>,
}

/// The processor. Build it with [`crate::run`] (or [`Greenlight::new`] for a custom loop).
pub struct Greenlight {
    topics: Topics,
    spec: WindowSpec,
    rule: Rule,
    default_store: String,
    idle: Option<Duration>,
    table: VersionedTable<Inventory>,
    feed: TableFeed<Inventory>,
    carts: Decoder<ShoppingCartObject>,
    tasks: HashMap<i32, Task>,
    /// One input partition: a store's records are all in it already, so windows are counted
    /// right after the join, without the repartition hop.
    direct: bool,
}

impl std::fmt::Debug for Greenlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Greenlight")
            .field("topics", &self.topics)
            .field("spec", &self.spec)
            .finish()
    }
}

impl Greenlight {
    /// A processor over a restored table feed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        topics: Topics,
        spec: WindowSpec,
        rule: Rule,
        default_store: String,
        idle: Option<Duration>,
        table: VersionedTable<Inventory>,
        feed: TableFeed<Inventory>,
        carts: Decoder<ShoppingCartObject>,
    ) -> Self {
        Greenlight {
            topics,
            spec,
            rule,
            default_store,
            idle,
            table,
            feed,
            carts,
            tasks: HashMap::new(),
            direct: false,
        }
    }

    /// The topic whose partitions own window state: the input itself in direct mode.
    fn state_topic(&self) -> &String {
        if self.direct {
            &self.topics.input
        } else {
            &self.topics.repartition
        }
    }

    /// Direct mode (see the field); only correct with a single input partition.
    pub fn direct(mut self, direct: bool) -> Self {
        self.direct = direct;
        self
    }

    fn dlq(&self, rec: &Record, reason: &str, out: &mut Vec<ProduceRecord>) {
        tracing::warn!(topic = %rec.topic, partition = rec.partition, offset = rec.offset, %reason, "cart object to the dead-letter topic");
        metrics::counter!("aisle_dlq_total", "component" => COMPONENT, "topic" => self.topics.dlq.clone()).increment(1);
        let mut r = ProduceRecord::new(self.topics.dlq.clone())
            .timestamp(rec.timestamp)
            .header("aisle.dlq.reason", reason.as_bytes().to_vec())
            .header(
                "aisle.dlq.source",
                format!("{}/{}@{}", rec.topic, rec.partition, rec.offset).into_bytes(),
            );
        r.key = rec.key.clone();
        r.value = rec.value.clone();
        out.push(r);
    }

    /// Stage 1: decode and join (`None`: the record went to the dead-letter topic).
    async fn join(&mut self, rec: &Record, out: &mut Vec<ProduceRecord>) -> Result<Option<Joined>> {
        let Some(value) = &rec.value else {
            self.dlq(rec, "tombstone: a cart object needs a value", out);
            return Ok(None);
        };
        self.carts.prepare(value).await?;
        let obj = match self.carts.decode(value) {
            Ok(o) => o,
            Err(DecodeError::Bad(reason)) => {
                self.dlq(rec, &reason, out);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let item = obj.class_name.trim();
        if item.is_empty() {
            self.dlq(rec, "class_name is empty", out);
            return Ok(None);
        }
        let store = obj
            .store_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.default_store)
            .to_owned();
        let row = self.table.get_at(item, obj.timestamp);
        Ok(Some(Joined {
            store,
            item: item.to_owned(),
            ts: obj.timestamp,
            matched: row.is_some(),
            upsell: row.and_then(|r| r.upsell_item.clone()),
            stock: row.and_then(|r| r.count),
            // Filled in when forwarding; in direct mode the late record takes it from `rec`.
            source: String::new(),
        }))
    }

    /// Sends a joined cart object to the repartition topic, keyed by store.
    fn forward(
        &self,
        rec: &Record,
        joined: &mut Joined,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<()> {
        joined.source = format!("{}/{}@{}", rec.topic, rec.partition, rec.offset);
        let header = serde_json::to_vec(&*joined)
            .map_err(|e| StreamsError::Processor(format!("encoding the join header: {e}")))?;
        let mut r = ProduceRecord::new(self.topics.repartition.clone())
            .key(joined.store.clone().into_bytes())
            .timestamp(joined.ts)
            .header(JOIN_HEADER, header);
        r.value = rec.value.clone();
        out.push(r);
        Ok(())
    }

    /// Stage 2: count in the store's windows, close the windows the stream time passed.
    fn aggregate(
        &mut self,
        rec: &Record,
        joined: Joined,
        now: Instant,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<()> {
        let spec = self.spec;
        let Some(task) = self.tasks.get_mut(&rec.partition) else {
            return Err(StreamsError::Processor(format!(
                "record of {}/{} arrived before its state was restored",
                rec.topic, rec.partition
            )));
        };
        let skey = store_key(&joined.store);
        let mut meta = match task.store.get(&skey) {
            Some(Entry::Store(m)) => *m,
            _ => StoreMeta::default(),
        };
        let previous = meta.stream_time;
        meta.stream_time = meta.stream_time.max(joined.ts);
        // Every due window is closed as soon as it is due, so new ones can only be due when
        // the stream time passes a window's close time: no scan of the store otherwise.
        let may_close = spec.closes_between(previous, meta.stream_time);
        let mut missed = Vec::new();
        for w in spec.windows_of(joined.ts) {
            if spec.is_closed(&w, meta.stream_time) || w.end <= meta.closed_through {
                missed.push(w);
                continue;
            }
            let entry = task.store.entry(&window_key(&joined.store, w.start), || {
                Entry::Window(WindowAgg::new(w.start, w.end))
            });
            if let Entry::Window(agg) = entry {
                agg.add(&joined);
            }
        }
        task.store.put(&skey, Entry::Store(meta));
        match task.last_seen.get_mut(&joined.store) {
            Some(t) => *t = now,
            None => {
                task.last_seen.insert(joined.store.clone(), now);
            }
        }
        if !missed.is_empty() {
            out.push(late_record(
                &self.topics.late,
                rec,
                &joined,
                &missed,
                &meta,
                spec,
            ));
        }
        if may_close {
            let due = open_windows(&task.store, &joined.store)
                .into_iter()
                .filter(|w| spec.is_closed(w, meta.stream_time))
                .collect::<Vec<_>>();
            for w in due {
                self.close(rec.partition, &joined.store, w, out)?;
            }
        }
        Ok(())
    }

    /// Removes a window from the state and emits its results.
    fn close(
        &mut self,
        partition: i32,
        store: &str,
        w: Window,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<()> {
        let Some(task) = self.tasks.get_mut(&partition) else {
            return Ok(());
        };
        let Some(Entry::Window(agg)) = task.store.delete(&window_key(store, w.start)) else {
            return Ok(());
        };
        for (item, ia) in &agg.items {
            let wi = WindowedItem {
                store_id: store.to_owned(),
                window_start: agg.start,
                window_end: agg.end,
                item: item.clone(),
                count: ia.count,
                matched: ia.matched > 0,
                upsell_item: ia.upsell.clone(),
                stock: ia.stock,
            };
            out.push(
                ProduceRecord::new(self.topics.windowed_items.clone())
                    .key(wi.key().into_bytes())
                    .value(codec::encode(self.topics.windowed_item_id, &wi)?)
                    .timestamp(agg.end),
            );
        }
        let table = &self.table;
        let at = agg.end - 1;
        match special::pick(store, &agg, self.rule, |u| {
            table.get_at(u, at).map(|r| r.as_ref())
        }) {
            Some(s) => {
                tracing::info!(store, window_start = s.window_start, item = %s.item, upsell = %s.upsell_item, count = s.count, "green light special");
                out.push(
                    ProduceRecord::new(self.topics.specials.clone())
                        .key(s.store_id.clone().into_bytes())
                        .value(codec::encode(self.topics.special_id, &s)?)
                        .timestamp(agg.end),
                );
            }
            None => {
                tracing::info!(
                    store,
                    window_start = agg.start,
                    items = agg.items.len(),
                    "window closed without a special: no item qualified"
                )
            }
        }
        Ok(())
    }
}

/// The store's open windows, oldest first.
fn open_windows(store: &ChangelogStore<Entry>, name: &str) -> Vec<Window> {
    let prefix = window_prefix(name);
    let mut ws: Vec<Window> = store
        .range_prefix(&prefix)
        .filter_map(|(_, e)| match e {
            Entry::Window(a) => Some(Window {
                start: a.start,
                end: a.end,
            }),
            Entry::Store(_) => None,
        })
        .collect();
    ws.sort();
    ws
}

fn late_record(
    topic: &str,
    rec: &Record,
    j: &Joined,
    missed: &[Window],
    meta: &StoreMeta,
    spec: WindowSpec,
) -> ProduceRecord {
    metrics::counter!("aisle_dlq_total", "component" => COMPONENT, "topic" => topic.to_owned())
        .increment(1);
    let first = missed[0];
    let idle = missed.iter().all(|w| w.end <= meta.closed_through)
        && !spec.is_closed(&first, meta.stream_time);
    let reason = if idle {
        format!(
            "window [{}, {}) of store {} was closed early: the store was idle",
            first.start, first.end, j.store
        )
    } else {
        format!(
            "event time {} is too late for window [{}, {}) of store {}: stream time {} passed its end + grace ({} ms)",
            j.ts, first.start, first.end, j.store, meta.stream_time, spec.grace_ms
        )
    };
    let windows: Vec<String> = missed
        .iter()
        .map(|w| format!("{}-{}", w.start, w.end))
        .collect();
    let source = if j.source.is_empty() {
        format!("{}/{}@{}", rec.topic, rec.partition, rec.offset)
    } else {
        j.source.clone()
    };
    let mut r = ProduceRecord::new(topic)
        .key(j.item.clone().into_bytes())
        .timestamp(j.ts)
        .header("aisle.late.reason", reason.into_bytes())
        .header("aisle.late.store", j.store.clone().into_bytes())
        .header(
            "aisle.late.window_start",
            first.start.to_string().into_bytes(),
        )
        .header("aisle.late.window_end", first.end.to_string().into_bytes())
        .header("aisle.late.windows", windows.join(",").into_bytes())
        .header(
            "aisle.late.stream_time",
            meta.stream_time.to_string().into_bytes(),
        )
        .header("aisle.late.source", source.into_bytes());
    r.value = rec.value.clone();
    r
}

#[async_trait]
impl Processor for Greenlight {
    async fn assigned(&mut self, log: &dyn Log, partitions: &[TopicPartition]) -> Result<()> {
        let now = Instant::now();
        for tp in partitions {
            if tp.topic != *self.state_topic() {
                continue;
            }
            let store = ChangelogStore::restore(
                log,
                TopicPartition::new(self.topics.changelog.clone(), tp.partition),
            )
            .await?;
            // Restored stores with open windows count as just seen: the idle clock restarts.
            let last_seen = store
                .iter()
                .filter_map(|(k, _)| store_of_key(k))
                .filter(|s| !open_windows(&store, s).is_empty())
                .map(|s| (s.to_owned(), now))
                .collect();
            self.tasks.insert(tp.partition, Task { store, last_seen });
        }
        Ok(())
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if tp.topic == *self.state_topic() {
                self.tasks.remove(&tp.partition);
            }
        }
    }

    async fn process(&mut self, records: &[Record], out: &mut Vec<ProduceRecord>) -> Result<()> {
        self.feed.poll(&mut self.table, Duration::ZERO).await?;
        let now = Instant::now();
        for rec in records {
            if rec.topic == self.topics.input {
                if let Some(mut joined) = self.join(rec, out).await? {
                    if self.direct {
                        self.aggregate(rec, joined, now, out)?;
                    } else {
                        self.forward(rec, &mut joined, out)?;
                    }
                }
            } else if rec.topic == self.topics.repartition {
                match rec
                    .header(JOIN_HEADER)
                    .map(|h| serde_json::from_slice::<Joined>(h))
                {
                    Some(Ok(j)) => self.aggregate(rec, j, now, out)?,
                    Some(Err(e)) => self.dlq(rec, &format!("bad {JOIN_HEADER} header: {e}"), out),
                    None => self.dlq(rec, &format!("no {JOIN_HEADER} header"), out),
                }
            }
        }
        Ok(())
    }

    async fn punctuate(&mut self, out: &mut Vec<ProduceRecord>) -> Result<()> {
        let Some(idle) = self.idle else {
            return Ok(());
        };
        let now = Instant::now();
        let mut due = Vec::new();
        for (p, task) in &mut self.tasks {
            task.last_seen.retain(|store, seen| {
                if now.duration_since(*seen) >= idle {
                    due.push((*p, store.clone()));
                    false
                } else {
                    true
                }
            });
        }
        due.sort();
        for (p, store) in due {
            let Some(task) = self.tasks.get_mut(&p) else {
                continue;
            };
            let windows = open_windows(&task.store, &store);
            let Some(last_end) = windows.iter().map(|w| w.end).max() else {
                continue;
            };
            let skey = store_key(&store);
            let mut meta = match task.store.get(&skey) {
                Some(Entry::Store(m)) => *m,
                _ => StoreMeta::default(),
            };
            meta.closed_through = meta.closed_through.max(last_end);
            task.store.put(&skey, Entry::Store(meta));
            tracing::info!(
                store,
                windows = windows.len(),
                "store idle: closing its open windows"
            );
            for w in windows {
                self.close(p, &store, w, out)?;
            }
        }
        Ok(())
    }

    fn drain_state(&mut self) -> Result<Vec<ProduceRecord>> {
        let mut out = Vec::new();
        for task in self.tasks.values_mut() {
            out.extend(task.store.drain_changes()?);
        }
        Ok(out)
    }
}
