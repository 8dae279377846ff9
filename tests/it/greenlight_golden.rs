//! Golden scenarios of the Green Light Special, through the `aisle greenlight` binary, on the
//! embedded runtime and on a real broker (`AISLE_TEST_KAFKA`): each file under
//! `tests/golden/greenlight/` gives inventory changes and timestamped cart objects and the exact
//! `windowed_items`, `green_light_specials` and late records expected. The `crash_*` variants
//! kill -9 the process twice at random points and restart it with the same instance id: the
//! output must be identical — nothing lost, nothing twice.

use crate::greenlight_support::*;
use aisle_log::Log;
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
use rand::Rng;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Long enough for the idle timeout (2 s in every scenario) to close the last windows.
const EMBEDDED_RUN_SECS: &str = "5";

fn open_embedded(dir: &Path) -> Arc<dyn Log> {
    Arc::new(EmbeddedLog::open(dir, EmbeddedConfig::default()).unwrap())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn embedded(name: &str, crash: bool) {
    let s = load(name);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stderr = dir.path().join("greenlight.log");
    let names = Names::new("gl");
    let rt = rt();
    rt.block_on(async {
        let log = open_embedded(&data);
        let store = SchemaStore::open(log.clone()).await.unwrap();
        let registry: Arc<dyn SchemaRegistry> = Arc::new(LocalRegistry::new(store));
        produce(&log, &registry, &s, &names, 1).await;
    });
    let global = data_dir_args(&data);
    if crash {
        let mut rng = rand::rng();
        for _ in 0..2 {
            let mut child = greenlight_cmd(&global, &s, &names, "a", &stderr)
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(rng.random_range(200..2_500)));
            kill9(&mut child);
        }
    }
    let mut cmd = greenlight_cmd(&global, &s, &names, "a", &stderr);
    cmd.args(["--duration", EMBEDDED_RUN_SECS]);
    run_to_end(cmd, &stderr);
    let got = rt.block_on(async {
        let log = open_embedded(&data);
        read_outputs(&log, &names).await
    });
    assert_eq!(got.dlq, 0, "no cart object is bad");
    assert_eq!(
        got,
        Outputs::expected(&s),
        "scenario {name}: {}",
        s.description
    );
}

macro_rules! golden {
    ($($name:ident),*) => {
        mod embedded_golden { $( #[test] fn $name() { super::embedded(stringify!($name), false); } )* }
        mod embedded_crash { $( #[test] fn $name() { super::embedded(stringify!($name), true); } )* }
        mod kafka_golden { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::kafka(stringify!($name), false, 1, &[], 1).await; } )* }
        mod kafka_crash { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::kafka(stringify!($name), true, 1, &[], 1).await; } )* }
    };
}

golden!(
    tumbling,
    hopping,
    grace_late,
    unmatched,
    inventory_update,
    idle_close,
    rule
);

#[test]
fn every_golden_file_has_a_test() {
    assert_eq!(
        all(),
        [
            "grace_late",
            "hopping",
            "idle_close",
            "inventory_update",
            "rule",
            "tumbling",
            "unmatched"
        ]
    );
}

/// A stock update after the detections that joined the old row: they need the old version.
fn stock_update() -> Scenario {
    let row = |name: &str, upsell: &str, count: i32| json!({"name": name, "upsell_item": upsell, "count": count});
    serde_json::from_value(json!({
        "description": "fork carted at 10 s joins the row of -600 s (stock 200); the row changes at 40 s",
        "flags": {"window-ms": 60000, "grace-ms": 10000, "idle-timeout-ms": 2000},
        "input": [
            {"at": -600000, "inventory": row("fork", "spoon", 200)},
            {"at": -600000, "inventory": row("spoon", "fork", 10)},
            {"at": 10000, "cart": "fork", "store": "CA_1", "repeat": 3},
            {"at": 20000, "cart": "spoon", "store": "CA_1"},
            {"at": 40000, "inventory": row("fork", "spoon", 150)},
            {"at": 45000, "inventory": row("spoon", "fork", 0)},
        ],
        "expected": {"windowed_items": [], "green_light_specials": [], "late": []}
    }))
    .unwrap()
}

/// Runs `s` on a fresh embedded data dir. `lag`: the inventory topic is written in small
/// segments with this `min.compaction.lag.ms` and compacted before greenlight starts (`None`: no
/// compaction). `crash`: greenlight is killed (-9) twice before the run that finishes.
fn run_compacted(s: &Scenario, lag: Option<i64>, crash: bool) -> Outputs {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stderr = dir.path().join("greenlight.log");
    let names = Names::new("glc");
    let rt = rt();
    rt.block_on(async {
        let log = Arc::new(EmbeddedLog::open(&data, EmbeddedConfig::default()).unwrap());
        if let Some(lag) = lag {
            let mut spec = aisle_log::TopicSpec::new(&names.inventory, 1)
                .cleanup(aisle_log::CleanupPolicy::Compact);
            spec.configs.insert("segment.bytes".into(), "1024".into());
            spec.configs
                .insert("min.compaction.lag.ms".into(), lag.to_string());
            log.create_topic(&spec).await.unwrap();
        }
        let dyn_log: Arc<dyn Log> = log.clone();
        let store = SchemaStore::open(dyn_log.clone()).await.unwrap();
        let registry: Arc<dyn SchemaRegistry> = Arc::new(LocalRegistry::new(store));
        produce(&dyn_log, &registry, s, &names, 1).await;
        if lag.is_some() {
            // Tombstones of other keys seal the segments holding the versions.
            let producer = log.producer(&aisle_log::ProducerConfig::default()).unwrap();
            for i in 0..40 {
                let r = aisle_log::ProduceRecord::new(names.inventory.as_str())
                    .key(format!("filler-{i}"));
                producer.send(r).await.unwrap().await.unwrap();
            }
            log.compact_now(&names.inventory).await.unwrap();
        }
    });
    let global = data_dir_args(&data);
    if crash {
        let mut rng = rand::rng();
        for _ in 0..2 {
            let mut child = greenlight_cmd(&global, s, &names, "a", &stderr)
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(rng.random_range(200..2_500)));
            kill9(&mut child);
        }
    }
    let mut cmd = greenlight_cmd(&global, s, &names, "a", &stderr);
    cmd.args(["--duration", EMBEDDED_RUN_SECS]);
    run_to_end(cmd, &stderr);
    rt.block_on(async {
        let log = open_embedded(&data);
        read_outputs(&log, &names).await
    })
}

/// Versioned table that survives compaction: produce → compact → kill -9 → restart gives the
/// same joins as an uninterrupted run, because Aisle's inventory topic keeps superseded
/// versions for the table history (`min.compaction.lag.ms`, KIP-889's way). The control:
/// without the lag, compaction removes the version the early detections joined, and the output
/// changes (this test's power).
#[test]
fn compacted_inventory_joins_like_an_uninterrupted_run() {
    let s = stock_update();
    let uninterrupted = run_compacted(&s, None, false);
    let fork = uninterrupted
        .windowed_items
        .iter()
        .find(|w| w["item"] == "fork")
        .expect("fork was counted");
    assert_eq!(fork["matched"], true, "{fork}");
    // The scenario's event times are an hour ago: a lag of two hours covers them.
    let compacted = run_compacted(&s, Some(7_200_000), true);
    assert_eq!(
        compacted, uninterrupted,
        "same joins after compaction and kill -9"
    );
    let control = run_compacted(&s, Some(0), false);
    assert_ne!(
        control, uninterrupted,
        "without the lag compaction changes the joins"
    );
}
