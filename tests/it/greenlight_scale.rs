//! Scale-out on a real broker (`AISLE_TEST_KAFKA`): two or three `aisle greenlight` processes in
//! one consumer group split a 4-partition input (and the internal repartition topic); one is
//! killed with -9 midway and never comes back. The survivors take over its partitions, restore
//! their window state from the changelog, and the output is exactly the golden one — with the
//! scenarios' own grace (10 s, or 0 for `hopping`): the stream time is the minimum over the input
//! partitions, and a dead member's partitions hold it back until they are taken over, so the
//! interleaving of partitions and members cannot make a record late.
//!
//! The embedded runtime's groups are in-process only (one process holds the data directory), so
//! there the same split is tested with two tasks in one process: see
//! `crates/process/greenlight/tests/embedded_group.rs`.

/// The `tumbling` scenario (4,512 cart objects, two stores).
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_one_killed_midway_same_output() {
    crate::greenlight_support::kafka("tumbling", false, 4, &[], 2).await;
}

/// Both at once: two members, the second killed for good, the first killed twice and restarted.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_with_crashes_same_output() {
    crate::greenlight_support::kafka("hopping", true, 4, &[], 2).await;
}

/// Three members (one killed for good), the default grace of 10 s.
///
/// Lateness is decided per input partition (a record is late when *its* partition had passed
/// the window's end + grace), so a scenario whose late record depends on another item's
/// partition (`grace_late`) has a different — still deterministic — answer on 4 partitions than
/// on 1; `tumbling` has the same on both.
#[tokio::test(flavor = "multi_thread")]
async fn three_instances_same_output_as_one() {
    crate::greenlight_support::kafka("tumbling", false, 4, &[], 3).await;
}
