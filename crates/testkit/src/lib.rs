//! `aisle-testkit`: shared test fixtures and the log conformance suite that runs the same cases
//! against every runtime of the [`aisle_log`] interface.
//!
//! The suite is how Aisle keeps its two runtimes interchangeable: each case in [`conformance`]
//! is an async function taking a [`Fixture`] (a runtime under test), and
//! [`conformance_suite!`] turns the whole list into one `#[tokio::test]` per case. The crate's
//! `tests/embedded.rs` runs it on the embedded log, `tests/kafka.rs` on a real broker.
//!
//! Main items:
//! * [`Fixture`], with [`EmbeddedFixture`] (temporary directory per case) and [`KafkaFixture`]
//!   (the broker in `AISLE_TEST_KAFKA`);
//! * [`conformance_suite!`] and the cases in [`conformance`];
//! * helpers for component tests: [`temp_embedded_log`], [`kafka_bootstrap`], [`read_all`],
//!   [`poll_until`], [`rand_topic`] / [`rand_group`] / [`rand_transactional_id`];
//! * [`known_keys::KNOWN_KEYS`]: partitions computed by Kafka's Java client for known keys.
//!
//! # Example
//!
//! A component test with an embedded log in a temporary directory:
//!
//! ```
//! use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
//! use aisle_testkit::{rand_topic, read_all, temp_embedded_log};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! let log = temp_embedded_log()?;
//! let topic = rand_topic("example");
//! log.create_topic(&TopicSpec::new(&topic, 2)).await?;
//! let producer = log.producer(&ProducerConfig::default())?;
//! producer.send(ProduceRecord::new(&topic).key("cup").value("1")).await?.await?;
//! let records = read_all(&*log, &topic).await?;
//! assert_eq!(records.len(), 1);
//! assert_eq!(records[0].partition, aisle_log::partition_for_key(b"cup", 2));
//! # Ok(())
//! # }
//! ```
//!
//! And the whole suite against a runtime (in a `tests/*.rs` file; needs `tokio` and `anyhow`
//! as dev-dependencies):
//!
//! ```ignore
//! aisle_testkit::conformance_suite!(Some(aisle_testkit::EmbeddedFixture::new()));
//! ```
//!
//! # Layout
//! * `fixture.rs`: [`Fixture`] and the embedded and Kafka fixtures (features `embedded`, `kafka`).
//! * `conformance/`: the cases, one module per area (`produce`, `consume`, `admin`, `groups`,
//!   `compaction`, `transactions`).
//! * `known_keys.rs`: the murmur2 placement table generated with kafka-clients.
//! * `read.rs`: draining topics and polling with deadlines.
//! * `names.rs`: random topic, group and transactional-id names.
//! * `registry.rs`: [`local_registry`], a schema registry over a log's `_schemas`.

pub mod conformance;
mod fixture;
pub mod known_keys;
mod names;
mod read;
mod registry;
mod shared;

#[cfg(feature = "embedded")]
pub use fixture::{EmbeddedFixture, TempEmbeddedLog, temp_embedded_log};
pub use fixture::{Fixture, ROLL_KEY};
#[cfg(feature = "kafka")]
pub use fixture::{KafkaFixture, kafka_bootstrap};
pub use names::{rand_group, rand_suffix, rand_topic, rand_transactional_id};
pub use read::{
    DEFAULT_WAIT, POLL_STEP, poll_count, poll_until, read_all, read_all_with, values,
    wait_for_assignment,
};
pub use registry::local_registry;
pub use shared::{detector_setup, m5_data_dir, onnx_runtime, required, shared_dir, vision_dir};

/// Expands to one `#[tokio::test(flavor = "multi_thread")]` per conformance case, each a
/// separately reported test named after its case.
///
/// The argument is an expression of type `Option<F>` where `F: Fixture`, evaluated afresh inside
/// each test (so each case gets its own fixture); `None` skips the case (it passes). The calling
/// crate needs `tokio` (with `macros` and `rt-multi-thread`) as a dependency.
///
/// ```ignore
/// aisle_testkit::conformance_suite!(aisle_testkit::KafkaFixture::from_env());
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($fixture:expr) => {
        $crate::conformance_suite!(@cases $fixture;
            per_partition_order_under_concurrent_sends,
            murmur2_placement_matches_java,
            explicit_partition,
            round_trip_headers_timestamps_tombstones_empty_keys,
            send_batch_matches_send,
            watermarks,
            seek_to_beginning_end_and_offset,
            is_caught_up_at_the_end,
            topic_admin,
            unknown_topic,
            group_resumes_from_committed_offsets,
            group_members_split_partitions_and_take_over,
            compaction_keeps_latest_value_and_honours_tombstones,
            aborted_transactions_are_invisible_to_read_committed,
            committed_transaction_is_visible_together_exactly_once,
            read_process_write_is_exactly_once_across_a_crash,
            zombie_transactional_producer_is_fenced,
        );
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() -> $crate::conformance::CaseResult {
                let Some(fixture) = $fixture else { return Ok(()) };
                $crate::conformance::$case(&fixture).await
            }
        )*
        /// The macro's list and [`conformance::CASES`] must not drift apart.
        #[test]
        fn conformance_suite_runs_every_case() {
            let declared: &[&str] = &[$(stringify!($case)),*];
            assert_eq!(declared, $crate::conformance::CASES);
        }
    };
}
