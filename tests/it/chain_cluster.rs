//! A chain of 100 stores on a real 3-broker cluster (`scripts/kafka-up --brokers 3`; skipped
//! without `AISLE_TEST_KAFKA_CLUSTER(_DIR)`, unless `AISLE_REQUIRE_KAFKA_CLUSTER=1`).
//!
//! Every component runs as its own `aisle` process, live, all at once: the synthetic replay of
//! 100 stores × 7 items × 35 days (24,500 sales on 10 partitions: ten stores per partition),
//! two camera simulators spreading 3,000 cart objects each over the 100 stores, two greenlight
//! instances and two forecasters, each pair one consumer group, all behind one schema registry.
//! Midway the replay, one greenlight and one forecaster are killed with -9 (the replay is then
//! run again, the two others restarted with their instance ids), and broker 2 is stopped for a
//! few seconds and started again.
//!
//! Then: `sales` holds every (series, day) exactly once; the forecasters published each
//! (series, first day) at most once and, for every one of the 700 series, the forecast from
//! d_36 a single `forecast run --once` instance computes from the same topic; greenlight's
//! windows count every cart object once (nothing late, nothing lost) and equal, window by
//! window, what a single greenlight instance writes from the same input.
//!
//! Size: the CI size. The full 100-store chain (3,049 items per store) is the same commands
//! with `--items-per-store 3049`; its cost is in BENCHMARKS.md.

use crate::greenlight_support::{Children, Names, kafka_registry, kill9, read_outputs};
use crate::replay_fault::{cluster, sales_spec, script};
use aisle_events::{Event, SalesForecast, SalesRecord, wire};
use aisle_log::{CleanupPolicy, Isolation, Log, TopicPartition, TopicSpec};
use aisle_log_kafka::{KafkaConfig, KafkaLog};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const STORES: usize = 100;
const ITEMS: usize = 7;
const DAYS: i32 = 35;
const CARTS_PER_SIM: usize = 3_000;
/// Greenlight settings of both runs: tumbling 5 s windows, a grace and idle timeout longer
/// than any outage this test causes (so no window closes early on a paused member).
const GREENLIGHT: [&str; 8] = [
    "--window-ms",
    "5000",
    "--grace-ms",
    "15000",
    "--idle-timeout-ms",
    "20000",
    "--max-idle-ms",
    "30000",
];

/// How one run names its processes' files and topics.
struct Chain {
    global: Vec<String>,
    logs: PathBuf,
    sales: String,
    forecasts: String,
    greenlight: Names,
}

impl Chain {
    /// An `aisle` command with the cluster, registry and a data directory; stderr appended to
    /// `logs/<name>.log`.
    fn aisle(&self, name: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file(name))
            .unwrap();
        cmd.args(&self.global)
            .arg("--data-dir")
            .arg(self.logs.join(format!("data-{name}")))
            .args(args)
            .env("AISLE_LOG", "info,rdkafka=warn")
            .env("AISLE_CAMERA__TOPIC", &self.greenlight.input)
            .stdout(Stdio::null())
            .stderr(log);
        cmd
    }

    fn log_file(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    fn logs_of(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(self.log_file(n)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                format!(
                    "--- {n} (last lines) ---\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn spawn(&self, name: &str, args: &[&str]) -> Child {
        self.aisle(name, args).spawn().unwrap()
    }

    fn replay(&self, speed: &str) -> Command {
        let (stores, items, days) = (STORES.to_string(), ITEMS.to_string(), DAYS.to_string());
        self.aisle(
            "replay",
            &[
                "replay",
                "sales",
                "--synthetic",
                "--chain-stores",
                &stores,
                "--items-per-store",
                &items,
                "--days",
                &days,
                "--partitions",
                "10",
                "--topic",
                &self.sales,
                "--speed",
                speed,
            ],
        )
    }

    fn forecaster(&self, group: &str, output: &str, instance: &str, once: bool) -> Command {
        let mut args = vec![
            "forecast",
            "run",
            "--topic",
            &self.sales,
            "--output",
            output,
            "--group",
            group,
            "--instance-id",
            instance,
        ];
        if once {
            args.push("--once");
        }
        self.aisle(&format!("forecast-{group}-{instance}"), &args)
    }

    fn greenlight(&self, names: &Names, instance: &str) -> Command {
        let mut args = vec![
            "greenlight",
            "--input",
            &names.input,
            "--inventory",
            &names.inventory,
            "--windowed-items",
            &names.windowed_items,
            "--specials",
            &names.specials,
            "--application-id",
            &names.app,
            "--instance-id",
            instance,
        ];
        args.extend(GREENLIGHT);
        self.aisle(&format!("greenlight-{}-{instance}", names.app), &args)
    }
}

async fn create(log: &dyn Log, spec: TopicSpec) {
    let spec = spec.replication(3).config("min.insync.replicas", "2");
    log.create_topic(&spec).await.unwrap();
}

async fn read(log: &dyn Log, topic: &str, isolation: Isolation) -> Vec<aisle_log::Record> {
    aisle_testkit::read_all_with(log, topic, isolation, Duration::from_secs(60))
        .await
        .unwrap()
}

async fn total(log: &dyn Log, topic: &str, partitions: i32) -> i64 {
    let mut n = 0;
    for p in 0..partitions {
        n += log
            .watermarks(&TopicPartition::new(topic, p))
            .await
            .map_or(0, |(_, high)| high);
    }
    n
}

/// Every forecast of `topic`: the latest per series, and whether any (series, first day) came
/// twice.
async fn forecasts(log: &dyn Log, topic: &str) -> (BTreeMap<String, SalesForecast>, Vec<String>) {
    let mut latest = BTreeMap::new();
    let (mut seen, mut twice) = (HashSet::new(), Vec::new());
    for r in read(log, topic, Isolation::ReadCommitted).await {
        let (_, datum) = wire::split(r.value.as_deref().unwrap()).unwrap();
        let f = SalesForecast::decode(datum).unwrap();
        if !seen.insert((f.id.clone(), f.first_day)) {
            twice.push(format!("{} d_{}", f.id, f.first_day));
        }
        latest.insert(f.id.clone(), f);
    }
    (latest, twice)
}

/// How many series have each first forecast day (for failure messages).
fn first_days(latest: &BTreeMap<String, SalesForecast>) -> BTreeMap<i32, usize> {
    let mut days = BTreeMap::new();
    for f in latest.values() {
        *days.entry(f.first_day).or_insert(0) += 1;
    }
    days
}

fn complete(latest: &BTreeMap<String, SalesForecast>) -> bool {
    latest.len() == STORES * ITEMS && latest.values().all(|f| f.first_day == DAYS + 1)
}

/// Waits (polling every 500 ms, up to `within`) until `done` holds, else fails with `what`.
async fn until<F, Fut>(within: Duration, what: impl Fn() -> String, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "after {within:?}: {}", what());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Sum of the windowed counts and the number of late records of a greenlight run.
async fn counted(log: &Arc<dyn Log>, names: &Names) -> (i64, usize) {
    let o = read_outputs(log, names).await;
    let n = o
        .windowed_items
        .iter()
        .map(|w| w["count"].as_i64().unwrap())
        .sum();
    (n, o.late.len())
}

#[test]
fn a_chain_of_100_stores_survives_kill_9_and_a_broker_stop() {
    let Some((bootstrap, dir)) = cluster() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(chain(bootstrap, dir));
}

async fn chain(bootstrap: String, dir: PathBuf) {
    let log: Arc<dyn Log> = Arc::new(
        KafkaLog::connect(KafkaConfig::new(bootstrap.clone()))
            .await
            .unwrap(),
    );
    let (url, _registry) = kafka_registry(log.clone()).await;
    let logs = tempfile::tempdir().unwrap();
    let sfx = aisle_testkit::rand_suffix(6);
    let c = Chain {
        global: vec!["--kafka".into(), bootstrap, "--registry".into(), url],
        logs: logs.path().to_path_buf(),
        sales: format!("chain-sales-{sfx}"),
        forecasts: format!("chain-forecasts-{sfx}"),
        greenlight: Names::new("chain"),
    };
    let g = &c.greenlight;
    log.create_topic(&sales_spec(&c.sales, 10)).await.unwrap();
    create(&*log, TopicSpec::new(&g.input, 4)).await;
    create(
        &*log,
        TopicSpec::new(&g.inventory, 1).cleanup(CleanupPolicy::Compact),
    )
    .await;
    let fc_group = format!("chain-fc-{sfx}");

    // Everything at once.
    let mut procs = Children(Vec::new());
    for i in ["a", "b"] {
        procs.0.push(
            c.forecaster(&fc_group, &c.forecasts, i, false)
                .spawn()
                .unwrap(),
        );
    }
    for i in ["a", "b"] {
        procs.0.push(c.greenlight(g, i).spawn().unwrap());
    }
    let (stores, count) = (STORES.to_string(), CARTS_PER_SIM.to_string());
    let mut sims: Vec<Child> = ["1", "2"]
        .iter()
        .map(|seed| {
            c.spawn(
                &format!("camera-{seed}"),
                &[
                    "camera", "simulate", "--stores", &stores, "--count", &count, "--rate", "300",
                    "--seed", seed,
                ],
            )
        })
        .collect();
    let mut replay = c.replay("5").spawn().unwrap();
    let sales_total = (STORES * ITEMS) as i64 * i64::from(DAYS);

    // Kill -9 the replay a third of the way, a greenlight and a forecaster right after.
    let every = || c.logs_of(&["replay", "camera-1", &format!("forecast-{fc_group}-b")]);
    until(
        Duration::from_secs(120),
        || format!("the replay made no progress\n{}", every()),
        || async { total(&*log, &c.sales, 10).await >= sales_total / 3 },
    )
    .await;
    kill9(&mut replay);
    kill9(&mut procs.0[1]); // forecaster b
    kill9(&mut procs.0[3]); // greenlight b
    assert!(
        total(&*log, &c.sales, 10).await < sales_total,
        "the replay ended before it was killed: the fault was not exercised"
    );
    // One broker down while everything restarts and runs on.
    script("kafka-down", &["--broker", "2"], &dir);
    procs.0[1] = c
        .forecaster(&fc_group, &c.forecasts, "b", false)
        .spawn()
        .unwrap();
    procs.0[3] = c.greenlight(g, "b").spawn().unwrap();
    let rerun = tokio::task::spawn_blocking({
        let mut cmd = c.replay("max");
        move || cmd.status().unwrap()
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    script("kafka-up", &["--broker", "2"], &dir);
    let status = rerun.await.unwrap();
    assert!(
        status.success(),
        "replay rerun: {status}\n{}",
        c.logs_of(&["replay"])
    );
    for (i, s) in sims.iter_mut().enumerate() {
        let status = s.wait().unwrap();
        assert!(
            status.success(),
            "camera simulator {}: {status}\n{}",
            i + 1,
            c.logs_of(&["camera-1", "camera-2"])
        );
    }

    // `sales`: every (series, day) once, as consumers see it.
    let recs = read(&*log, &c.sales, Isolation::ReadCommitted).await;
    let mut seen = HashSet::new();
    for r in &recs {
        let (_, datum) = wire::split(r.value.as_deref().unwrap()).unwrap();
        let s = SalesRecord::decode(datum).unwrap();
        let store = aisle_events::topics::chain_store_index(&s.store_id).unwrap();
        assert_eq!(
            r.partition as usize,
            store % 10,
            "{} on partition {}",
            s.store_id,
            r.partition
        );
        assert!(
            seen.insert((s.key(), s.day)),
            "{} d_{} twice",
            s.key(),
            s.day
        );
    }
    let mut marks = Vec::new();
    for p in 0..10 {
        marks.push(log.watermarks(&TopicPartition::new(&c.sales, p)).await);
    }
    assert_eq!(recs.len() as i64, sales_total, "watermarks {marks:?}");

    // Forecasts: every series from d_36, none published twice.
    let fc_logs = || {
        c.logs_of(&[
            &format!("forecast-{fc_group}-a"),
            &format!("forecast-{fc_group}-b"),
        ])
    };
    until(
        Duration::from_secs(240),
        || format!("forecasts incomplete\n{}", fc_logs()),
        || async { complete(&forecasts(&*log, &c.forecasts).await.0) },
    )
    .await;
    // Greenlight: every cart object counted once.
    let carts = 2 * CARTS_PER_SIM as i64;
    until(
        Duration::from_secs(180),
        || {
            format!(
                "greenlight incomplete\n{}",
                c.logs_of(&[&format!("greenlight-{}-b", g.app)])
            )
        },
        || async { counted(&log, g).await.0 >= carts },
    )
    .await;
    // Anything extra (a duplicate) would show up within a few more turns.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(procs);
    let (live, twice) = forecasts(&*log, &c.forecasts).await;
    assert!(twice.is_empty(), "published twice: {twice:?}");
    assert_eq!(
        counted(&log, g).await,
        (carts, 0),
        "every cart object once, none late"
    );

    // Single instances on the same input.
    let once_out = format!("chain-forecasts-once-{sfx}");
    let status = c
        .forecaster(&format!("chain-fc1-{sfx}"), &once_out, "a", true)
        .status()
        .unwrap();
    let once_log = || c.logs_of(&[&format!("forecast-chain-fc1-{sfx}-a")]);
    assert!(
        status.success(),
        "forecast --once: {status}\n{}",
        once_log()
    );
    let (single, twice) = forecasts(&*log, &once_out).await;
    assert!(
        twice.is_empty() && complete(&single),
        "forecast --once: {} series, first days {:?}, twice {twice:?}\n{}",
        single.len(),
        first_days(&single),
        once_log()
    );
    let values = |m: &BTreeMap<String, SalesForecast>| -> Vec<(String, i32, Vec<f32>)> {
        m.values()
            .map(|f| (f.id.clone(), f.first_day, f.forecast.clone()))
            .collect()
    };
    assert_eq!(
        values(&live),
        values(&single),
        "two forecasters with faults = one"
    );

    let one = Names {
        input: g.input.clone(),
        inventory: g.inventory.clone(),
        ..Names::new("chain1")
    };
    let single_gl = Children(vec![c.greenlight(&one, "a").spawn().unwrap()]);
    until(
        Duration::from_secs(180),
        || "single greenlight incomplete".into(),
        || async { counted(&log, &one).await.0 >= carts },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(single_gl);
    let (a, b) = (read_outputs(&log, g).await, read_outputs(&log, &one).await);
    assert_eq!(
        a.windowed_items, b.windowed_items,
        "two greenlights with faults = one"
    );
    assert_eq!(a.green_light_specials, b.green_light_specials);
    let stores_seen: HashSet<&str> = a
        .windowed_items
        .iter()
        .map(|w| w["store"].as_str().unwrap())
        .collect();
    assert_eq!(
        stores_seen.len(),
        STORES,
        "every store's carts were windowed"
    );
    for t in [
        &c.sales,
        &c.forecasts,
        &once_out,
        &g.input,
        &g.windowed_items,
        &one.windowed_items,
    ] {
        log.delete_topic(t).await.ok();
    }
}
