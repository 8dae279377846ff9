//! The camera's clock: where a photo's arrival time comes from when it has no EXIF capture time.
//!
//! Anything that reads the wall clock takes a clock passed in, so tests can fix the time. This is
//! deliberately tiny (one `Fn() -> i64` behind an `Arc`); it will be unified with the streams
//! crate's clock later.

use std::sync::Arc;

/// A source of "now" in ms since the Unix epoch. Cheap to clone; [`Clock::system`] by default.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Clock {
        Clock::from_fn(aisle_log::now_ms)
    }

    /// Always `ms` (tests).
    pub fn fixed(ms: i64) -> Clock {
        Clock::from_fn(move || ms)
    }

    /// Whatever `f` says.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// Now, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_from_fn() {
        assert_eq!(Clock::fixed(42).now_ms(), 42);
        let n = std::sync::atomic::AtomicI64::new(0);
        let c = Clock::from_fn(move || n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        assert_eq!((c.now_ms(), c.clone().now_ms()), (0, 1));
        assert!(Clock::system().now_ms() > 1_700_000_000_000);
    }
}
