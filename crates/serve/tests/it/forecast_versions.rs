//! `SalesForecast` v1 → v2 through the real registry and the dashboard: the registry's BACKWARD
//! check accepts v2 after v1 (and refuses a v2 whose `quantiles` has no default), and a server on
//! v2 shows a v1-written forecast (no band) beside a v2 one with its nine quantiles.

use crate::common;

use aisle_events::types::ForecastQuantile;
use aisle_events::{Event, SalesForecast, json_to_datum, schemas, topics, wire};
use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, RegistryError, SchemaRegistry, SchemaStore};
use aisle_serve::{ServeOptions, Topics};
use std::sync::Arc;
use std::time::Duration;

async fn put(log: &dyn Log, key: &str, schema_id: u32, datum: &[u8]) {
    let mut value = Vec::new();
    wire::write_header(&mut value, schema_id);
    value.extend_from_slice(datum);
    let p = log.producer(&ProducerConfig::default()).unwrap();
    let rec = ProduceRecord::new(topics::SALES_FORECASTS)
        .key(key.to_string())
        .value(value);
    p.send(rec).await.unwrap().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_registers_after_v1_and_the_dashboard_reads_both() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(dir.path(), EmbeddedConfig::default())?);
    let registry: Arc<dyn SchemaRegistry> =
        Arc::new(LocalRegistry::new(SchemaStore::open(log.clone()).await?));
    log.create_topic(&TopicSpec::new(topics::SALES_FORECASTS, 1))
        .await?;
    let subject = topics::value_subject(topics::SALES_FORECASTS);

    // v1, as the forecaster registered it before quantiles.
    let v1 = registry
        .register(&subject, schemas::SALES_FORECAST_V1)
        .await?;
    // Not a vacuous check: v2's field without its default cannot read v1 data, so it is refused.
    let mut broken: serde_json::Value = serde_json::from_str(schemas::SALES_FORECAST)?;
    broken["fields"][7]
        .as_object_mut()
        .unwrap()
        .remove("default");
    let err = registry
        .register(&subject, &broken.to_string())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Incompatible { .. }), "{err:?}");
    // v2 under the default BACKWARD level: accepted as version 2.
    let v2 = registry.register(&subject, schemas::SALES_FORECAST).await?;
    assert_ne!(v1, v2);
    let latest = registry.latest(&subject).await?;
    assert_eq!((latest.version, latest.schema.id), (2, v2));

    // A v1 datum (no quantiles) and a v2 one with the nine M5 quantiles.
    let old = json_to_datum(
        schemas::SALES_FORECAST_V1,
        &serde_json::json!({"id": "FOODS_3_001_CA_1", "item_id": "FOODS_3_001",
            "store_id": "CA_1", "first_day": 11, "forecast": [1.0, 2.0], "model": "v1",
            "generated_at": 1}),
    )?;
    put(log.as_ref(), "FOODS_3_001_CA_1", v1, &old).await;
    let new = SalesForecast {
        id: "FOODS_3_002_CA_1".into(),
        item_id: "FOODS_3_002".into(),
        store_id: "CA_1".into(),
        first_day: 11,
        forecast: vec![3.0, 4.0],
        model: "v2".into(),
        generated_at: 2,
        quantiles: SalesForecast::M5_QUANTILES
            .iter()
            .enumerate()
            .map(|(k, &q)| ForecastQuantile {
                q,
                values: vec![k as f32, 2.0 * k as f32],
            })
            .collect(),
    };
    put(log.as_ref(), &new.id, v2, &new.to_datum()?).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(aisle_serve::run(
        log.clone(),
        registry,
        ServeOptions {
            topics: Topics::default(),
            health_every: Duration::from_millis(200),
            ..Default::default()
        },
        listener,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let old = common::wait_for(&base, "/api/forecasts/FOODS_3_001_CA_1", |b| {
        b.get("forecast").is_some()
    })
    .await;
    common::assert_shape("Series", &old);
    assert_eq!(old["forecast"]["model"], "v1");
    assert_eq!(old["forecast"]["forecast"], serde_json::json!([1.0, 2.0]));
    assert_eq!(old["forecast"]["quantiles"], serde_json::json!([]));
    let new = common::wait_for(&base, "/api/forecasts/FOODS_3_002_CA_1", |b| {
        b.get("forecast").is_some()
    })
    .await;
    common::assert_shape("Series", &new);
    let q = new["forecast"]["quantiles"].as_array().unwrap();
    assert_eq!(q.len(), 9);
    assert_eq!(q[0]["q"].as_f64().unwrap() as f32, 0.005);
    assert_eq!(q[8]["values"], serde_json::json!([8.0, 16.0]));
    // No record was refused on the way.
    let (_, status) = common::get(&base, "/api/status").await;
    assert_eq!(status["decode_errors"], serde_json::json!([]), "{status}");
    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}
