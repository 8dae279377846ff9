//! [`Clock`]: the one place Aisle reads time.
//!
//! Every decision by the clock (a stream operator's idle close, how long a source may stay
//! silent, how long a join waits for its table, a photo's arrival time, a camera's resume
//! horizon) asks a clock passed in, never `Instant::now` directly, so tests run them under
//! tokio's paused time (`#[tokio::test(start_paused = true)]` and `tokio::time::advance`) or at
//! a fixed time instead of sleeping.

use std::fmt::Debug;
use std::sync::Arc;
use tokio::time::Instant;

/// A source of monotonic and wall-clock time.
pub trait Clock: Send + Sync + Debug {
    /// Monotonic time, for durations (tokio's: frozen and advanced by paused-time tests).
    fn now(&self) -> Instant;
    /// Wall-clock time, ms since the Unix epoch (compared with event times).
    fn wall_ms(&self) -> i64;
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The machine's clocks. Its monotonic time is tokio's, so under paused time it is paused too;
/// its wall clock is the system's. Tests that need both paused use [`TokioClock`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall_ms(&self) -> i64 {
        crate::now_ms()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A wall clock that follows tokio's time from a fixed origin: under paused time both clocks
/// move only when the test advances them.
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    origin: Instant,
    origin_wall_ms: i64,
}

impl TokioClock {
    /// A clock whose wall time is `wall_ms` now.
    pub fn starting_at(wall_ms: i64) -> Self {
        TokioClock {
            origin: Instant::now(),
            origin_wall_ms: wall_ms,
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall_ms(&self) -> i64 {
        self.origin_wall_ms + Instant::now().duration_since(self.origin).as_millis() as i64
    }
}

/// A clock whose wall time is whatever `f` says; monotonic time is tokio's.
struct WallFn<F>(F);

impl<F> Debug for WallFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WallFn")
    }
}

impl<F: Fn() -> i64 + Send + Sync> Clock for WallFn<F> {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall_ms(&self) -> i64 {
        (self.0)()
    }
}

/// A clock whose wall time is `f()` (tests: a counter, a value the test moves).
pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> SharedClock {
    Arc::new(WallFn(f))
}

/// A clock whose wall time is always `ms` (tests).
pub fn fixed(ms: i64) -> SharedClock {
    from_fn(move || ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fixed_and_from_fn() {
        assert_eq!(fixed(42).wall_ms(), 42);
        let n = std::sync::atomic::AtomicI64::new(0);
        let c = from_fn(move || n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        assert_eq!((c.wall_ms(), c.wall_ms()), (0, 1));
        assert!(system().wall_ms() > 1_700_000_000_000);
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_moves_only_with_tokio_time() {
        let c = TokioClock::starting_at(1_000_000);
        let t0 = c.now();
        assert_eq!(c.wall_ms(), 1_000_000);
        tokio::time::advance(Duration::from_millis(2_500)).await;
        assert_eq!(c.wall_ms(), 1_002_500);
        assert_eq!(c.now() - t0, Duration::from_millis(2_500));
    }
}
