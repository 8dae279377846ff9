//! Shared by the greenlight tests: golden scenario files, producing their input, running the
//! `aisle greenlight` binary, and reading what it wrote.
//!
//! A scenario (`tests/golden/greenlight/<name>.json`) holds the processor settings, the input
//! events (inventory changes and cart objects at times relative to [`base()`]) and the exact
//! expected `windowed_items`, `green_light_specials` and late records.

#![allow(dead_code)]

use aisle_events::{Event, GreenLightSpecial, Inventory, ShoppingCartObject, WindowedItem, wire};
use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_registry::SchemaRegistry;
use rand::Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Event time 0 of every scenario: an hour ago, at a whole minute (so windows align as written).
/// Recent on purpose: a broker deletes records older than its retention (7 days by default) by
/// their timestamp, and these timestamps are event times.
pub static BASE_CELL: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// See [`BASE_CELL`].
pub fn base() -> i64 {
    *BASE_CELL.get_or_init(|| (aisle_log::now_ms() / 60_000 - 60) * 60_000)
}

/// Kills (-9) the processes it holds when dropped, so a failing test leaves no orphan.
pub struct Children(pub Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            kill9(c);
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Scenario {
    pub description: String,
    /// `aisle greenlight` flags without the leading `--` (e.g. {"window-ms": 60000}).
    pub flags: serde_json::Map<String, Value>,
    pub input: Vec<Event_>,
    pub expected: Expected,
}

#[derive(Debug, Deserialize)]
pub struct Event_ {
    pub at: i64,
    #[serde(default)]
    pub inventory: Option<Row>,
    #[serde(default)]
    pub delete: Option<String>,
    #[serde(default)]
    pub cart: Option<String>,
    #[serde(default)]
    pub store: Option<String>,
    #[serde(default = "one")]
    pub repeat: u32,
    /// Record key (default: the item, as Aisle's camera writes it; the 2019 camera wrote
    /// `camera_0`).
    #[serde(default)]
    pub key: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
pub struct Row {
    pub name: String,
    pub upsell_item: Option<String>,
    pub count: Option<i32>,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct Expected {
    pub windowed_items: Vec<Value>,
    pub green_light_specials: Vec<Value>,
    pub late: Vec<Value>,
}

pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/greenlight")
}

/// `name` may be a path below the golden directory, e.g. `compat/seed_producers`.
pub fn load(name: &str) -> Scenario {
    let path = golden_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every scenario file name (without `.json`), sorted.
pub fn all() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "json").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// Topic names of one run.
#[derive(Clone, Debug)]
pub struct Names {
    pub input: String,
    pub inventory: String,
    pub windowed_items: String,
    pub specials: String,
    pub app: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        let s = aisle_testkit::rand_suffix(8);
        Names {
            input: format!("{prefix}-carts-{s}"),
            inventory: format!("{prefix}-inventory-{s}"),
            windowed_items: format!("{prefix}-windowed-{s}"),
            specials: format!("{prefix}-specials-{s}"),
            app: format!("{prefix}-app-{s}"),
        }
    }
    pub fn late(&self) -> String {
        format!("{}.late", self.input)
    }
    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.input)
    }
}

pub fn cart(item: &str, store: Option<&str>, ts: i64) -> ShoppingCartObject {
    ShoppingCartObject {
        timestamp: ts,
        image_name: "golden.jpg".into(),
        class_id: -1,
        class_name: item.into(),
        score: 0.9,
        box_x: 1,
        box_y: 2,
        box_w: 3,
        box_h: 4,
        store_id: store.map(str::to_owned),
        cart_id: None,
        camera_id: None,
    }
}

fn framed<T: Event>(id: u32, v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_header(&mut out, id);
    v.encode(&mut out).unwrap();
    out
}

/// Creates the input topics and writes the scenario's input: inventory first (in file order),
/// then the cart objects (in file order), keyed by item.
pub async fn produce(
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    s: &Scenario,
    names: &Names,
    input_partitions: i32,
) {
    produce_with(log, registry, s, names, input_partitions, false).await
}

/// [`produce`]; with `seed`, cart objects are written as the 2019 producers did: the seed schema
/// (`schemas/seed/shopping_cart_object.avsc`), registered as the subject's first version.
pub async fn produce_with(
    log: &Arc<dyn Log>,
    registry: &Arc<dyn SchemaRegistry>,
    s: &Scenario,
    names: &Names,
    input_partitions: i32,
    seed: bool,
) {
    log.create_topic(&TopicSpec::new(&names.input, input_partitions))
        .await
        .unwrap();
    log.create_topic(
        &TopicSpec::new(&names.inventory, 1).cleanup(aisle_log::CleanupPolicy::Compact),
    )
    .await
    .unwrap();
    let cart_schema = if seed {
        aisle_events::schemas::SEED_SHOPPING_CART_OBJECT
    } else {
        aisle_events::schemas::SHOPPING_CART_OBJECT
    };
    let cart_id = registry
        .register(&format!("{}-value", names.input), cart_schema)
        .await
        .unwrap();
    let inv_id = registry
        .register(
            &format!("{}-value", names.inventory),
            aisle_events::schemas::INVENTORY,
        )
        .await
        .unwrap();
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let mut pending = Vec::new();
    for (i, e) in s.input.iter().enumerate() {
        let ts = base() + e.at;
        if let Some(row) = &e.inventory {
            let inv = Inventory {
                id: i as i32 + 1,
                name: Some(row.name.clone()),
                upsell_item: row.upsell_item.clone(),
                count: row.count,
                modified: ts,
                store_id: None,
            };
            let rec = ProduceRecord::new(&names.inventory)
                .key(row.name.clone())
                .value(framed(inv_id, &inv))
                .timestamp(ts);
            pending.push(producer.send(rec).await.unwrap());
        }
        if let Some(name) = &e.delete {
            let mut rec = ProduceRecord::new(&names.inventory)
                .key(name.clone())
                .timestamp(ts);
            rec.value = None;
            pending.push(producer.send(rec).await.unwrap());
        }
    }
    let mut batch = Vec::new();
    for e in &s.input {
        if let Some(item) = &e.cart {
            for _ in 0..e.repeat {
                let obj = cart(item, e.store.as_deref(), base() + e.at);
                let value = if seed {
                    let v = json!({
                        "timestamp": obj.timestamp, "image_name": "basket_test_22.jpg",
                        "class_id": 1, "class_name": item, "score": 0.98,
                        "box_x": 1, "box_y": 2, "box_w": 3, "box_h": 4,
                    });
                    let mut out = Vec::new();
                    wire::write_header(&mut out, cart_id);
                    out.extend(aisle_events::json_to_datum(cart_schema, &v).unwrap());
                    out
                } else {
                    framed(cart_id, &obj)
                };
                batch.push(
                    ProduceRecord::new(&names.input)
                        .key(e.key.clone().unwrap_or_else(|| item.clone()))
                        .value(value)
                        .timestamp(base() + e.at),
                );
            }
        }
    }
    let delivery = producer.send_batch(&batch).await.unwrap();
    for p in pending {
        p.await.unwrap();
    }
    delivery.await.unwrap();
    producer
        .flush(std::time::Duration::from_secs(30))
        .await
        .unwrap();
}

/// What the processor wrote, times relative to [`base()`], sorted.
#[derive(Debug, PartialEq)]
pub struct Outputs {
    pub windowed_items: Vec<Value>,
    pub green_light_specials: Vec<Value>,
    pub late: Vec<Value>,
    pub dlq: usize,
}

impl Outputs {
    pub fn expected(s: &Scenario) -> Self {
        let mut e = Outputs {
            windowed_items: s.expected.windowed_items.clone(),
            green_light_specials: s.expected.green_light_specials.clone(),
            late: s.expected.late.clone(),
            dlq: 0,
        };
        e.sort();
        e
    }

    fn sort(&mut self) {
        for v in [
            &mut self.windowed_items,
            &mut self.green_light_specials,
            &mut self.late,
        ] {
            v.sort_by_key(|x| x.to_string());
        }
    }

    /// Totals for progress checks: windowed items + specials.
    pub fn len(&self) -> usize {
        self.windowed_items.len() + self.green_light_specials.len()
    }
}

async fn topic_records(log: &Arc<dyn Log>, topic: &str) -> Vec<aisle_log::Record> {
    match log.describe_topic(topic).await {
        Ok(_) => aisle_testkit::read_all(&**log, topic).await.unwrap(),
        Err(_) => Vec::new(),
    }
}

pub async fn read_outputs(log: &Arc<dyn Log>, names: &Names) -> Outputs {
    let mut out = Outputs {
        windowed_items: Vec::new(),
        green_light_specials: Vec::new(),
        late: Vec::new(),
        dlq: topic_records(log, &names.dlq()).await.len(),
    };
    for r in topic_records(log, &names.windowed_items).await {
        let (_, datum) = wire::split(r.value.as_ref().unwrap()).unwrap();
        let w = WindowedItem::decode(datum).unwrap();
        assert_eq!(
            r.key.as_deref(),
            Some(w.key().as_bytes()),
            "windowed item key"
        );
        out.windowed_items.push(json!({
            "store": w.store_id, "start": w.window_start - base(), "end": w.window_end - base(),
            "item": w.item, "count": w.count, "matched": w.matched,
            "upsell": w.upsell_item, "stock": w.stock,
        }));
    }
    for r in topic_records(log, &names.specials).await {
        let (_, datum) = wire::split(r.value.as_ref().unwrap()).unwrap();
        let s = GreenLightSpecial::decode(datum).unwrap();
        assert_eq!(r.key.as_deref(), Some(s.store_id.as_bytes()), "special key");
        out.green_light_specials.push(json!({
            "store": s.store_id, "start": s.window_start - base(), "end": s.window_end - base(),
            "item": s.item, "upsell": s.upsell_item, "count": s.count, "reason": s.reason,
            "total": s.total_items, "unmatched": s.unmatched_items,
        }));
    }
    for r in topic_records(log, &names.late()).await {
        let h = |k: &str| String::from_utf8(r.header(k).unwrap().to_vec()).unwrap();
        let (_, datum) = wire::split(r.value.as_ref().unwrap()).unwrap();
        let obj = ShoppingCartObject::decode(datum).unwrap();
        out.late.push(json!({
            "item": obj.class_name, "at": obj.timestamp - base(), "store": h("aisle.late.store"),
            "window_start": h("aisle.late.window_start").parse::<i64>().unwrap() - base(),
            "window_end": h("aisle.late.window_end").parse::<i64>().unwrap() - base(),
        }));
        assert!(!h("aisle.dlq.reason").is_empty());
        assert_eq!(h("aisle.dlq.kind"), "late");
    }
    out.sort();
    out
}

/// `aisle greenlight` for a scenario (not started).
/// Its stderr (logs) goes to `stderr_to`, appended.
pub fn greenlight_cmd(
    global: &[String],
    s: &Scenario,
    names: &Names,
    instance: &str,
    stderr_to: &Path,
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
    cmd.args(global)
        .arg("greenlight")
        .args(["--input", &names.input])
        .args(["--inventory", &names.inventory])
        .args(["--windowed-items", &names.windowed_items])
        .args(["--specials", &names.specials])
        .args(["--application-id", &names.app])
        .args(["--instance-id", instance]);
    for (k, v) in &s.flags {
        match v {
            Value::Bool(true) => {
                cmd.arg(format!("--{k}"));
            }
            Value::Bool(false) => {}
            Value::String(x) => {
                cmd.arg(format!("--{k}")).arg(x);
            }
            other => {
                cmd.arg(format!("--{k}")).arg(other.to_string());
            }
        }
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr_to)
        .unwrap();
    cmd.env("AISLE_LOG", "info,rdkafka=warn")
        .stdout(Stdio::null())
        .stderr(log);
    cmd
}

/// Runs a command to completion; panics with the log file when it fails.
pub fn run_to_end(mut cmd: Command, log: &Path) {
    let status = cmd.status().unwrap();
    assert!(
        status.success(),
        "greenlight failed ({status}): {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Kills a child with SIGKILL (kill -9) and reaps it.
pub fn kill9(child: &mut Child) {
    child.kill().unwrap();
    let _ = child.wait();
}

pub fn data_dir_args(dir: &Path) -> Vec<String> {
    vec!["--data-dir".into(), dir.display().to_string()]
}

/// A Confluent-compatible registry over a private schemas topic on Kafka, served in this test
/// process (so concurrent tests on a shared broker never race on `_schemas`). Returns its URL.
pub async fn kafka_registry(log: Arc<dyn Log>) -> (String, Arc<dyn SchemaRegistry>) {
    let store = aisle_registry::SchemaStore::open_with(
        log,
        aisle_registry::StoreConfig {
            topic: aisle_testkit::rand_topic("gl-schemas"),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(aisle_registry::serve(
        store.clone(),
        listener,
        std::future::pending(),
    ));
    (url, Arc::new(aisle_registry::LocalRegistry::new(store)))
}

/// Runs a scenario on Kafka: `instances` processes (ids a, b, ...); with `kill`, instance 0 is
/// killed (-9) at a random point, twice, and restarted, and with `instances > 1` the last one is
/// killed once midway and not restarted.
pub async fn kafka(
    name: &str,
    crash: bool,
    partitions: i32,
    extra: &[(&str, &str)],
    instances: usize,
) {
    kafka_run(name, crash, partitions, extra, instances, false).await
}

/// A scenario written as the 2019 producers did (see [`produce_with`]), on Kafka.
pub async fn kafka_seed(name: &str) {
    kafka_run(name, false, 1, &[], 1, true).await
}

async fn kafka_run(
    name: &str,
    crash: bool,
    partitions: i32,
    extra: &[(&str, &str)],
    instances: usize,
    seed: bool,
) {
    let Some(bootstrap) = aisle_testkit::kafka_bootstrap().or_else(|| {
        aisle_testkit::KafkaFixture::from_env();
        None
    }) else {
        return;
    };
    let mut s = load(name);
    for (k, v) in extra {
        s.flags
            .insert((*k).into(), serde_json::Value::String((*v).into()));
    }
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("greenlight.log");
    let log: Arc<dyn Log> = Arc::new(
        aisle_log_kafka::KafkaLog::connect(aisle_log_kafka::KafkaConfig::new(bootstrap.clone()))
            .await
            .unwrap(),
    );
    let (url, registry) = kafka_registry(log.clone()).await;
    let names = Names::new("gl");
    produce_with(&log, &registry, &s, &names, partitions, seed).await;
    let global = vec![
        "--kafka".to_string(),
        bootstrap.clone(),
        "--registry".into(),
        url,
        "--data-dir".into(),
        dir.path().join("unused").display().to_string(),
    ];
    let ids: Vec<String> = (0..instances)
        .map(|i| ((b'a' + i as u8) as char).to_string())
        .collect();
    let mut children = Children(
        ids.iter()
            .map(|id| {
                greenlight_cmd(&global, &s, &names, id, &stderr)
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    let pause = |lo: u64, hi: u64| {
        let ms = rand::rng().random_range(lo..hi);
        tokio::time::sleep(Duration::from_millis(ms))
    };
    if instances > 1 {
        // One member dies midway (after the group formed and work began) and stays dead.
        pause(3_000, 6_000).await;
        let mut last = children.0.pop().unwrap();
        kill9(&mut last);
    }
    if crash {
        for _ in 0..2 {
            pause(500, 6_000).await;
            kill9(&mut children.0[0]);
            children.0[0] = greenlight_cmd(&global, &s, &names, &ids[0], &stderr)
                .spawn()
                .unwrap();
        }
    }
    let want = Outputs::expected(&s);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = read_outputs(&log, &names).await;
        if got.len() >= want.len() && got.late.len() >= want.late.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scenario {name}: only {} of {} outputs after 120 s; log:\n{}",
            got.len(),
            want.len(),
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Anything extra (a duplicate) would show up within a few more turns.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(children);
    let got = read_outputs(&log, &names).await;
    assert_eq!(got.dlq, 0);
    assert_eq!(got, want, "scenario {name}: {}", s.description);
}
