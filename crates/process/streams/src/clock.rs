//! [`Clock`]: the one place the streams library reads time.
//!
//! Every wall-clock decision of an operator (idle close, how long a source may stay silent, how
//! long a join waits for its table) asks a clock passed in, never `Instant::now` directly, so
//! tests run them under tokio's paused time (`#[tokio::test(start_paused = true)]` and
//! `tokio::time::advance`) instead of sleeping.

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
        aisle_log::now_ms()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
