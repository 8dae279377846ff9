//! The streaming forecaster on the embedded runtime with a small synthetic `sales` stream:
//! forecasts are published for every series, the submission is written, and a restart in the
//! middle of the stream (log closed and reopened, history restored from its snapshot) ends with
//! exactly the forecasts of an uninterrupted run.

use aisle_events::{Event, SalesForecast, SalesRecord, topics, wire};
use aisle_forecast::models::pooled::Pooled;
use aisle_forecast::stream::{RunOptions, RunSummary, run};
use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const ITEMS: [&str; 3] = ["FOODS_1_001", "HOBBIES_1_002", "HOUSEHOLD_2_003"];
const STORES: [&str; 2] = ["CA_1", "TX_2"];
const DAYS: i32 = 35;

fn sale(item: &str, store: &str, day: i32) -> SalesRecord {
    let m = aisle_m5::SeriesMeta::from_ids(item, store).unwrap();
    // Deterministic, weekly-shaped, different per series.
    let base = (item.len() + store.len()) as i32 % 4 + 1;
    let sold = base * (1 + i32::from(day % 7 == 1 || day % 7 == 2)) + (day * 7 + base) % 3;
    SalesRecord {
        item_id: m.item_id,
        dept_id: m.dept_id,
        cat_id: m.cat_id,
        store_id: m.store_id,
        state_id: m.state_id,
        day,
        sold,
        sell_price: Some(1.0 + base as f32),
    }
}

fn open(dir: &Path) -> anyhow::Result<Arc<dyn Log>> {
    Ok(Arc::new(EmbeddedLog::open(dir, EmbeddedConfig::default())?))
}

async fn registry(log: &Arc<dyn Log>) -> anyhow::Result<Arc<dyn SchemaRegistry>> {
    Ok(Arc::new(LocalRegistry::new(
        SchemaStore::open(log.clone()).await?,
    )))
}

/// Creates `sales` (2 partitions) and writes every record, store = partition.
async fn produce_sales(log: &Arc<dyn Log>) -> anyhow::Result<()> {
    log.create_topic(&TopicSpec::new(topics::SALES, 2)).await?;
    let reg = registry(log).await?;
    let id = reg
        .register(
            &topics::value_subject(topics::SALES),
            SalesRecord::SCHEMA_JSON,
        )
        .await?;
    let producer = log.producer(&ProducerConfig::default())?;
    // One undecodable record first: it must go to the dead-letter topic, not stop the stream.
    let mut pending = vec![
        producer
            .send(
                ProduceRecord::new(topics::SALES)
                    .key("junk")
                    .value(b"not avro".to_vec())
                    .partition(0),
            )
            .await?,
    ];
    for day in 1..=DAYS {
        for (p, store) in STORES.iter().enumerate() {
            for item in ITEMS {
                let s = sale(item, store, day);
                let mut value = Vec::new();
                wire::write_header(&mut value, id);
                s.encode(&mut value)?;
                let rec = ProduceRecord::new(topics::SALES)
                    .key(s.key().into_bytes())
                    .value(value)
                    .partition(p as i32);
                pending.push(producer.send(rec).await?);
            }
        }
    }
    for d in pending {
        d.await?;
    }
    Ok(())
}

async fn forecast(
    log_dir: &Path,
    state: &Path,
    once: bool,
    max_records: Option<u64>,
    submission: Option<&Path>,
) -> anyhow::Result<RunSummary> {
    let log = open(log_dir)?;
    let reg = registry(&log).await?;
    let mut opts = RunOptions::new(state);
    opts.once = once;
    opts.max_records = max_records;
    opts.snapshot_every = 50;
    opts.submission = submission.map(Path::to_path_buf);
    let s = run(
        log,
        reg,
        None,
        Arc::new(Pooled::default()),
        opts,
        std::future::pending(),
    )
    .await?;
    Ok(s)
}

/// Every record of `topic` (all partitions, from the beginning).
async fn read_topic(log_dir: &Path, topic: &str) -> anyhow::Result<Vec<aisle_log::Record>> {
    let log = open(log_dir)?;
    let mut c = log.consumer(&aisle_log::ConsumerConfig::default())?;
    let parts = log.describe_topic(topic).await?.partitions;
    let tps: Vec<_> = (0..parts)
        .map(|p| {
            (
                aisle_log::TopicPartition::new(topic, p),
                aisle_log::Offset::Beginning,
            )
        })
        .collect();
    c.assign(&tps)?;
    let mut all = Vec::new();
    for _ in 0..20 {
        let batch = c.poll(std::time::Duration::from_millis(200)).await?;
        if batch.is_empty() && c.is_caught_up() {
            break;
        }
        all.extend(batch);
    }
    Ok(all)
}

/// Latest forecast per series id in `sales_forecasts`.
async fn published(log_dir: &Path) -> anyhow::Result<BTreeMap<String, SalesForecast>> {
    let mut out = BTreeMap::new();
    for r in read_topic(log_dir, topics::SALES_FORECASTS).await? {
        let (_, datum) = wire::split(r.value.as_deref().unwrap()).unwrap();
        let f = SalesForecast::decode(datum)?;
        assert_eq!(r.key.as_deref(), Some(f.id.as_bytes()));
        out.insert(f.id.clone(), f);
    }
    Ok(out)
}

fn values(m: &BTreeMap<String, SalesForecast>) -> Vec<(String, i32, Vec<f32>)> {
    m.values()
        .map(|f| (f.id.clone(), f.first_day, f.forecast.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forecasts_every_series_and_a_restart_gives_the_same_forecasts() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let sub = tmp.path().join("sub.csv");

    // Uninterrupted run.
    let (log_a, state_a) = (tmp.path().join("log-a"), tmp.path().join("state-a"));
    produce_sales(&open(&log_a)?).await?;
    let s = forecast(&log_a, &state_a, true, None, Some(&sub)).await?;
    assert_eq!(
        (s.records, s.series, s.last_day, s.rounds),
        (210, 6, Some(DAYS), 1)
    );
    assert_eq!((s.published, s.skipped), (6, 1));
    let dead = read_topic(&log_a, &topics::dlq(topics::SALES)).await?;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].value.as_deref(), Some(&b"not avro"[..]));
    assert_eq!(
        dead[0]
            .header(aisle_events::dead_letter::SOURCE)
            .map(|v| v.to_vec()),
        Some(b"sales/0@0".to_vec())
    );
    let reason = dead[0].header(aisle_events::dead_letter::REASON).unwrap();
    assert!(
        String::from_utf8_lossy(reason).contains("not Confluent Avro"),
        "{reason:?}"
    );
    let a = published(&log_a).await?;
    assert_eq!(a.len(), 6);
    for f in a.values() {
        assert_eq!((f.first_day, f.forecast.len()), (DAYS + 1, 28));
        assert!(f.forecast.iter().all(|v| v.is_finite() && *v > 0.0));
        assert!(f.model.starts_with("Pooled"));
    }
    let text = std::fs::read_to_string(&sub)?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7);
    assert!(lines[0].starts_with("id,F1,F2,") && lines[0].ends_with(",F28"));
    // Kaggle order: store CA_1 first, HOBBIES before HOUSEHOLD before FOODS.
    assert!(lines[1].starts_with("HOBBIES_1_002_CA_1_evaluation,"));
    assert!(lines[3].starts_with("FOODS_1_001_CA_1_evaluation,"));

    // Interrupted run: stop after 97 records (mid-day, mid-partition), reopen, finish.
    let (log_b, state_b) = (tmp.path().join("log-b"), tmp.path().join("state-b"));
    produce_sales(&open(&log_b)?).await?;
    let first = forecast(&log_b, &state_b, false, Some(97), None).await?;
    assert_eq!(first.records, 97);
    assert_eq!(first.rounds, 0);
    let second = forecast(&log_b, &state_b, true, None, None).await?;
    assert_eq!(
        second.records,
        210 - 97,
        "resumed exactly where the snapshot ended"
    );
    assert_eq!(second.series, 6);
    let b = published(&log_b).await?;
    assert_eq!(values(&a), values(&b));

    // A second --once run with nothing new: no records, the same last day, forecasts again.
    let third = forecast(&log_b, &state_b, true, None, None).await?;
    assert_eq!((third.records, third.last_day), (0, Some(DAYS)));
    Ok(())
}
