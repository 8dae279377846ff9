//! Scale-out on a real broker (`AISLE_TEST_KAFKA`): two `aisle greenlight` processes in one
//! consumer group split a 4-partition input (and the internal repartition topic); one is killed
//! with -9 midway and never comes back. The survivor takes over its partitions, restores their
//! window state from the changelog, and the output is exactly the golden one.
//!
//! The embedded runtime's groups are in-process only (one process holds the data directory), so
//! there the same split is tested with two tasks in one process: see
//! `crates/process/greenlight/tests/embedded_group.rs`.

mod greenlight_support;

/// The `tumbling` scenario (4,512 cart objects, two stores) with a grace long enough that the
/// interleaving of four input partitions cannot make a record late: every window then closes on
/// the idle timeout with the same content as in the single-partition golden run.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_one_killed_midway_same_output() {
    greenlight_support::kafka("tumbling", false, 4, &[("grace-ms", "600000")], 2).await;
}

/// Both at once: two members, the second killed for good, the first killed twice and restarted.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_with_crashes_same_output() {
    greenlight_support::kafka("hopping", true, 4, &[("grace-ms", "600000")], 2).await;
}
