//! The conformance cases: one async fn per behaviour of the [`aisle_log`] contract, each taking a
//! [`Fixture`] so it runs unchanged against every runtime.
//!
//! Cases create their own randomly named topics and groups, wait with deadlines (see
//! [`crate::read`]), and fail with `assert!`-style messages naming the runtime, topic and offset.
//! Use [`crate::conformance_suite!`] to turn them into tests.

mod admin;
mod compaction;
mod consume;
mod groups;
mod produce;
mod transactions;

pub use admin::{topic_admin, unknown_topic};
pub use compaction::compaction_keeps_latest_value_and_honours_tombstones;
pub use consume::{is_caught_up_at_the_end, seek_to_beginning_end_and_offset, watermarks};
pub use groups::{
    group_members_split_partitions_and_take_over, group_resumes_from_committed_offsets,
};
pub use produce::{
    explicit_partition, murmur2_placement_matches_java, per_partition_order_under_concurrent_sends,
    round_trip_headers_timestamps_tombstones_empty_keys, send_batch_matches_send,
};
pub use transactions::{
    aborted_transactions_are_invisible_to_read_committed,
    committed_transaction_is_visible_together_exactly_once,
    read_process_write_is_exactly_once_across_a_crash, zombie_transactional_producer_is_fenced,
};

use crate::Fixture;
use crate::names::rand_topic;
use aisle_log::{DeliveryFuture, Log, ProduceRecord, Producer, RecordMeta, TopicSpec};

/// What a case returns: `Err` carries the whole cause chain.
pub type CaseResult = anyhow::Result<()>;

/// Every case, by name, in the order [`crate::conformance_suite!`] declares them.
pub const CASES: &[&str] = &[
    "per_partition_order_under_concurrent_sends",
    "murmur2_placement_matches_java",
    "explicit_partition",
    "round_trip_headers_timestamps_tombstones_empty_keys",
    "send_batch_matches_send",
    "watermarks",
    "seek_to_beginning_end_and_offset",
    "is_caught_up_at_the_end",
    "topic_admin",
    "unknown_topic",
    "group_resumes_from_committed_offsets",
    "group_members_split_partitions_and_take_over",
    "compaction_keeps_latest_value_and_honours_tombstones",
    "aborted_transactions_are_invisible_to_read_committed",
    "committed_transaction_is_visible_together_exactly_once",
    "read_process_write_is_exactly_once_across_a_crash",
    "zombie_transactional_producer_is_fenced",
];

/// Creates a fresh delete-policy topic named after `prefix` and returns its name.
async fn new_topic(log: &dyn Log, prefix: &str, partitions: i32) -> anyhow::Result<String> {
    let name = rand_topic(prefix);
    let created = log.create_topic(&TopicSpec::new(&name, partitions)).await?;
    anyhow::ensure!(created, "create_topic({name}) reported an existing topic");
    Ok(name)
}

/// Sends every record, then awaits every delivery: pipelined, as a real producer is used.
async fn send_all(
    producer: &dyn Producer,
    records: impl IntoIterator<Item = ProduceRecord>,
) -> anyhow::Result<Vec<RecordMeta>> {
    let mut pending: Vec<DeliveryFuture> = Vec::new();
    for rec in records {
        pending.push(producer.send(rec).await?);
    }
    let mut metas = Vec::with_capacity(pending.len());
    for d in pending {
        metas.push(d.await?);
    }
    Ok(metas)
}

/// Prefix for assertion messages: which runtime failed.
fn ctx(f: &dyn Fixture, topic: &str) -> String {
    format!("[{}] {topic}", f.name())
}
