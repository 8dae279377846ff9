//! The windowed aggregate's time semantics under tokio's paused time: idle close on the wall
//! clock, the stream time as the minimum over input partitions, per-partition lateness, and a
//! restart from the changelog.

use super::*;
use aisle_log::TopicPartition;
use aisle_log::clock::{Clock, TokioClock};

const MIN: i64 = 60_000;
/// Wall-clock time at the start of every test: a whole minute.
const T0: i64 = 1_800_000_000_000;
const IDLE: Duration = Duration::from_secs(30);

/// Items counted per window.
type Items = Vec<String>;

struct Fixture {
    agg: WindowedAggregate<Items>,
    clock: TokioClock,
    /// Every window closed so far, with its items.
    closed: Vec<Closed<Items>>,
    late: Vec<Late>,
}

fn fixture(sources: i32) -> Fixture {
    let clock = TokioClock::starting_at(T0);
    let store = ChangelogStore::new(TopicPartition::new("cl", 0));
    let names = (0..sources).map(|p| format!("in/{p}")).collect();
    let spec = WindowSpec::tumbling(MIN, 10_000).unwrap();
    let agg = WindowedAggregate::restore(spec, "store", store, names, IDLE, clock.now());
    Fixture {
        agg,
        clock,
        closed: Vec::new(),
        late: Vec::new(),
    }
}

impl Fixture {
    /// A record of `item` at `ts` from partition `p`, whose time upstream is `pt`.
    fn add(&mut self, item: &str, p: i32, ts: i64, pt: i64) {
        let now = self.clock.now();
        let source = format!("in/{p}");
        let input = Input {
            key: "CA_1",
            ts,
            source: &source,
            source_time: pt,
        };
        if let Some(late) = self
            .agg
            .add(input, now, |_| Vec::new(), |a| a.push(item.into()))
        {
            self.late.push(late);
        }
        self.closed.extend(self.agg.advance(now));
    }
    fn idle(&mut self) -> usize {
        let closed = self
            .agg
            .close_idle(IDLE, self.clock.now(), self.clock.wall_ms());
        let n = closed.len();
        self.closed.extend(closed);
        n
    }
    fn caught_up(&mut self, p: i32) {
        let source = format!("in/{p}");
        let t = self.agg.watermarks().source_time(&source);
        self.agg.report(&source, t, true, self.clock.now());
    }
}

#[tokio::test(start_paused = true)]
async fn a_pause_of_30_s_keeps_the_current_window_open() {
    let mut f = fixture(1);
    // A live store: a record now, 5 s into the window [T0, T0 + 60 s).
    tokio::time::advance(Duration::from_secs(5)).await;
    f.add("cup", 0, T0 + 5_000, T0 + 5_000);
    f.caught_up(0);
    // Quiet for 30 s (the idle timeout): the window's end + grace is 40 s away on the wall clock.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(f.idle(), 0, "the current window stays open");
    // The store carts again; the pause did not cost it anything.
    f.add("cup", 0, T0 + 35_000, T0 + 35_000);
    f.caught_up(0);
    assert!(f.late.is_empty() && f.closed.is_empty());
    // Quiet again until end + grace (T0 + 70 s) has passed on the wall clock: now it closes.
    tokio::time::advance(Duration::from_secs(34)).await;
    assert_eq!(f.idle(), 0, "69 s: not yet");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(f.idle(), 1, "70 s: end + grace passed on the wall clock");
    assert_eq!(f.closed[0].agg, ["cup", "cup"], "both records counted");
    assert_eq!(f.closed[0].window.start, T0);
    assert!(f.agg.open_windows().is_empty());
}

#[tokio::test(start_paused = true)]
async fn idle_close_waits_for_partitions_that_still_have_data() {
    let mut f = fixture(2);
    tokio::time::advance(Duration::from_secs(10)).await;
    f.add("cup", 0, T0 - 10 * MIN, T0 - 10 * MIN);
    f.caught_up(0);
    // Partition 1's reader says it is busy (not caught up) at 20 s.
    tokio::time::advance(Duration::from_secs(10)).await;
    let now = f.clock.now();
    f.agg.report("in/1", T0 - 20 * MIN, false, now);
    // 40 s: quiet for 30 s, but in/1 still holds the task back.
    tokio::time::advance(Duration::from_secs(20)).await;
    assert_eq!(f.idle(), 0, "in/1 holds back");
    // 50 s: in/1 silent for max_idle (30 s): it no longer holds back; the old window closes.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(f.idle(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_slowest_partition_decides_when_windows_close() {
    let mut f = fixture(2);
    let w0 = T0 - 10 * MIN; // an old window [w0, w0 + 60 s), closed at w0 + 70 s
    // Partition 0 races ahead by five minutes; partition 1 is still in w0.
    f.add("fork", 0, w0 + 5 * MIN, w0 + 5 * MIN);
    f.add("cup", 1, w0 + 1_000, w0 + 1_000);
    assert!(
        f.closed.is_empty(),
        "w0 is still open: partition 1 is at w0 + 1 s"
    );
    f.add("cup", 1, w0 + 30_000, w0 + 30_000);
    // Partition 0's own record for w0 is late: *its* partition had passed end + grace.
    f.add("spoon", 0, w0 + 2_000, w0 + 5 * MIN);
    assert_eq!(f.late.len(), 1);
    assert_eq!(f.late[0].closed_by, w0 + 5 * MIN);
    assert!(
        f.late[0].reason.contains("its partition in/0"),
        "{}",
        f.late[0].reason
    );
    // Partition 1 passes w0's end + grace: w0 closes with both cups and not the late spoon.
    f.add("cup", 1, w0 + 70_000, w0 + 70_000);
    assert_eq!(f.closed.len(), 1);
    assert_eq!(f.closed[0].agg, ["cup", "cup"]);
    assert_eq!(f.agg.watermarks().current(), w0 + 70_000);
}

#[tokio::test(start_paused = true)]
async fn a_restarted_task_resumes_its_windows_and_progress() {
    let mut f = fixture(1);
    f.add("cup", 0, T0 + 1_000, T0 + 1_000);
    f.add("fork", 0, T0 + 2_000, T0 + 2_000);
    let changes = f.agg.drain_changes().unwrap();
    // The restored store: the changelog's last value per key, as a restore would read it.
    let mut store = ChangelogStore::new(TopicPartition::new("cl", 0));
    for r in &changes {
        let key = std::str::from_utf8(r.key.as_ref().unwrap()).unwrap();
        match &r.value {
            Some(v) => store.put(key, serde_json::from_slice(v).unwrap()),
            None => {
                store.delete(key);
            }
        }
    }
    let spec = f.agg.spec();
    let mut again = WindowedAggregate::<Items>::restore(
        spec,
        "store",
        store,
        vec!["in/0".into()],
        IDLE,
        f.clock.now(),
    );
    assert_eq!(again.watermarks().source_time("in/0"), T0 + 2_000);
    assert_eq!(again.open_windows(), f.agg.open_windows());
    // A record older than the partition's time but in the open window still counts.
    let input = Input {
        key: "CA_1",
        ts: T0 + 1_500,
        source: "in/0",
        source_time: T0 + 1_500,
    };
    assert!(
        again
            .add(
                input,
                f.clock.now(),
                |_| Vec::new(),
                |a| a.push("spoon".into())
            )
            .is_none()
    );
    let closed = again.close_idle(IDLE, f.clock.now() + IDLE, T0 + 70_000);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].agg, ["cup", "fork", "spoon"]);
}

#[test]
fn window_keys_round_trip() {
    let k = window_key("CA_1", -60_000);
    assert_eq!(parse_window_key(&k), Some(("CA_1", -60_000)));
    assert_eq!(parse_window_key(TASK_KEY), None);
}
