//! [`Watermarks`]: a task's stream time when its input comes from several sources.
//!
//! A source is one upstream input partition. Each source's time is the largest event time seen
//! on it (Kafka Streams' "partition time"). The task's stream time is the **minimum** over the
//! sources that still hold it back, so records of a slow partition are never made late by a fast
//! one, however the partitions interleave or however many instances share them. A source stops
//! holding the stream time back when
//! * its reader reported it caught up (read to its end: no more data is waiting), or
//! * nothing was heard from it for `max_idle` of wall-clock time (as Kafka Streams'
//!   `max.task.idle.ms`; e.g. its reader died and no one has taken it over yet).
//!
//! Sources never heard from hold the stream time back for `max_idle` from the start. Stream
//! time never goes backwards; when no source holds it back it stays where it is.

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Debug)]
struct Source {
    time: i64,
    caught_up: bool,
    heard: Instant,
}

/// Per-source times and the stream time they allow.
#[derive(Clone, Debug)]
pub struct Watermarks {
    sources: BTreeMap<String, Source>,
    max_idle: Duration,
    current: i64,
}

impl Watermarks {
    /// Every source expected (e.g. each partition of the input topic), none heard from yet.
    pub fn new(
        sources: impl IntoIterator<Item = String>,
        max_idle: Duration,
        now: Instant,
    ) -> Self {
        Watermarks {
            sources: sources
                .into_iter()
                .map(|s| {
                    (
                        s,
                        Source {
                            time: i64::MIN,
                            caught_up: false,
                            heard: now,
                        },
                    )
                })
                .collect(),
            max_idle,
            current: i64::MIN,
        }
    }

    /// Restores a source's time and the stream time from saved state (the source is then
    /// treated as not caught up, heard from now).
    pub fn restore(&mut self, source: &str, time: i64, now: Instant) {
        self.source_mut(source, now).time = time;
    }

    /// Restores the stream time from saved state.
    pub fn restore_current(&mut self, current: i64) {
        self.current = self.current.max(current);
    }

    fn source_mut(&mut self, source: &str, now: Instant) -> &mut Source {
        if !self.sources.contains_key(source) {
            self.sources.insert(
                source.to_owned(),
                Source {
                    time: i64::MIN,
                    caught_up: false,
                    heard: now,
                },
            );
        }
        self.sources
            .get_mut(source)
            .expect("the source was present or just inserted")
    }

    /// A record of `source` whose partition time (after it) is `time`: the source has data, so
    /// it holds the stream time back again until it reports caught up.
    pub fn record(&mut self, source: &str, time: i64, now: Instant) -> i64 {
        let s = self.source_mut(source, now);
        s.time = s.time.max(time);
        s.caught_up = false;
        s.heard = now;
        s.time
    }

    /// A progress report of `source`: its partition time and whether its reader is at its end.
    pub fn report(&mut self, source: &str, time: i64, caught_up: bool, now: Instant) {
        let s = self.source_mut(source, now);
        s.time = s.time.max(time);
        s.caught_up = caught_up;
        s.heard = now;
    }

    /// A source's time (`i64::MIN`: none seen).
    pub fn source_time(&self, source: &str) -> i64 {
        self.sources.get(source).map_or(i64::MIN, |s| s.time)
    }

    /// Every source and its time, by name (to save).
    pub fn sources(&self) -> impl Iterator<Item = (&str, i64)> {
        self.sources.iter().map(|(k, s)| (k.as_str(), s.time))
    }

    /// The sources that hold the stream time back at `now`.
    pub fn holding_back(&self, now: Instant) -> Vec<&str> {
        self.sources
            .iter()
            .filter(|(_, s)| !s.caught_up && now.duration_since(s.heard) < self.max_idle)
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Moves the stream time to the minimum time of the sources holding it back (never
    /// backwards) and returns it.
    pub fn advance(&mut self, now: Instant) -> i64 {
        let held = self
            .sources
            .values()
            .filter(|s| !s.caught_up && now.duration_since(s.heard) < self.max_idle)
            .map(|s| s.time)
            .min();
        if let Some(t) = held {
            self.current = self.current.max(t);
        }
        self.current
    }

    /// Moves the stream time forward to `time` (e.g. the wall clock of an idle task).
    pub fn advance_to(&mut self, time: i64) {
        self.current = self.current.max(time);
    }

    /// The stream time as last advanced.
    pub fn current(&self) -> i64 {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: i32) -> Vec<String> {
        (0..n).map(|p| format!("in/{p}")).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_slowest_source_holds_stream_time_back() {
        let now = Instant::now();
        let mut w = Watermarks::new(names(2), Duration::from_secs(30), now);
        w.record("in/0", 100_000, now);
        assert_eq!(w.advance(now), i64::MIN, "in/1 not heard from yet");
        w.record("in/1", 40_000, now);
        assert_eq!(w.advance(now), 40_000);
        w.record("in/1", 30_000, now); // out of order: partition time stays
        assert_eq!(w.advance(now), 40_000);
        w.record("in/1", 120_000, now);
        assert_eq!(w.advance(now), 100_000);
    }

    #[tokio::test(start_paused = true)]
    async fn caught_up_or_silent_sources_stop_holding_back() {
        let start = Instant::now();
        let mut w = Watermarks::new(names(3), Duration::from_secs(30), start);
        w.record("in/0", 100_000, start);
        w.record("in/1", 50_000, start);
        w.report("in/1", 50_000, true, start);
        // in/2 was never heard from: it holds back for max_idle from the start.
        assert_eq!(w.advance(start), i64::MIN);
        assert_eq!(w.holding_back(start), ["in/0", "in/2"]);
        tokio::time::advance(Duration::from_secs(29)).await;
        assert_eq!(w.advance(Instant::now()), i64::MIN);
        w.record("in/0", 100_000, Instant::now()); // in/0 still has data
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(w.advance(Instant::now()), 100_000, "in/2 silent for 30 s");
        // A record makes in/1 hold back again, but stream time never goes backwards.
        w.record("in/1", 60_000, Instant::now());
        assert_eq!(w.advance(Instant::now()), 100_000);
        assert_eq!(w.holding_back(Instant::now()), ["in/0", "in/1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn restored_sources_hold_back_until_heard() {
        let now = Instant::now();
        let mut w = Watermarks::new(names(2), Duration::from_secs(30), now);
        w.restore("in/0", 70_000, now);
        w.restore("in/1", 80_000, now);
        w.restore_current(65_000);
        assert_eq!(w.current(), 65_000);
        assert_eq!(w.advance(now), 70_000);
        assert_eq!(w.source_time("in/1"), 80_000);
        assert_eq!(w.sources().count(), 2);
    }
}
