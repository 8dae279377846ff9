//! `aisle-sales`: the M5 Walmart sales replayed as a live stream into the `sales` topic.
//!
//! Kaggle's M5 files (wide `sales_train_*.csv`, `calendar.csv`, `sell_prices.csv`, plain or
//! `.zst`) become one `SalesRecord` per item × store × day: partition = store index (Kaggle order
//! CA_1..WI_3), key = `ITEM_STORE`, timestamp = the day's date (UTC midnight), `sell_price` from
//! the week's price, null before the item launched. One generator task per store sends its days
//! in order through an idempotent producer, in batches ([`aisle_log::Producer::send_batch`]); the
//! position lives in the log itself: the last record of a store's partition names its series (key)
//! and day (timestamp), so a rerun after kill -9 continues exactly where the partition ends, with
//! no extra bytes per record. Malformed rows go to `<topic>.dlq` with file, line and reason.
//!
//! Main items: [`replay()`] with [`ReplayOptions`] / [`Source`] / [`Speed`], the [`Observer`] for
//! progress, the [`Summary`]; [`synthetic`] data. The M5 files are read by `aisle-m5`
//! ([`aisle_m5::files`], [`aisle_m5::Calendar`], [`aisle_m5::prices::PriceTable`], [`aisle_m5::wide`]).
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use aisle_sales::{replay, ReplayOptions, Source, Quiet};
//! use std::sync::Arc;
//!
//! let tmp = aisle_testkit::temp_embedded_log().unwrap();
//! let log: Arc<dyn aisle_log::Log> = Arc::new(tmp.log.clone());
//! let mut opts = ReplayOptions::new(Source::Synthetic);
//! opts.days = Some((1, 2));
//! opts.stores = vec!["WI_3".into()];
//! let registry = aisle_testkit::local_registry(log.clone()).await.unwrap();
//! let run = std::future::pending(); // or a shutdown signal: the replay stops at a day's end
//! let summary = replay(log.clone(), registry.clone(), opts.clone(), Arc::new(Quiet), run)
//!     .await
//!     .unwrap();
//! assert_eq!(summary.sent, 2 * 3049);
//! // Running it again finds everything in the log and sends nothing.
//! let again = replay(log, registry, opts, Arc::new(Quiet), std::future::pending()).await.unwrap();
//! assert_eq!((again.sent, again.resumed), (0, 2 * 3049));
//! # });
//! ```
//!
//! # Layout
//! * `synthetic.rs`: deterministic M5-shaped data.
//! * `resume.rs`: where each store stopped, from the first and last records of its partition.
//! * `dlq.rs`: dead-letter headers; not repeating rows an earlier run rejected.
//! * `replay.rs`: the plan (all checks before sending), dead letters, windows, the summary.
//! * `store.rs`: one store's generator task (batched sends, no per-record allocation).
//! * `encode.rs`: per-series Avro encoding of the three fields that change day to day.
//! * `error.rs`: [`SalesError`].

pub mod dlq;
pub mod encode;
mod error;
mod plan;
mod replay;
pub mod resume;
mod store;
pub mod synthetic;

pub use error::{Result, SalesError};
pub use replay::{Observer, Quiet, ReplayOptions, Source, Speed, Summary, replay};
pub use synthetic::Chain;
