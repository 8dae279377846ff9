//! Shared by the API tests of both runtimes: a world of topics with schemas, record builders,
//! HTTP helpers, response-shape checks against `openapi.yaml`, and the scenario itself.

#![allow(dead_code)]

use aisle_events::{
    Event, GreenLightSpecial, Inventory, SalesForecast, SalesRecord, WindowedItem, topics, wire,
};
use aisle_log::{ConsumerConfig, Log, ProduceRecord, ProducerConfig, TopicPartition};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore, StoreConfig};
use aisle_serve::{OPENAPI_YAML, ROUTES, ServeOptions, Topics};
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A validator for `#/components/schemas/{name}` of the document.
pub fn validator(name: &str) -> jsonschema::Validator {
    let doc: serde_json::Value = serde_norway::from_str(OPENAPI_YAML).unwrap();
    let schema = serde_json::json!({
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn assert_shape(name: &str, body: &serde_json::Value) {
    let v = validator(name);
    let errors: Vec<String> = v.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{body:#}");
}

/// A log with Aisle's topics (under `topics`' names) and their schemas registered.
pub struct World {
    pub log: Arc<dyn Log>,
    pub topics: Topics,
    ids: HashMap<String, u32>,
}

impl World {
    /// Creates the topics and registers the schemas in a registry kept in `schemas_topic`.
    pub async fn new(
        log: Arc<dyn Log>,
        topics: Topics,
        schemas_topic: &str,
    ) -> anyhow::Result<(World, Arc<dyn SchemaRegistry>)> {
        let named = [
            (&topics.specials, topics::GREEN_LIGHT_SPECIALS),
            (&topics.windows, topics::WINDOWED_ITEMS),
            (&topics.inventory, topics::INVENTORY_REKEYED),
            (&topics.sales, topics::SALES),
            (&topics.forecasts, topics::SALES_FORECASTS),
        ];
        let config = StoreConfig {
            topic: schemas_topic.to_string(),
            ..Default::default()
        };
        let registry: Arc<dyn SchemaRegistry> = Arc::new(LocalRegistry::new(
            SchemaStore::open_with(log.clone(), config).await?,
        ));
        let schemas: HashMap<&str, &str> = topics::value_schemas().into_iter().collect();
        let mut ids = HashMap::new();
        for (name, standard) in named {
            let mut spec = topics::default_spec(standard).expect("a standard topic");
            spec.name = name.clone();
            log.create_topic(&spec).await?;
            let id = registry
                .register(&topics::value_subject(name), schemas[standard])
                .await?;
            ids.insert(name.clone(), id);
        }
        Ok((World { log, topics, ids }, registry))
    }

    /// Writes one framed value (or a tombstone) and waits until it is durable.
    pub async fn put<T: Event>(&self, topic: &str, key: &str, v: Option<&T>) {
        let mut rec = ProduceRecord::new(topic).key(key.to_string());
        if let Some(v) = v {
            let mut buf = Vec::new();
            wire::write_header(&mut buf, self.ids[topic]);
            v.encode(&mut buf).unwrap();
            rec = rec.value(buf);
        }
        let p = self.log.producer(&ProducerConfig::default()).unwrap();
        p.send(rec).await.unwrap().await.unwrap();
    }
}

pub fn special(store: &str, start: i64, item: &str) -> GreenLightSpecial {
    GreenLightSpecial {
        store_id: store.into(),
        window_start: start,
        window_end: start + 60_000,
        item: item.into(),
        upsell_item: "plate".into(),
        count: 12,
        reason: "most carted (12, next bowl 9); upsell plate in stock (100)".into(),
        total_items: 30,
        unmatched_items: 2,
    }
}

pub fn windowed(start: i64, item: &str, count: i64, matched: bool) -> WindowedItem {
    WindowedItem {
        store_id: "CA_1".into(),
        window_start: start,
        window_end: start + 60_000,
        item: item.into(),
        count,
        matched,
        upsell_item: matched.then(|| "plate".into()),
        stock: matched.then_some(100),
    }
}

pub fn row(id: i32, name: &str, count: i32) -> Inventory {
    Inventory {
        id,
        name: Some(name.into()),
        upsell_item: Some("plate".into()),
        count: Some(count),
        modified: 1_554_994_983_000,
        store_id: None,
    }
}

pub fn sale(day: i32, sold: i32) -> SalesRecord {
    SalesRecord {
        item_id: "FOODS_3_090".into(),
        dept_id: "FOODS_3".into(),
        cat_id: "FOODS".into(),
        store_id: "CA_1".into(),
        state_id: "CA".into(),
        day,
        sold,
        sell_price: Some(1.25),
    }
}

pub async fn get(base: &str, path: &str) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Polls `path` until `ok` holds for its body, for up to 20 s.
pub async fn wait_for(
    base: &str,
    path: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(base, path).await;
        if status == 200 && ok(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never matched; last: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The test binary's Prometheus recorder, installed once (it is process-wide, as the `aisle`
/// binary's is: src/metrics.rs); each scenario's metrics are told apart by their topic names.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).expect("no other recorder in this binary");
            handle
        })
        .clone()
}

/// Writes records, starts the server over them, checks every endpoint (shapes from
/// `openapi.yaml`, values from what was written), changes records while it runs, stops it.
pub async fn scenario(
    w: World,
    registry: Arc<dyn SchemaRegistry>,
    handle: PrometheusHandle,
) -> anyhow::Result<()> {
    let t = w.topics.clone();
    // A consumer group that has read the first 10 records of the series' `sales` partition.
    let group = aisle_testkit::rand_group("serve_lag");
    let sales_partition = aisle_log::partition_for_key(b"FOODS_3_090_CA_1", 10);
    w.put(&t.specials, "CA_1", Some(&special("CA_1", 0, "bowl")))
        .await;
    w.put(&t.specials, "CA_1", Some(&special("CA_1", 60_000, "cup")))
        .await;
    w.put(&t.windows, "cup@0", Some(&windowed(0, "cup", 3, true)))
        .await;
    w.put(
        &t.windows,
        "cup@60000",
        Some(&windowed(60_000, "cup", 12, true)),
    )
    .await;
    w.put(
        &t.windows,
        "sportsball@60000",
        Some(&windowed(60_000, "sportsball", 4, false)),
    )
    .await;
    w.put(&t.inventory, "cup", Some(&row(1, "cup", 100))).await;
    w.put(&t.inventory, "bowl", Some(&row(2, "bowl", 10))).await;
    for d in 1..=30 {
        w.put(&t.sales, "FOODS_3_090_CA_1", Some(&sale(d, d % 4)))
            .await;
    }
    let f = SalesForecast {
        id: "FOODS_3_090_CA_1".into(),
        item_id: "FOODS_3_090".into(),
        store_id: "CA_1".into(),
        first_day: 31,
        forecast: vec![2.0; 28],
        model: "test".into(),
        generated_at: 1,
        // A band 1 unit wide each side at 0.25/0.75, 2 at 0.025/0.975, 3 at the extremes.
        quantiles: SalesForecast::M5_QUANTILES
            .iter()
            .zip([-3.0f32, -2.0, -1.5, -1.0, 0.0, 1.0, 1.5, 2.0, 3.0])
            .map(|(&q, d)| aisle_events::types::ForecastQuantile {
                q,
                values: vec![(2.0 + d).max(0.0); 28],
            })
            .collect(),
    };
    w.put(&t.forecasts, &f.id, Some(&f)).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(aisle_serve::run(
        w.log.clone(),
        registry,
        ServeOptions {
            topics: t.clone(),
            groups: vec![group.clone()],
            health_every: Duration::from_millis(200),
            metrics: Some(handle),
            ..Default::default()
        },
        listener,
        async move {
            let _ = stop_rx.await;
        },
    ));

    let specials = wait_for(&base, "/api/specials", |b| {
        b["stores"][0]["current"]["item"] == "cup"
    })
    .await;
    assert_shape("Specials", &specials);
    assert_eq!(specials["stores"][0]["history"][1]["item"], "bowl");

    let windows = wait_for(&base, "/api/windows", |b| {
        b["stores"][0].get("previous").is_some()
    })
    .await;
    assert_shape("Windows", &windows);
    assert_eq!(windows["stores"][0]["current"]["items"][0]["count"], 12);
    assert_eq!(
        windows["stores"][0]["current"]["unmatched"][0]["item"],
        "sportsball"
    );

    let inventory = wait_for(&base, "/api/inventory", |b| {
        b["rows"].as_array().map(Vec::len) == Some(2)
    })
    .await;
    assert_shape("Inventory", &inventory);

    let sales = wait_for(&base, "/api/sales?last=7", |b| b["last_day"] == 30).await;
    assert_shape("Sales", &sales);
    assert_eq!(sales["stores"][0]["points"].as_array().unwrap().len(), 7);
    assert_eq!(
        sales["stores"][0]["points"][6],
        serde_json::json!({"day": 30, "units": 30 % 4})
    );

    let list = wait_for(&base, "/api/forecasts?q=FOODS_3", |b| b["count"] == 1).await;
    assert_shape("ForecastList", &list);
    let series = wait_for(&base, "/api/forecasts/FOODS_3_090_CA_1", |b| {
        b.get("forecast").is_some()
    })
    .await;
    assert_shape("Series", &series);
    assert_eq!(series["forecast"]["first_day"], 31);
    let band = &series["forecast"]["quantiles"];
    assert_eq!(band.as_array().map(Vec::len), Some(9), "{series}");
    assert_eq!(band[7]["q"].as_f64().map(|q| q as f32), Some(0.975));
    assert_eq!(band[7]["values"][27], 4.0);
    assert_eq!(series["actual"].as_array().unwrap().len(), 30);
    let (status, missing) = get(&base, "/api/forecasts/NO_SUCH_SERIES").await;
    assert_eq!(status, 404);
    assert_shape("Error", &missing);

    // Live: actuals of the forecast days arrive and get scored; an inventory row changes and
    // another is deleted, all while the server runs.
    w.put(&t.sales, "FOODS_3_090_CA_1", Some(&sale(31, 5)))
        .await;
    w.put(&t.inventory, "cup", Some(&row(1, "cup", 99))).await;
    w.put::<Inventory>(&t.inventory, "bowl", None).await;
    let inventory = wait_for(&base, "/api/inventory", |b| {
        b["rows"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    assert_eq!(inventory["rows"][0]["count"], 99);
    let scores = wait_for(&base, "/api/scores", |b| b["scored_days"] == 1).await;
    assert_shape("Scores", &scores);
    assert!(
        scores["levels"][3]["wrmsse"].as_f64().unwrap() > 0.0,
        "{scores}"
    );

    let t_sales = t.sales.clone();
    let status = wait_for(&base, "/api/status", |b| {
        b["topics"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["topic"] == t_sales.as_str() && t["records"] == 31)
        })
    })
    .await;
    assert_shape("Status", &status);
    assert_eq!(status["runtime"], w.log.runtime());

    // Committed-offset lag of a named group: 31 records, 10 committed.
    let mut member = w.log.consumer(&ConsumerConfig::group(group.clone()))?;
    member
        .commit(&[(TopicPartition::new(t.sales.clone(), sales_partition), 10)])
        .await?;
    let (g, t_sales) = (group.clone(), t.sales.clone());
    let status = wait_for(&base, "/api/status", |b| {
        b["lag"].as_array().is_some_and(|l| {
            l.iter().any(|l| {
                l["group"] == g.as_str()
                    && l["topic"] == t_sales.as_str()
                    && l["partition"] == sales_partition
                    && l["lag"] == 21
            })
        })
    })
    .await;
    assert!(
        status["lag"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["group"] == "serve" && l["topic"] == t.sales.as_str()),
        "{status}"
    );

    // Every served route answers a GET (no 404/405), and refuses other methods.
    let client = reqwest::Client::new();
    for route in ROUTES {
        let path = route.replace("{series}", "FOODS_3_090_CA_1");
        if path == "/events" {
            continue; // a stream; checked below
        }
        let r = client.get(format!("{base}{path}")).send().await?;
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        let r = client.post(format!("{base}{path}")).send().await?;
        assert_eq!(r.status().as_u16(), 405, "POST {path}");
    }
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        text.contains(&format!(
            "aisle_records_in_total{{component=\"serve\",topic=\"{}\"}} 31\n",
            t.sales
        )),
        "{text}"
    );
    let (hz, body) = get(&base, "/healthz").await;
    assert_eq!((hz, body["status"].as_str()), (200, Some("ok")));

    // The event stream opens with one event per view.
    let mut resp = client.get(format!("{base}/events")).send().await?;
    assert_eq!(
        resp.headers()["content-type"].to_str()?,
        "text/event-stream"
    );
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ![
        "specials",
        "windows",
        "inventory",
        "sales",
        "forecasts",
        "health",
    ]
    .iter()
    .all(|k| text.contains(&format!("event: {k}\n")))
    {
        assert!(Instant::now() < deadline, "events so far: {text}");
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await??;
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap_or_default()));
    }
    drop(resp);

    stop_tx.send(()).ok();
    tokio::time::timeout(Duration::from_secs(10), server).await???;
    Ok(())
}
