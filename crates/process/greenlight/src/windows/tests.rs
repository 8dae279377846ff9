//! The window stage's time semantics under tokio's paused time: idle close on the wall clock,
//! the stream time as the minimum over input partitions, per-partition lateness.

use super::*;
use crate::window_state::Joined;
use aisle_log::TopicPartition;
use aisle_log::{Log, TopicSpec};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_streams::{SharedClock, TableFeed, TokioClock, VersionedTable};
use std::sync::Arc;

const MIN: i64 = 60_000;
/// Wall-clock time at the start of every test: a whole minute.
const T0: i64 = 1_800_000_000_000;

struct Fixture {
    task: WindowTask,
    table: TableJoin<Inventory>,
    clock: SharedClock,
    spec: WindowSpec,
    _dir: tempfile::TempDir,
}

const RULE: Rule = Rule {
    min_count: 1,
    require_stock: true,
};

fn outputs() -> Outputs {
    Outputs {
        windowed_items: "wi".into(),
        specials: "sp".into(),
        late: "late".into(),
        windowed_item_id: 1,
        special_id: 2,
    }
}

async fn fixture(sources: i32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn Log> =
        Arc::new(EmbeddedLog::open(dir.path(), EmbeddedConfig::default()).unwrap());
    log.create_topic(&TopicSpec::new("inv", 1)).await.unwrap();
    let clock: SharedClock = Arc::new(TokioClock::starting_at(T0));
    let mut table = VersionedTable::new(600_000);
    let decode: Arc<aisle_streams::TableDecoder<Inventory>> = Arc::new(|_| Ok(None));
    let feed = TableFeed::restore(&*log, "inv", "test", decode, &mut table, &clock)
        .await
        .unwrap();
    let table = TableJoin::new(table, feed, Duration::from_secs(1), clock.clone(), "test");
    let store = ChangelogStore::new(TopicPartition::new("cl", 0));
    let names = (0..sources).map(|p| format!("in/{p}")).collect();
    let task = WindowTask::restore(store, names, Duration::from_secs(30), clock.now());
    Fixture {
        task,
        table,
        clock,
        spec: WindowSpec::tumbling(MIN, 10_000).unwrap(),
        _dir: dir,
    }
}

fn rec(partition: i32, offset: i64) -> Record {
    Record {
        topic: "in".into(),
        partition,
        offset,
        timestamp: 0,
        key: None,
        value: None,
        headers: Vec::new(),
    }
}

fn joined(item: &str, partition: i32, ts: i64, partition_time: i64) -> Joined {
    Joined {
        store: "CA_1".into(),
        item: item.into(),
        ts,
        matched: false,
        upsell: None,
        stock: None,
        source: String::new(),
        partition: format!("in/{partition}"),
        partition_time,
    }
}

impl Fixture {
    fn add(&mut self, j: Joined, out: &mut Vec<ProduceRecord>) {
        let r = rec(0, 0);
        let now = self.clock.now();
        self.task.add(self.spec, &r, &j, now, "late", out);
        self.task
            .advance(self.spec, RULE, now, &self.table, &outputs(), out)
            .unwrap();
    }
    fn idle(&mut self, out: &mut Vec<ProduceRecord>) -> usize {
        let (now, wall) = (self.clock.now(), self.clock.wall_ms());
        self.task
            .close_idle(
                self.spec,
                RULE,
                Duration::from_secs(30),
                now,
                wall,
                &self.table,
                &outputs(),
                out,
            )
            .unwrap()
    }
    fn caught_up(&mut self, partition: i32) {
        let now = self.clock.now();
        let t = self.task.wm.source_time(&format!("in/{partition}"));
        self.task
            .wm
            .report(&format!("in/{partition}"), t, true, now);
    }
}

fn topics(out: &[ProduceRecord]) -> Vec<&str> {
    out.iter().map(|r| r.topic.as_str()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_pause_of_30_s_keeps_the_current_window_open() {
    let mut f = fixture(1).await;
    let mut out = Vec::new();
    // A live store: a cart object now, 5 s into the window [T0, T0 + 60 s).
    tokio::time::advance(Duration::from_secs(5)).await;
    f.add(joined("cup", 0, T0 + 5_000, T0 + 5_000), &mut out);
    f.caught_up(0);
    // Quiet for 30 s (the idle timeout): the window's end + grace is 40 s away on the wall clock.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(f.idle(&mut out), 0, "the current window stays open");
    // The store carts again; the pause did not cost it anything.
    f.add(joined("cup", 0, T0 + 35_000, T0 + 35_000), &mut out);
    f.caught_up(0);
    assert!(
        out.is_empty(),
        "nothing late, nothing closed: {:?}",
        topics(&out)
    );
    // Quiet again until end + grace (T0 + 70 s) has passed on the wall clock: now it closes.
    tokio::time::advance(Duration::from_secs(34)).await;
    assert_eq!(f.idle(&mut out), 0, "69 s: not yet");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        f.idle(&mut out),
        1,
        "70 s: end + grace passed on the wall clock"
    );
    assert_eq!(
        topics(&out),
        ["wi"],
        "one item, no special (cup is unmatched)"
    );
    assert!(f.task.open_windows().is_empty());
}

#[tokio::test(start_paused = true)]
async fn idle_close_waits_for_partitions_that_still_have_data() {
    let mut f = fixture(2).await;
    let mut out = Vec::new();
    tokio::time::advance(Duration::from_secs(10)).await;
    f.add(joined("cup", 0, T0 - 10 * MIN, T0 - 10 * MIN), &mut out);
    f.caught_up(0);
    // Partition 1's reader says it is busy (not caught up) at 20 s.
    tokio::time::advance(Duration::from_secs(10)).await;
    let now = f.clock.now();
    f.task.wm.report("in/1", T0 - 20 * MIN, false, now);
    // 40 s: quiet for 30 s, but in/1 still holds the task back.
    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(f.idle(&mut out), 0, "in/1 holds back");
    // 50 s: in/1 silent for max_idle (30 s): it no longer holds back; the old window closes.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(f.idle(&mut out), 1);
}

#[tokio::test(start_paused = true)]
async fn the_slowest_partition_decides_when_windows_close() {
    let mut f = fixture(2).await;
    let mut out = Vec::new();
    let w0 = T0 - 10 * MIN; // an old window [w0, w0 + 60 s), closed at w0 + 70 s
    // Partition 0 races ahead by five minutes; partition 1 is still in w0.
    f.add(joined("fork", 0, w0 + 5 * MIN, w0 + 5 * MIN), &mut out);
    f.add(joined("cup", 1, w0 + 1_000, w0 + 1_000), &mut out);
    assert!(
        out.is_empty(),
        "w0 is still open: partition 1 is at w0 + 1 s"
    );
    f.add(joined("cup", 1, w0 + 30_000, w0 + 30_000), &mut out);
    // Partition 0's own record for w0 is late: *its* partition had passed end + grace.
    f.add(joined("spoon", 0, w0 + 2_000, w0 + 5 * MIN), &mut out);
    assert_eq!(topics(&out), ["late"]);
    // Partition 1 passes w0's end + grace: w0 closes with both cups and not the late spoon.
    f.add(joined("cup", 1, w0 + 70_000, w0 + 70_000), &mut out);
    assert_eq!(topics(&out), ["late", "wi"]);
    let key = String::from_utf8(out[1].key.clone().unwrap().to_vec()).unwrap();
    assert!(key.contains("cup"), "{key}");
    assert_eq!(f.task.wm.current(), w0 + 70_000);
}
