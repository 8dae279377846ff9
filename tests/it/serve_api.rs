//! `aisle serve` as an operator runs it: records written with `aisle topic produce`, then the
//! server started on that data directory and asked over HTTP. Checks each endpoint against
//! what `aisle topic dump` prints, `/metrics` with a Prometheus text-format parser, the token,
//! the refusal to expose an unprotected server, and `--metrics-listen`.

use crate::support::{aisle, rt};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::time::Instant;

fn schema(name: &str) -> String {
    format!("{}/schemas/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Writes JSON lines to `topic` with `aisle topic produce`.
fn produce(dir: &Path, topic: &str, avsc: &str, lines: &[serde_json::Value]) {
    let mut child = aisle(dir)
        .args(["topic", "produce", topic, "--schema", &schema(avsc)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `aisle serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines
            .next()
            .expect("serve printed nothing")
            .expect("serve output");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in `{line}`"));
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base: url.trim_end_matches('/').to_string(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn json_until(url: &str, ok: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(url).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if status == 200 && ok(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never matched: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn special(store: &str, start: i64, item: &str, upsell: &str, count: i64) -> serde_json::Value {
    serde_json::json!({"key": store, "value": {
        "store_id": store, "window_start": start, "window_end": start + 60_000,
        "item": item, "upsell_item": upsell, "count": count,
        "reason": format!("most carted ({count}); upsell {upsell} in stock"),
        "total_items": count + 3, "unmatched_items": 1}})
}

/// Standard topics plus two stores' specials, a window, inventory, sales and a forecast.
fn seeded_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = aisle(dir.path())
        .args(["topic", "create", "--standard"])
        .output()
        .unwrap();
    assert!(out.status.success());
    produce(
        dir.path(),
        "green_light_specials",
        "green_light_special.avsc",
        &[
            special("CA_1", 1_700_000_000_000, "bowl", "cup", 4),
            special("TX_1", 1_700_000_000_000, "fork", "spoon", 7),
            special("CA_1", 1_700_000_060_000, "cup", "plate", 12),
        ],
    );
    let item = |item: &str, count: i64, matched: bool| {
        serde_json::json!({"key": format!("{item}@1700000000000"), "value": {
            "store_id": "CA_1", "window_start": 1_700_000_000_000i64,
            "window_end": 1_700_000_060_000i64, "item": item, "count": count, "matched": matched,
            "upsell_item": if matched { serde_json::json!({"string": "plate"}) } else { serde_json::Value::Null },
            "stock": if matched { serde_json::json!({"int": 100}) } else { serde_json::Value::Null }}})
    };
    produce(
        dir.path(),
        "windowed_items",
        "windowed_item.avsc",
        &[item("cup", 12, true), item("sportsball", 3, false)],
    );
    let inv = |id: i32, name: &str, upsell: &str, count: i32| {
        serde_json::json!({"key": name, "value": {"id": id, "name": {"string": name},
            "upsell_item": {"string": upsell}, "count": {"int": count}, "modified": 1_554_994_983_000i64}})
    };
    produce(
        dir.path(),
        "inventory_rekeyed",
        "inventory.avsc",
        &[
            inv(1, "cup", "plate", 100),
            inv(2, "bowl", "cup", 10),
            serde_json::json!({"key": "bowl", "value": null}),
        ],
    );
    let sales: Vec<_> = (1..=10)
        .map(|d| {
            serde_json::json!({"key": "FOODS_3_090_CA_1", "value": {"item_id": "FOODS_3_090",
                "dept_id": "FOODS_3", "cat_id": "FOODS", "store_id": "CA_1", "state_id": "CA",
                "day": d, "sold": d, "sell_price": {"float": 1.5}}})
        })
        .collect();
    produce(dir.path(), "sales", "sales_record.avsc", &sales);
    // A forecast written by a v1 producer (no quantiles), then a v2 one with the nine M5
    // quantiles: the registry takes v2 after v1 under the same subject.
    produce(
        dir.path(),
        "sales_forecasts",
        "v1/sales_forecast.avsc",
        &[
            serde_json::json!({"key": "FOODS_3_091_CA_1", "value": {"id": "FOODS_3_091_CA_1",
            "item_id": "FOODS_3_091", "store_id": "CA_1", "first_day": 11,
            "forecast": [1.0, 2.0, 3.0], "model": "v1", "generated_at": 1}}),
        ],
    );
    let quantiles: Vec<_> = [0.005, 0.025, 0.165, 0.25, 0.5, 0.75, 0.835, 0.975, 0.995]
        .iter()
        .enumerate()
        .map(|(k, q)| {
            let v = 7.0 + k as f64;
            serde_json::json!({"q": q, "values": [v, v + 0.5, v + 1.0]})
        })
        .collect();
    produce(
        dir.path(),
        "sales_forecasts",
        "sales_forecast.avsc",
        &[
            serde_json::json!({"key": "FOODS_3_090_CA_1", "value": {"id": "FOODS_3_090_CA_1",
            "item_id": "FOODS_3_090", "store_id": "CA_1", "first_day": 11,
            "forecast": [10.5, 11.0, 11.5], "model": "test", "generated_at": 1,
            "quantiles": quantiles}}),
        ],
    );
    dir
}

#[test]
fn endpoints_show_what_the_topics_hold_and_metrics_parse() {
    let dir = seeded_dir();
    // What an operator sees with the CLI: the newest special per store.
    let out = aisle(dir.path())
        .args(["topic", "dump", "green_light_specials"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut latest = std::collections::BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        latest.insert(
            rec["key"].as_str().unwrap().to_string(),
            rec["value"].clone(),
        );
    }
    assert_eq!(latest.len(), 2);

    let mut cmd = aisle(dir.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    let b = &server.base;
    rt().block_on(async {
        let specials = json_until(&format!("{b}/api/specials"), |v| {
            v["stores"].as_array().map(Vec::len) == Some(2)
        })
        .await;
        for s in specials["stores"].as_array().unwrap() {
            let dumped = &latest[s["store_id"].as_str().unwrap()];
            for field in ["item", "upsell_item", "count", "window_start", "reason"] {
                assert_eq!(s["current"][field], dumped[field], "{field}: {s}");
            }
        }
        assert_eq!(specials["stores"][0]["current"]["item"], "cup");

        let windows = json_until(&format!("{b}/api/windows"), |v| v["stores"][0].is_object()).await;
        let w = &windows["stores"][0]["current"];
        assert_eq!(
            (
                w["items"][0]["item"].as_str(),
                w["items"][0]["count"].as_i64()
            ),
            (Some("cup"), Some(12))
        );
        assert_eq!(w["unmatched"][0]["item"], "sportsball");

        // The tombstone removed `bowl`.
        let inv = json_until(&format!("{b}/api/inventory"), |v| v["rows"][0].is_object()).await;
        assert_eq!(inv["rows"].as_array().unwrap().len(), 1, "{inv}");
        assert_eq!(inv["rows"][0]["name"], "cup");

        let sales = json_until(&format!("{b}/api/sales"), |v| v["last_day"] == 10).await;
        let total: i64 = sales["stores"][0]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["units"].as_i64().unwrap())
            .sum();
        assert_eq!(total, (1..=10).sum::<i64>());

        let f = json_until(&format!("{b}/api/forecasts/FOODS_3_090_CA_1"), |v| {
            v.get("forecast").is_some()
        })
        .await;
        assert_eq!(
            f["forecast"]["forecast"],
            serde_json::json!([10.5, 11.0, 11.5])
        );
        assert_eq!(f["actual"].as_array().unwrap().len(), 10);
        // The band the dashboard draws: quantile 0.975 (the eighth) as written.
        assert_eq!(f["forecast"]["quantiles"].as_array().map(Vec::len), Some(9));
        assert_eq!(
            f["forecast"]["quantiles"][7],
            serde_json::json!({"q": 0.975, "values": [14.0, 14.5, 15.0]})
        );
        let v1 = json_until(&format!("{b}/api/forecasts/FOODS_3_091_CA_1"), |v| {
            v.get("forecast").is_some()
        })
        .await;
        assert_eq!(v1["forecast"]["model"], "v1");
        assert_eq!(v1["forecast"]["quantiles"], serde_json::json!([]));

        // The health sampler runs every 2 s: wait for a sample that saw the tailer's positions
        // (it sets the lag gauges checked in /metrics below in the same pass).
        let status = json_until(&format!("{b}/api/status"), |v| {
            v["topics"][0].is_object()
                && v["lag"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x["group"] == "serve"))
        })
        .await;
        assert_eq!(status["runtime"], "embedded");
        let topic = |name: &str| {
            status["topics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["topic"] == name)
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(topic("green_light_specials")["records"], 3);
        assert_eq!(topic("sales")["component"], "replay");

        let (code, health) = get(&format!("{b}/healthz")).await;
        assert_eq!((code, health.as_str()), (200, r#"{"status":"ok"}"#));
        let (code, yaml) = get(&format!("{b}/openapi.yaml")).await;
        assert!(code == 200 && yaml.starts_with("openapi: 3"), "{yaml}");
        let (code, page) = get(&format!("{b}/")).await;
        assert!(code == 200 && page.contains("Green Light Specials"));

        let (code, text) = get(&format!("{b}/metrics")).await;
        assert_eq!(code, 200);
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .expect("Prometheus text format");
        let value = |name: &str, label: &str, want: &str| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == name && s.labels.get(label) == Some(want))
                .map(|s| match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => v,
                    _ => f64::NAN,
                })
        };
        assert_eq!(
            value("aisle_records_in_total", "topic", "green_light_specials"),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            value("aisle_records_in_total", "topic", "sales"),
            Some(10.0)
        );
        assert_eq!(
            value("aisle_topic_records", "topic", "inventory_rekeyed"),
            Some(3.0)
        );
        assert!(
            scrape
                .samples
                .iter()
                .any(|s| s.metric == "aisle_consumer_lag"
                    && s.labels.get("component") == Some("serve")),
            "{text}"
        );
    });
}

#[test]
fn a_token_protects_everything_but_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = aisle(dir.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .env("AISLE_SERVE__TOKEN", "s3cret-token");
    let server = Server::start(cmd);
    let b = &server.base;
    rt().block_on(async {
        for path in [
            "/",
            "/api/specials",
            "/api/status",
            "/metrics",
            "/events",
            "/openapi.yaml",
        ] {
            let (code, body) = get(&format!("{b}{path}")).await;
            assert_eq!(code, 401, "{path} without the token: {body}");
            let (code, _) = get(&format!("{b}{path}?token=wrong")).await;
            assert_eq!(code, 401, "{path} with a wrong token");
        }
        let (code, _) = get(&format!("{b}/healthz")).await;
        assert_eq!(code, 200);
        let (code, _) = get(&format!("{b}/api/specials?token=s3cret-token")).await;
        assert_eq!(code, 200);
        // The page carries its script and style inline: it renders with the token in its
        // address alone, and its script passes the token on to /events and /api.
        let (code, page) = get(&format!("{b}/?token=s3cret-token")).await;
        assert_eq!(code, 200);
        assert!(page.contains("new EventSource(url('events'))") && page.contains("<style>"));
        assert!(!page.contains("src=\"assets/app.js\""));
        let r = reqwest::Client::new()
            .get(format!("{b}/api/status"))
            .bearer_auth("s3cret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    });
}

#[test]
fn an_unprotected_public_address_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = aisle(dir.path())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("0.0.0.0") && stderr.contains("token"),
        "{stderr}"
    );

    let out = aisle(dir.path())
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-an-address"));
}

#[test]
fn metrics_listen_serves_the_recorder_of_any_command() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = aisle(dir.path());
    cmd.args(["--metrics-listen", &format!("127.0.0.1:{port}")])
        .args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    rt().block_on(async {
        // Traffic on the dashboard shows up on the separate metrics endpoint: one recorder.
        let (code, _) = get(&format!("{}/api/specials", server.base)).await;
        assert_eq!(code, 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, text) = get(&format!("http://127.0.0.1:{port}/metrics")).await;
            if code == 200 && text.contains("route=\"/api/specials\"") {
                break;
            }
            assert!(Instant::now() < deadline, "{code} {text}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
