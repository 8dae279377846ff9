//! The window stage: one [`WindowTask`] per state partition counts each store's cart objects in
//! event-time windows and closes them on the task's stream time.
//!
//! Time semantics (see ARCHITECTURE.md, "Time"):
//! * The stream time is the minimum over the input partitions' times
//!   ([`aisle_streams::Watermarks`]): a window closes once **every** input partition that still
//!   has data has passed its end + grace. So the output does not depend on how partitions
//!   interleave or how many instances share them.
//! * A record is late when *its own* partition had already passed the window's end + grace
//!   before it (deterministic: it depends only on that partition's order), or when the window
//!   was already closed. Late records go to the late topic with the windows they missed.
//! * A task with no records for the idle timeout, and no input partition holding it back,
//!   closes the windows whose end + grace has passed **on the wall clock**, never earlier: the
//!   current window of a store that pauses stays open.

use crate::codec;
use crate::special::{self, Rule};
use crate::window_state::{
    Entry, Joined, TASK_KEY, TaskMeta, WindowAgg, store_of_window_key, window_key,
};
use aisle_events::{Inventory, WindowedItem};
use aisle_log::{ProduceRecord, Record};
use aisle_streams::{ChangelogStore, Result, TableJoin, Watermarks, Window, WindowSpec, side};
use std::time::Duration;
use tokio::time::Instant;

/// What closing a window writes to, and with which schema ids.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// Per-item window counts.
    pub windowed_items: String,
    /// Specials.
    pub specials: String,
    /// Late records.
    pub late: String,
    /// Schema id of `WindowedItem` values.
    pub windowed_item_id: u32,
    /// Schema id of `GreenLightSpecial` values.
    pub special_id: u32,
}

/// One state partition's windows and progress.
pub struct WindowTask {
    pub(crate) store: ChangelogStore<Entry>,
    pub(crate) wm: Watermarks,
    /// When the last cart object arrived (progress reports do not count).
    pub(crate) last_input: Instant,
    pub(crate) idle_closed_at: i64,
    /// Whether the progress changed since it was last saved.
    dirty: bool,
}

impl WindowTask {
    /// The task restored from its store, expecting `sources` (every input partition).
    pub fn restore(
        store: ChangelogStore<Entry>,
        sources: Vec<String>,
        max_idle: Duration,
        now: Instant,
    ) -> Self {
        let mut wm = Watermarks::new(sources, max_idle, now);
        let mut idle_closed_at = 0;
        if let Some(Entry::Task(meta)) = store.get(TASK_KEY) {
            for (s, t) in &meta.sources {
                wm.restore(s, *t, now);
            }
            wm.restore_current(meta.stream_time);
            idle_closed_at = meta.idle_closed_at;
        }
        WindowTask {
            store,
            wm,
            last_input: now,
            idle_closed_at,
            dirty: false,
        }
    }

    /// Notes that the progress changed (saved by [`WindowTask::save_progress`]).
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Saves the progress in the store if it changed (the store then writes it to the changelog
    /// with the turn's outputs).
    pub fn save_progress(&mut self) {
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        let meta = TaskMeta {
            stream_time: self.wm.current(),
            sources: self
                .wm
                .sources()
                .filter(|(_, t)| *t != i64::MIN)
                .map(|(s, t)| (s.to_owned(), t))
                .collect(),
            idle_closed_at: self.idle_closed_at,
        };
        self.store.put(TASK_KEY, Entry::Task(meta));
    }

    /// Every open window, by store then start.
    pub fn open_windows(&self) -> Vec<(String, Window)> {
        self.store
            .range_prefix("w")
            .filter_map(|(k, e)| match e {
                Entry::Window(a) => Some((
                    store_of_window_key(k)?.to_owned(),
                    Window {
                        start: a.start,
                        end: a.end,
                    },
                )),
                Entry::Task(_) => None,
            })
            .collect()
    }

    /// Counts one joined cart object; late ones go to the late topic.
    pub fn add(
        &mut self,
        spec: WindowSpec,
        rec: &Record,
        j: &Joined,
        now: Instant,
        late_topic: &str,
        out: &mut Vec<ProduceRecord>,
    ) {
        self.last_input = now;
        self.dirty = true;
        let stream_time = self.wm.current();
        let before = self.wm.source_time(&j.partition);
        let partition_time = before.max(j.partition_time);
        let mut missed = Vec::new();
        for w in spec.windows_of(j.ts) {
            if spec.is_closed(&w, partition_time) || spec.is_closed(&w, stream_time) {
                missed.push(w);
                continue;
            }
            let entry = self.store.entry(&window_key(&j.store, w.start), || {
                Entry::Window(WindowAgg::new(w.start, w.end))
            });
            if let Entry::Window(agg) = entry {
                agg.add(j);
            }
        }
        self.wm.record(&j.partition, partition_time.max(j.ts), now);
        if !missed.is_empty() {
            out.push(self.late_record(late_topic, rec, j, &missed, partition_time, spec));
        }
    }

    fn late_record(
        &self,
        topic: &str,
        rec: &Record,
        j: &Joined,
        missed: &[Window],
        partition_time: i64,
        spec: WindowSpec,
    ) -> ProduceRecord {
        metrics::counter!("aisle_dlq_total", "component" => crate::COMPONENT, "topic" => topic.to_owned())
            .increment(1);
        let first = missed[0];
        let stream_time = self.wm.current();
        let reason = if spec.is_closed(&first, partition_time) {
            format!(
                "event time {} is too late for window [{}, {}) of store {}: its partition {} had reached {}, past the window's end + grace ({} ms)",
                j.ts, first.start, first.end, j.store, j.partition, partition_time, spec.grace_ms
            )
        } else if self.idle_closed_at != 0 && first.end + spec.grace_ms <= self.idle_closed_at {
            format!(
                "window [{}, {}) of store {} was closed by the wall clock while the input was idle",
                first.start, first.end, j.store
            )
        } else {
            format!(
                "window [{}, {}) of store {} was closed: stream time {stream_time} (the slowest input partition) passed its end + grace ({} ms)",
                first.start, first.end, j.store, spec.grace_ms
            )
        };
        let windows: Vec<String> = missed
            .iter()
            .map(|w| format!("{}-{}", w.start, w.end))
            .collect();
        let source = (!j.source.is_empty()).then_some(j.source.as_str());
        let mut r = side::side_record(topic, "late", rec, source, &reason)
            .timestamp(j.ts)
            .header(side::LATE_STORE, j.store.clone().into_bytes())
            .header(
                side::LATE_WINDOW_START,
                first.start.to_string().into_bytes(),
            )
            .header(side::LATE_WINDOW_END, first.end.to_string().into_bytes())
            .header(side::LATE_WINDOWS, windows.join(",").into_bytes())
            .header(
                side::LATE_STREAM_TIME,
                stream_time.max(partition_time).to_string().into_bytes(),
            );
        r.key = Some(j.item.clone().into_bytes().into());
        r
    }

    /// Advances the stream time and closes every window it passed. Returns how many closed.
    #[allow(clippy::too_many_arguments)]
    pub fn advance(
        &mut self,
        spec: WindowSpec,
        rule: Rule,
        now: Instant,
        table: &TableJoin<Inventory>,
        to: &Outputs,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<usize> {
        let previous = self.wm.current();
        let current = self.wm.advance(now);
        self.dirty |= current != previous;
        if !spec.closes_between(previous, current) {
            return Ok(0);
        }
        self.close_due(spec, rule, table, to, out)
    }

    /// The idle close: with no cart object for `idle` and no input partition holding the
    /// stream time back, the stream time moves to the wall clock. Returns how many windows closed.
    #[allow(clippy::too_many_arguments)]
    pub fn close_idle(
        &mut self,
        spec: WindowSpec,
        rule: Rule,
        idle: Duration,
        now: Instant,
        wall_ms: i64,
        table: &TableJoin<Inventory>,
        to: &Outputs,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<usize> {
        if now.duration_since(self.last_input) < idle || !self.wm.holding_back(now).is_empty() {
            return Ok(0);
        }
        let due = self
            .open_windows()
            .iter()
            .any(|(_, w)| spec.is_closed(w, wall_ms));
        if !due {
            return Ok(0);
        }
        self.wm.advance_to(wall_ms);
        self.idle_closed_at = wall_ms;
        let n = self.close_due(spec, rule, table, to, out)?;
        tracing::info!(
            windows = n,
            "input idle: closed the windows whose end + grace passed on the wall clock"
        );
        Ok(n)
    }

    fn close_due(
        &mut self,
        spec: WindowSpec,
        rule: Rule,
        table: &TableJoin<Inventory>,
        to: &Outputs,
        out: &mut Vec<ProduceRecord>,
    ) -> Result<usize> {
        let stream_time = self.wm.current();
        let mut due: Vec<(String, Window)> = self
            .open_windows()
            .into_iter()
            .filter(|(_, w)| spec.is_closed(w, stream_time))
            .collect();
        // Oldest first, then by store: the order of the outputs.
        due.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        for (store, w) in &due {
            if let Some(Entry::Window(agg)) = self.store.delete(&window_key(store, w.start)) {
                emit(store, &agg, rule, table, to, out)?;
            }
        }
        self.dirty |= !due.is_empty();
        Ok(due.len())
    }
}

/// A closed window's outputs: one `WindowedItem` per item, then its special (if any).
fn emit(
    store: &str,
    agg: &WindowAgg,
    rule: Rule,
    table: &TableJoin<Inventory>,
    to: &Outputs,
    out: &mut Vec<ProduceRecord>,
) -> Result<()> {
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
            ProduceRecord::new(to.windowed_items.clone())
                .key(wi.key().into_bytes())
                .value(codec::encode(to.windowed_item_id, &wi)?)
                .timestamp(agg.end),
        );
    }
    let at = agg.end - 1;
    match special::pick(store, agg, rule, |u| {
        table.get_at(u, at).map(|r| r.as_ref())
    }) {
        Some(s) => {
            tracing::info!(store, window_start = s.window_start, item = %s.item, upsell = %s.upsell_item, count = s.count, "green light special");
            out.push(
                ProduceRecord::new(to.specials.clone())
                    .key(s.store_id.clone().into_bytes())
                    .value(codec::encode(to.special_id, &s)?)
                    .timestamp(agg.end),
            );
        }
        None => tracing::info!(
            store,
            window_start = agg.start,
            items = agg.items.len(),
            "window closed without a special: no item qualified"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
