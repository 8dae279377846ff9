//! Event-time windows: tumbling (advance = size) and hopping (advance < size), with a grace
//! period after which a window is closed to late records.

use crate::error::{Result, StreamsError};

/// The shape of a windowed aggregation. Windows are aligned to the Unix epoch, as in Kafka
/// Streams: window starts are multiples of `advance_ms`; each covers `[start, start + size_ms)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window length, ms.
    pub size_ms: i64,
    /// Distance between window starts, ms; equal to `size_ms` for tumbling windows.
    pub advance_ms: i64,
    /// How long after its end a window still accepts records, in event time, ms.
    pub grace_ms: i64,
}

/// One window: `[start, end)` in event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// Start, inclusive, ms.
    pub start: i64,
    /// End, exclusive, ms.
    pub end: i64,
}

impl WindowSpec {
    /// Tumbling windows of `size_ms` with `grace_ms`.
    pub fn tumbling(size_ms: i64, grace_ms: i64) -> Result<Self> {
        Self::hopping(size_ms, size_ms, grace_ms)
    }

    /// Hopping windows: `size_ms` long, a new one every `advance_ms`.
    pub fn hopping(size_ms: i64, advance_ms: i64, grace_ms: i64) -> Result<Self> {
        if size_ms <= 0 || advance_ms <= 0 || advance_ms > size_ms || grace_ms < 0 {
            return Err(StreamsError::Config(format!(
                "windows need size > 0, 0 < advance <= size and grace >= 0; got size {size_ms} ms, \
                 advance {advance_ms} ms, grace {grace_ms} ms"
            )));
        }
        Ok(WindowSpec {
            size_ms,
            advance_ms,
            grace_ms,
        })
    }

    /// Whether windows do not overlap.
    pub fn is_tumbling(&self) -> bool {
        self.advance_ms == self.size_ms
    }

    /// Every window containing event time `ts`, oldest first.
    pub fn windows_of(&self, ts: i64) -> impl Iterator<Item = Window> + '_ {
        // The latest window start <= ts, then step back while the window still covers ts.
        let last = ts.div_euclid(self.advance_ms) * self.advance_ms;
        let first = last - ((self.size_ms - 1) / self.advance_ms) * self.advance_ms;
        (0..)
            .map(move |i| first + i * self.advance_ms)
            .take_while(move |s| *s <= last)
            .filter(move |s| ts < s + self.size_ms)
            .map(move |start| Window {
                start,
                end: start + self.size_ms,
            })
    }

    /// Whether `window` is closed once stream time has reached `stream_time`:
    /// `stream_time >= end + grace`.
    pub fn is_closed(&self, window: &Window, stream_time: i64) -> bool {
        stream_time >= window.end.saturating_add(self.grace_ms)
    }

    /// Whether some window closes when stream time moves from `from` to `to`, i.e. some
    /// `end + grace` lies in `(from, to]`. Close times are `k · advance + size + grace`, so a
    /// processor that closes every due window as it goes need only look for due windows when
    /// this is true.
    pub fn closes_between(&self, from: i64, to: i64) -> bool {
        let offset = self.size_ms.saturating_add(self.grace_ms);
        // The last close time at or before t is the k-th: floor((t - offset) / advance).
        let k = |t: i64| t.saturating_sub(offset).div_euclid(self.advance_ms);
        to > from && (from == i64::MIN || k(to) > k(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_between_finds_exactly_the_close_times() {
        // Hopping 10 s / 5 s, grace 2 s: windows [5k, 5k + 10) close at 5k + 12.
        let spec = WindowSpec::hopping(10_000, 5_000, 2_000).unwrap();
        let closes = |from: i64, to: i64| {
            (from + 1..=to).any(|t| {
                let w = Window {
                    start: t - 12_000,
                    end: t - 2_000,
                };
                w.start.rem_euclid(5_000) == 0 && spec.is_closed(&w, t)
            })
        };
        for (from, to) in [
            (0, 11_999),
            (0, 12_000),
            (12_000, 16_999),
            (12_000, 17_000),
            (-3, 2),
        ] {
            assert_eq!(
                spec.closes_between(from, to),
                closes(from, to),
                "({from}, {to}]"
            );
        }
        assert!(spec.closes_between(i64::MIN, -5));
        assert!(!spec.closes_between(17_000, 17_000));
        assert!(!spec.closes_between(17_000, 16_000));
    }

    #[test]
    fn tumbling_windows_hold_each_time_once() {
        let w = WindowSpec::tumbling(60_000, 10_000).unwrap();
        let ws: Vec<_> = w.windows_of(61_000).collect();
        assert_eq!(
            ws,
            [Window {
                start: 60_000,
                end: 120_000
            }]
        );
        assert_eq!(w.windows_of(59_999).next().unwrap().start, 0);
        assert_eq!(w.windows_of(-1).next().unwrap().start, -60_000);
        assert!(!w.is_closed(&ws[0], 129_999));
        assert!(w.is_closed(&ws[0], 130_000));
    }

    #[test]
    fn hopping_windows_overlap() {
        let w = WindowSpec::hopping(60_000, 20_000, 0).unwrap();
        let starts: Vec<_> = w.windows_of(65_000).map(|w| w.start).collect();
        assert_eq!(starts, [20_000, 40_000, 60_000]);
        let starts: Vec<_> = w.windows_of(60_000).map(|w| w.start).collect();
        assert_eq!(starts, [20_000, 40_000, 60_000]);
        let w = WindowSpec::hopping(50_000, 20_000, 0).unwrap();
        let starts: Vec<_> = w.windows_of(45_000).map(|w| w.start).collect();
        assert_eq!(starts, [0, 20_000, 40_000]);
        let starts: Vec<_> = w.windows_of(55_000).map(|w| w.start).collect();
        assert_eq!(starts, [20_000, 40_000]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(WindowSpec::hopping(10, 20, 0).is_err());
        assert!(WindowSpec::tumbling(0, 0).is_err());
        assert!(WindowSpec::tumbling(10, -1).is_err());
    }
}
