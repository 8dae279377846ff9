//! The streaming forecaster on the embedded runtime with a small synthetic `sales` stream:
//! forecasts are published for every series, the submission is written, a crash in the middle
//! of the stream (the run aborted once its history changelog has records, then rerun: history
//! restored from the changelog) ends with exactly the forecasts of an uninterrupted run, and two
//! instances in one consumer group publish what one does, no forecast twice.

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

/// `s` framed with schema `id`, keyed by its series, for `partition`.
fn record(id: u32, s: &SalesRecord, partition: i32) -> anyhow::Result<ProduceRecord> {
    let mut value = Vec::new();
    wire::write_header(&mut value, id);
    s.encode(&mut value)?;
    Ok(ProduceRecord::new(topics::SALES)
        .key(s.key().into_bytes())
        .value(value)
        .partition(partition))
}

/// Creates `sales` (2 partitions) and writes every record, store = partition.
async fn produce_sales(log: &Arc<dyn Log>) -> anyhow::Result<()> {
    produce_sales_except(log, |_, _, _| false).await
}

/// [`produce_sales`] without the records `skip(item, store, day)` names.
async fn produce_sales_except(
    log: &Arc<dyn Log>,
    skip: impl Fn(&str, &str, i32) -> bool,
) -> anyhow::Result<()> {
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
            for item in ITEMS.into_iter().filter(|i| !skip(i, store, day)) {
                let rec = record(id, &sale(item, store, day), p as i32)?;
                pending.push(producer.send(rec).await?);
            }
        }
    }
    for d in pending {
        d.await?;
    }
    Ok(())
}

fn options(once: bool, submission: Option<&Path>, instance: &str) -> RunOptions {
    let mut opts = RunOptions::new();
    opts.once = once;
    opts.submission = submission.map(Path::to_path_buf);
    opts.instance_id = Some(instance.into());
    opts.poll_timeout = std::time::Duration::from_millis(50);
    opts.commit_interval = std::time::Duration::from_millis(20);
    opts
}

async fn forecast(
    log: &Arc<dyn Log>,
    once: bool,
    submission: Option<&Path>,
) -> anyhow::Result<RunSummary> {
    let reg = registry(log).await?;
    let opts = options(once, submission, "a");
    let s = run(
        log.clone(),
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
async fn read_topic(log: &Arc<dyn Log>, topic: &str) -> anyhow::Result<Vec<aisle_log::Record>> {
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
async fn published(log: &Arc<dyn Log>) -> anyhow::Result<BTreeMap<String, SalesForecast>> {
    let mut out = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in read_topic(log, topics::SALES_FORECASTS).await? {
        let (_, datum) = wire::split(r.value.as_deref().unwrap()).unwrap();
        let f = SalesForecast::decode(datum)?;
        assert_eq!(r.key.as_deref(), Some(f.id.as_bytes()));
        assert!(
            seen.insert((f.id.clone(), f.first_day)),
            "{} from d_{} published twice",
            f.id,
            f.first_day
        );
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
async fn forecasts_every_series_and_a_crash_gives_the_same_forecasts() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let sub = tmp.path().join("sub.csv");

    // Uninterrupted run.
    let log_a = open(&tmp.path().join("log-a"))?;
    produce_sales(&log_a).await?;
    let s = forecast(&log_a, true, Some(&sub)).await?;
    assert_eq!(
        (s.records, s.series, s.last_day, s.rounds),
        (210, 6, Some(DAYS), 2),
        "one round per partition"
    );
    assert_eq!((s.published, s.skipped, s.gaps), (6, 1, 0));
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

    // A crash: the instance is dropped mid-stream (its open transaction never commits), then a
    // new one with the same instance id takes over from the changelog and committed offsets.
    let log_b = open(&tmp.path().join("log-b"))?;
    produce_sales(&log_b).await?;
    let reg = registry(&log_b).await?;
    let mut opts = options(false, None, "b");
    opts.commit_interval = std::time::Duration::from_millis(1);
    let crashed = tokio::spawn(run(
        log_b.clone(),
        reg,
        None,
        Arc::new(Pooled::default()),
        opts.clone(),
        std::future::pending(),
    ));
    // Until part of the history is committed: some changelog records, not all of them.
    let changelog = aisle_log::TopicPartition::new(opts.changelog_topic(), 0);
    loop {
        tokio::task::yield_now().await;
        if log_b
            .watermarks(&changelog)
            .await
            .is_ok_and(|(_, high)| high > 3)
        {
            break;
        }
    }
    crashed.abort();
    assert!(crashed.await.unwrap_err().is_cancelled());
    let second = forecast(&log_b, true, None).await?;
    assert!(second.records < 210, "resumed from the commit: {second:?}");
    assert_eq!(second.series, 6);
    let b = published(&log_b).await?;
    assert_eq!(values(&a), values(&b));

    // A second --once run with nothing new: no records, the same day, nothing published again.
    let third = forecast(&log_b, true, None).await?;
    assert_eq!(
        (third.records, third.last_day, third.published),
        (0, Some(DAYS), 0)
    );
    assert_eq!(values(&a), values(&published(&log_b).await?));
    Ok(())
}

/// Two instances in one group split the partitions and publish exactly what one does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_publish_what_one_does() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let one = open(&tmp.path().join("one"))?;
    produce_sales(&one).await?;
    forecast(&one, true, None).await?;
    let expected = values(&published(&one).await?);

    let two = open(&tmp.path().join("two"))?;
    two.create_topic(&TopicSpec::new(topics::SALES, 2)).await?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut members = Vec::new();
    for name in ["x", "y"] {
        let (log, reg) = (two.clone(), registry(&two).await?);
        let stop = stop.clone();
        members.push(tokio::spawn(async move {
            run(
                log,
                reg,
                None,
                Arc::new(Pooled::default()),
                options(false, None, name),
                async move { stop.notified().await },
            )
            .await
        }));
    }
    produce_sales(&two).await?;
    // Until every series' forecast from the last day is there.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        tokio::task::yield_now().await;
        let got = published(&two).await?;
        if got.len() == 6 && got.values().all(|f| f.first_day == DAYS + 1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after 120 s, forecasts from d_{}: {:?}",
            DAYS + 1,
            got.values()
                .map(|f| (&f.id, f.first_day))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.notify_waiters();
    let mut held = Vec::new();
    for m in members {
        held.push(m.await??.series);
    }
    assert_eq!(held, [3, 3], "each instance held one partition at the end");
    assert_eq!(values(&published(&two).await?), expected);
    Ok(())
}

/// A quiet series: a day some series lacks is not forecast while it is the last one (no
/// padding with 0); once a later day is complete it closes, and the missing series is reported
/// to `sales.gaps` (key `d_{day}/p{partition}`), not silently taken as 0 sold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_day_waits_then_is_reported() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let log = open(&tmp.path().join("log"))?;
    // TX_2 (partition 1): HOBBIES_1_002 has no d_20 and nothing after d_34.
    let quiet = |i: &str, s: &str, d: i32| i == ITEMS[1] && s == STORES[1] && (d == 20 || d > 34);
    produce_sales_except(&log, quiet).await?;
    let s = forecast(&log, true, None).await?;
    assert_eq!(s.gaps, 1, "d_20 on partition 1: {s:?}");
    let gaps = read_topic(&log, &format!("{}.gaps", topics::SALES)).await?;
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].key.as_deref(), Some(&b"d_20/p1"[..]));
    let report: serde_json::Value = serde_json::from_slice(gaps[0].value.as_deref().unwrap())?;
    assert_eq!(report["missing"], serde_json::json!(["HOBBIES_1_002_TX_2"]));
    assert_eq!(report["expected"], 3);
    let got = published(&log).await?;
    assert_eq!(got.len(), 6);
    for f in got.values() {
        // d_35 is incomplete on partition 1: it waits; partition 0 forecasts from d_36.
        let want = if f.id.ends_with("TX_2") {
            DAYS
        } else {
            DAYS + 1
        };
        assert_eq!(f.first_day, want, "{}", f.id);
    }

    // The late series' d_35 arrives: partition 1 closes d_35 and forecasts from d_36 once.
    let reg = registry(&log).await?;
    let id = reg
        .register(
            &topics::value_subject(topics::SALES),
            SalesRecord::SCHEMA_JSON,
        )
        .await?;
    let producer = log.producer(&ProducerConfig::default())?;
    let late = record(id, &sale(ITEMS[1], STORES[1], DAYS), 1)?;
    producer.send(late).await?.await?;
    let again = forecast(&log, true, None).await?;
    assert_eq!((again.records, again.published, again.gaps), (1, 3, 0));
    let got = published(&log).await?;
    assert!(got.values().all(|f| f.first_day == DAYS + 1), "{got:?}");
    Ok(())
}
