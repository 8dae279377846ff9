//! `aisle-streams`: a small stream-processing library over the [`aisle_log`] traits, so what is
//! built on it runs unchanged on the embedded runtime and on Kafka.
//!
//! Main items:
//! * [`VersionedTable`] + [`TableFeed`]: a topic materialised as a table (latest value per key,
//!   tombstones delete), replicated to every instance by reading all partitions with manual
//!   assignment, restored on start and kept up to date; a short per-key history answers
//!   "the row as of event time `t`" for stream–table joins.
//! * [`WindowSpec`] / [`Window`]: event-time tumbling and hopping windows with a grace period.
//! * [`ChangelogStore`]: a task's key-value state, written to a compacted changelog partition in
//!   the same transaction as the outputs, restored from it on assignment.
//! * [`Processor`] + [`run_task`]: the exactly-once consume → process → produce loop with
//!   rebalance handling (revoke: drop state; assign: restore it) and restarts after
//!   recoverable failures.
//!
//! ```
//! use aisle_streams::{VersionedTable, WindowSpec};
//!
//! let mut inventory = VersionedTable::new(60_000);
//! inventory.apply("cup", 1_000, Some("plate"));
//! assert_eq!(inventory.get_at("cup", 500), None); // carted before the row existed
//! assert_eq!(inventory.get_at("cup", 2_000).map(|v| **v), Some("plate"));
//!
//! let hopping = WindowSpec::hopping(60_000, 30_000, 10_000)?;
//! let starts: Vec<i64> = hopping.windows_of(65_000).map(|w| w.start).collect();
//! assert_eq!(starts, [30_000, 60_000]);
//! # Ok::<(), aisle_streams::StreamsError>(())
//! ```
//!
//! * [`Watermarks`]: a task's stream time as the minimum over its input partitions, with
//!   caught-up and silent partitions no longer holding it back.
//! * [`TableJoin`]: the stream–table join at event time, reading the table to its end or past
//!   a record's time before joining it.
//! * [`WindowedAggregate`]: an event-time windowed aggregation per key, closed on the stream
//!   time (or, when the input is idle, the wall clock), late records reported with the windows
//!   they missed.
//! * [`Repartition`]: repartition by key, with progress reports so the downstream stage's
//!   stream time is still the minimum over the input partitions.
//! * [`side`]: dead-letter and late side outputs with one header vocabulary.
//! * [`aisle_log::Clock`]: every wall-clock read goes through one passed in ([`aisle_log::clock::TokioClock`] under paused
//!   time in tests).
//!
//! # Layout
//! * `processor.rs`: [`Processor`] (no-op defaults), [`Turn`].
//! * `watermark.rs`: [`Watermarks`].
//! * `join.rs`: [`TableJoin`].
//! * `aggregate.rs`: [`WindowedAggregate`] (paused-time tests in `aggregate/tests.rs`).
//! * `repartition.rs`: [`Repartition`], [`Progress`].
//! * `side.rs`: side-output records and their headers.
//! * `error.rs`: [`StreamsError`], and which errors a restart can help.
//! * `window.rs`: [`WindowSpec`], [`Window`].
//! * `table.rs`: [`VersionedTable`], [`TableFeed`].
//! * `store.rs`: [`ChangelogStore`].
//! * `read.rs`: reading partitions to their end (restores).
//! * `task.rs`: [`TaskConfig`], [`run_task`].

pub mod aggregate;
mod error;
mod join;
mod processor;
pub mod read;
mod repartition;
pub mod side;
mod store;
mod table;
mod task;
mod watermark;
mod window;

pub use aggregate::{Closed, Input, Late, WindowedAggregate};
pub use error::{Result, StreamsError};
pub use join::TableJoin;
pub use processor::{Processor, Turn};
pub use repartition::{Progress, Repartition};
pub use store::ChangelogStore;
pub use table::{TableDecoder, TableFeed, VersionedTable};
pub use task::{TaskConfig, TaskStats, run_task};
pub use watermark::Watermarks;
pub use window::{Window, WindowSpec};
