//! Fault test on a real 3-broker cluster: one broker stops in the middle of `aisle replay sales`
//! and comes back; the replay finishes and the topic holds every (series, day) exactly once.
//!
//! Needs a cluster started with `scripts/kafka-up --brokers 3 --dir DIR [--port P]`:
//! `AISLE_TEST_KAFKA_CLUSTER=<bootstrap>` and `AISLE_TEST_KAFKA_CLUSTER_DIR=DIR`. Skipped without
//! them, unless `AISLE_REQUIRE_KAFKA_CLUSTER=1`.

use aisle_events::{Event, SalesRecord};
use aisle_log::{Isolation, Log, TopicPartition, TopicSpec};
use aisle_log_kafka::{KafkaConfig, KafkaLog};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Days replayed, paced at [`SPEED`] days per second per store: ~12 s of replay, so the broker
/// stops and restarts while records are still flowing.
const DAYS: usize = 24;
const SPEED: &str = "2";

pub(crate) fn cluster() -> Option<(String, PathBuf)> {
    let bootstrap = std::env::var("AISLE_TEST_KAFKA_CLUSTER")
        .ok()
        .filter(|s| !s.is_empty());
    let dir = std::env::var("AISLE_TEST_KAFKA_CLUSTER_DIR")
        .ok()
        .filter(|s| !s.is_empty());
    match (bootstrap, dir) {
        (Some(b), Some(d)) => Some((b, PathBuf::from(d))),
        _ => {
            assert!(
                !aisle_testkit::required("AISLE_REQUIRE_KAFKA_CLUSTER"),
                "AISLE_REQUIRE_KAFKA_CLUSTER=1 but AISLE_TEST_KAFKA_CLUSTER(_DIR) are unset"
            );
            println!("skipped: set AISLE_TEST_KAFKA_CLUSTER and AISLE_TEST_KAFKA_CLUSTER_DIR");
            None
        }
    }
}

async fn read(log: &KafkaLog, topic: &str, isolation: Isolation) -> Vec<aisle_log::Record> {
    aisle_testkit::read_all_with(log, topic, isolation, Duration::from_secs(60))
        .await
        .unwrap()
}

/// Replayed records carry their M5 day (2011–2016) as timestamp: a topic with the broker's
/// default time retention (7 days) would lose them at the broker's next retention check, which
/// is what `aisle replay sales` and `aisle topic create --standard` prevent for `sales`
/// (`retention.ms=-1`). Tests that create their own sales topics must do the same.
pub(crate) fn sales_spec(topic: &str, partitions: i32) -> TopicSpec {
    TopicSpec::new(topic, partitions)
        .retention_ms(-1)
        .replication(3)
        .config("min.insync.replicas", "2")
}

pub(crate) fn script(name: &str, args: &[&str], dir: &PathBuf) {
    let out = Command::new(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name),
    )
    .args(args)
    .arg("--dir")
    .arg(dir)
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_broker_stops_mid_replay_and_every_record_lands_once() {
    let Some((bootstrap, dir)) = cluster() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let log = rt
        .block_on(KafkaLog::connect(KafkaConfig::new(bootstrap.clone())))
        .unwrap();
    let topic = format!("sales-fault-{}", aisle_log::now_ms());
    assert!(
        rt.block_on(log.create_topic(&sales_spec(&topic, 10)))
            .unwrap()
    );

    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("--data-dir")
        .arg(data_dir.path())
        .args([
            "--kafka",
            &bootstrap,
            "--log",
            "info",
            "replay",
            "sales",
            "--synthetic",
        ])
        .args([
            "--days",
            &DAYS.to_string(),
            "--speed",
            SPEED,
            "--topic",
            &topic,
        ])
        .env_remove("AISLE_REGISTRY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut progress = 0;
    let mut early = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        early.push(line.clone());
        if line.contains("replay progress") {
            progress += 1;
            if progress == 10 {
                break;
            }
        }
    }
    assert_eq!(
        progress,
        10,
        "the replay ended before the broker could be stopped:\n{}",
        early.join("\n")
    );
    script("kafka-down", &["--broker", "2"], &dir);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the replay finished before broker 2 was down: the fault was not exercised"
    );
    std::thread::sleep(Duration::from_secs(3));
    script("kafka-up", &["--broker", "2"], &dir);
    // Drain stderr so the child never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let out = child.wait_with_output().unwrap();
    let log_lines = drain.join().unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        log_lines.join("\n")
    );

    // What a consumer sees (`read_committed`; the replay is idempotent, not transactional, so
    // the committed view is the whole log): every (series, day) once, nothing deleted.
    let recs = rt.block_on(read(&log, &topic, Isolation::ReadCommitted));
    let mut seen = HashSet::new();
    let mut per_store = [0usize; 10];
    for r in &recs {
        let (_, datum) = aisle_events::wire::split(r.value.as_ref().unwrap()).unwrap();
        let s = SalesRecord::decode(datum).unwrap();
        assert!(
            seen.insert((s.key(), s.day)),
            "duplicate {} d_{}",
            s.key(),
            s.day
        );
        per_store[r.partition as usize] += 1;
    }
    let marks: Vec<_> = (0..10)
        .map(|p| rt.block_on(log.watermarks(&TopicPartition::new(&topic, p))))
        .collect();
    assert_eq!(
        per_store,
        [3049 * DAYS; 10],
        "records per store; watermarks {marks:?}; the replay said: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    rt.block_on(log.delete_topic(&topic)).ok();
}
