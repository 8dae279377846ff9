//! [`WindowedAggregate`]: an event-time windowed aggregation per key (tumbling or hopping, with
//! grace), for one task, with its state in a [`ChangelogStore`].
//!
//! Time semantics (ARCHITECTURE.md, "Time"):
//! * The stream time is the minimum over the input partitions' times ([`Watermarks`]): a window
//!   closes once **every** input partition that still has data has passed its end + grace, so
//!   the output does not depend on how partitions interleave or how many instances share them.
//! * A record is late when *its own* partition had already passed the window's end + grace
//!   before it (deterministic: it depends only on that partition's order), or when the window
//!   was already closed. [`WindowedAggregate::add`] then says which windows it missed and why,
//!   and [`WindowedAggregate::late_record`] builds the side-output record ([`crate::side`]).
//! * A task with no records for the idle timeout and no input partition holding it back closes
//!   the windows whose end + grace has passed **on the wall clock**, never earlier
//!   ([`WindowedAggregate::close_idle`]): the current window of a key that pauses stays open.
//!
//! State: each open window is one store entry, `w␟key␟start`; the task's progress (stream
//! time, each input partition's time, the last idle close) is the entry `t`, saved with the
//! turn's outputs by [`WindowedAggregate::drain_changes`]. A restarted task restores both.

use crate::error::Result;
use crate::side;
use crate::store::ChangelogStore;
use crate::watermark::Watermarks;
use crate::window::{Window, WindowSpec};
use aisle_log::{ProduceRecord, Record};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// A task's event-time progress, kept in the store under [`TASK_KEY`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskMeta {
    /// The task's stream time (windows with end + grace at or before it are closed).
    pub stream_time: i64,
    /// Each input partition's time.
    pub sources: BTreeMap<String, i64>,
    /// Wall-clock time of the last close of an idle task (0: never).
    pub idle_closed_at: i64,
}

/// A store entry: an open window's aggregate, or the task's progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot<A> {
    /// An open window.
    Window(A),
    /// The task's progress.
    Task(TaskMeta),
}

/// State key of the task's progress.
pub const TASK_KEY: &str = "t";
const SEP: char = '\u{1f}';

/// State key of `key`'s window starting at `start`.
pub fn window_key(key: &str, start: i64) -> String {
    format!("w{SEP}{key}{SEP}{start}")
}

/// The grouping key and window start of a window state key.
pub fn parse_window_key(state_key: &str) -> Option<(&str, i64)> {
    let rest = state_key.strip_prefix('w')?.strip_prefix(SEP)?;
    let (key, start) = rest.rsplit_once(SEP)?;
    Some((key, start.parse().ok()?))
}

/// One record offered to the aggregate.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// Grouping key (e.g. a store).
    pub key: &'a str,
    /// Event time, ms.
    pub ts: i64,
    /// The input partition it was read from (a [`Watermarks`] source, `topic/partition`).
    pub source: &'a str,
    /// That partition's time after this record (largest event time read from it), as the
    /// upstream stage saw it; the aggregate takes the larger of this and what it knew.
    pub source_time: i64,
}

/// Why a record missed one or more windows.
#[derive(Clone, Debug, PartialEq)]
pub struct Late {
    /// Every window it missed, oldest first.
    pub missed: Vec<Window>,
    /// In words a user can act on.
    pub reason: String,
    /// The time that had closed the first of them (stream or partition time), ms.
    pub closed_by: i64,
}

/// A window closed by the stream time (or the wall clock), with its aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct Closed<A> {
    /// Grouping key.
    pub key: String,
    /// The window.
    pub window: Window,
    /// Its aggregate.
    pub agg: A,
}

/// One task's windows and event-time progress.
#[derive(Debug)]
pub struct WindowedAggregate<A> {
    spec: WindowSpec,
    /// What the grouping key is, for messages ("store").
    key_name: &'static str,
    store: ChangelogStore<Slot<A>>,
    wm: Watermarks,
    /// When the last record arrived (progress reports do not count).
    last_input: Instant,
    idle_closed_at: i64,
    /// Whether the progress changed since it was last saved.
    dirty: bool,
}

impl<A: Serialize + DeserializeOwned> WindowedAggregate<A> {
    /// The aggregate restored from `store`, expecting `sources` (every input partition);
    /// `key_name` says what the grouping key is in late reasons (e.g. "store").
    pub fn restore(
        spec: WindowSpec,
        key_name: &'static str,
        store: ChangelogStore<Slot<A>>,
        sources: Vec<String>,
        max_idle: Duration,
        now: Instant,
    ) -> Self {
        let mut wm = Watermarks::new(sources, max_idle, now);
        let mut idle_closed_at = 0;
        if let Some(Slot::Task(meta)) = store.get(TASK_KEY) {
            for (s, t) in &meta.sources {
                wm.restore(s, *t, now);
            }
            wm.restore_current(meta.stream_time);
            idle_closed_at = meta.idle_closed_at;
        }
        WindowedAggregate {
            spec,
            key_name,
            store,
            wm,
            last_input: now,
            idle_closed_at,
            dirty: false,
        }
    }

    /// The window shape.
    pub fn spec(&self) -> WindowSpec {
        self.spec
    }

    /// The stream time and per-partition times.
    pub fn watermarks(&self) -> &Watermarks {
        &self.wm
    }

    /// An upstream stage's report of input partition `source`: its time and whether its reader
    /// was caught up ([`Watermarks::report`]).
    pub fn report(&mut self, source: &str, time: i64, caught_up: bool, now: Instant) {
        self.wm.report(source, time, caught_up, now);
        self.dirty = true;
    }

    /// Every open window, by key then start.
    pub fn open_windows(&self) -> Vec<(String, Window)> {
        let size = self.spec.size_ms;
        self.store
            .range_prefix("w")
            .filter_map(|(k, _)| {
                let (key, start) = parse_window_key(k)?;
                Some((
                    key.to_owned(),
                    Window {
                        start,
                        end: start + size,
                    },
                ))
            })
            .collect()
    }

    /// Folds one record into every window of its time that is still open: `init` makes a new
    /// window's aggregate, `fold` adds the record. Returns the windows it missed, if any.
    pub fn add(
        &mut self,
        input: Input<'_>,
        now: Instant,
        mut init: impl FnMut(Window) -> A,
        mut fold: impl FnMut(&mut A),
    ) -> Option<Late> {
        self.last_input = now;
        self.dirty = true;
        let spec = self.spec;
        let stream_time = self.wm.current();
        let partition_time = self.wm.source_time(input.source).max(input.source_time);
        let mut missed = Vec::new();
        for w in spec.windows_of(input.ts) {
            if spec.is_closed(&w, partition_time) || spec.is_closed(&w, stream_time) {
                missed.push(w);
                continue;
            }
            let slot = self
                .store
                .entry(&window_key(input.key, w.start), || Slot::Window(init(w)));
            if let Slot::Window(agg) = slot {
                fold(agg);
            }
        }
        self.wm
            .record(input.source, partition_time.max(input.ts), now);
        let first = *missed.first()?;
        let (reason, closed_by) = if spec.is_closed(&first, partition_time) {
            let reason = format!(
                "event time {} is too late for window [{}, {}) of {} {}: its partition {} had reached {partition_time}, past the window's end + grace ({} ms)",
                input.ts,
                first.start,
                first.end,
                self.key_name,
                input.key,
                input.source,
                spec.grace_ms
            );
            (reason, partition_time)
        } else if self.idle_closed_at != 0 && first.end + spec.grace_ms <= self.idle_closed_at {
            let reason = format!(
                "window [{}, {}) of {} {} was closed by the wall clock while the input was idle",
                first.start, first.end, self.key_name, input.key
            );
            (reason, self.idle_closed_at)
        } else {
            let reason = format!(
                "window [{}, {}) of {} {} was closed: stream time {stream_time} (the slowest input partition) passed its end + grace ({} ms)",
                first.start, first.end, self.key_name, input.key, spec.grace_ms
            );
            (reason, stream_time)
        };
        Some(Late {
            missed,
            reason,
            closed_by,
        })
    }

    /// The late-topic copy of `rec` for `late` (counted as `aisle_dlq_total`): the original
    /// record with the [`crate::side`] headers, timestamped with the event time. `source`
    /// overrides where it was read (e.g. the input of a repartitioned record).
    pub fn late_record(
        &self,
        component: &'static str,
        topic: &str,
        rec: &Record,
        input: Input<'_>,
        source: Option<&str>,
        late: &Late,
    ) -> ProduceRecord {
        metrics::counter!("aisle_dlq_total", "component" => component, "topic" => topic.to_owned())
            .increment(1);
        let first = late.missed[0];
        let windows: Vec<String> = late
            .missed
            .iter()
            .map(|w| format!("{}-{}", w.start, w.end))
            .collect();
        side::side_record(
            topic,
            aisle_events::dead_letter::KIND_LATE,
            rec,
            source,
            &late.reason,
        )
        .timestamp(input.ts)
        .header(side::LATE_STORE, input.key.as_bytes().to_vec())
        .header(
            side::LATE_WINDOW_START,
            first.start.to_string().into_bytes(),
        )
        .header(side::LATE_WINDOW_END, first.end.to_string().into_bytes())
        .header(side::LATE_WINDOWS, windows.join(",").into_bytes())
        .header(
            side::LATE_STREAM_TIME,
            late.closed_by.to_string().into_bytes(),
        )
    }

    /// Advances the stream time and returns every window it closed.
    pub fn advance(&mut self, now: Instant) -> Vec<Closed<A>> {
        let previous = self.wm.current();
        let current = self.wm.advance(now);
        self.dirty |= current != previous;
        if !self.spec.closes_between(previous, current) {
            return Vec::new();
        }
        self.close_due()
    }

    /// The idle close: with no record for `idle` and no input partition holding the stream
    /// time back, the stream time moves to the wall clock (`wall_ms`), closing the windows whose
    /// end + grace has passed on it.
    pub fn close_idle(&mut self, idle: Duration, now: Instant, wall_ms: i64) -> Vec<Closed<A>> {
        if now.duration_since(self.last_input) < idle || !self.wm.holding_back(now).is_empty() {
            return Vec::new();
        }
        let due = self
            .open_windows()
            .iter()
            .any(|(_, w)| self.spec.is_closed(w, wall_ms));
        if !due {
            return Vec::new();
        }
        self.wm.advance_to(wall_ms);
        self.idle_closed_at = wall_ms;
        let closed = self.close_due();
        tracing::info!(
            windows = closed.len(),
            "input idle: closed the windows whose end + grace passed on the wall clock"
        );
        closed
    }

    /// Every open window the stream time has closed, oldest first, then by key.
    fn close_due(&mut self) -> Vec<Closed<A>> {
        let stream_time = self.wm.current();
        let mut due: Vec<(String, Window)> = self
            .open_windows()
            .into_iter()
            .filter(|(_, w)| self.spec.is_closed(w, stream_time))
            .collect();
        due.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        self.dirty |= !due.is_empty();
        due.into_iter()
            .filter_map(
                |(key, window)| match self.store.delete(&window_key(&key, window.start)) {
                    Some(Slot::Window(agg)) => Some(Closed { key, window, agg }),
                    _ => None,
                },
            )
            .collect()
    }

    /// Changelog records of everything changed since the last call, the progress included.
    pub fn drain_changes(&mut self) -> Result<Vec<ProduceRecord>> {
        if std::mem::take(&mut self.dirty) {
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
            self.store.put(TASK_KEY, Slot::Task(meta));
        }
        self.store.drain_changes()
    }
}

#[cfg(test)]
mod tests;
