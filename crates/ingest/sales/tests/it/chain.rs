//! Synthetic chains of many stores sharing partitions: 100 stores × 20 items on 10 partitions.
//! Every record lands on `chain_partition(store, 10)` and each store's records are exact; a
//! crash at any point (each partition cut to an arbitrary prefix of what the run wrote: the state
//! kill -9 leaves, as the producer is idempotent) or a shutdown mid-run, then a rerun, gives
//! every (series, day) exactly once, byte for byte what one uninterrupted run writes; a topic
//! with another partition count is refused. The same chain runs on Kafka with
//! `AISLE_TEST_KAFKA`.

use crate::common;
use common::replay_all;

use aisle_events::topics::{self, chain_partition, chain_store, chain_store_index};
use aisle_events::{Event, SalesRecord};
use aisle_log::{Log, ProduceRecord, ProducerConfig, Record, TopicSpec};
use aisle_sales::{Chain, Observer, Quiet, ReplayOptions, Source, Speed, Summary};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const STORES: usize = 100;
const ITEMS: u32 = 20;
const DAYS: u32 = 30;
const PER_STORE: u64 = ITEMS as u64 * DAYS as u64;
const TOTAL: u64 = STORES as u64 * PER_STORE;

fn chain_opts(topic: &str) -> ReplayOptions {
    let mut opts = ReplayOptions::new(Source::Chain(Chain::new(STORES, ITEMS).unwrap()));
    opts.days = Some((1, DAYS));
    opts.partitions = Some(10);
    opts.topic = topic.into();
    // Paced fast: each store sends a batch per day, so stores interleave finely in a partition.
    opts.speed = Speed::DaysPerSecond(600.0);
    opts
}

/// (series key, day) → (partition, value bytes), failing on a duplicate, a record on another
/// partition than its store's, or days out of order within a store.
fn check_layout(recs: &[Record]) -> HashMap<(String, i32), (i32, Vec<u8>)> {
    let mut out = HashMap::new();
    let mut last_day: HashMap<String, i32> = HashMap::new();
    for r in recs {
        let (_, datum) = aisle_events::wire::split(r.value.as_ref().unwrap()).unwrap();
        let sale = SalesRecord::decode(datum).unwrap();
        let store = chain_store_index(&sale.store_id).unwrap();
        assert!(store < STORES, "{}", sale.store_id);
        assert_eq!(r.partition, chain_partition(store, 10), "{}", sale.key());
        assert_eq!(r.key.as_deref().unwrap(), sale.key().as_bytes());
        let day = last_day.entry(sale.store_id.clone()).or_default();
        assert!(
            sale.day >= *day,
            "{} d_{} after d_{day}",
            sale.key(),
            sale.day
        );
        *day = sale.day;
        let dup = out.insert(
            (sale.key(), sale.day),
            (r.partition, r.value.as_ref().unwrap().to_vec()),
        );
        assert!(dup.is_none(), "duplicate {} d_{}", sale.key(), sale.day);
    }
    out
}

/// The store id of a series key `ITEM_STORE`.
fn store_of(key: &Option<bytes::Bytes>) -> String {
    let key = std::str::from_utf8(key.as_deref().unwrap()).unwrap();
    let parts: Vec<&str> = key.rsplitn(3, '_').collect();
    format!("{}_{}", parts[1], parts[0])
}

fn per_store(recs: &HashMap<(String, i32), (i32, Vec<u8>)>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (key, _) in recs.keys() {
        let store = store_of(&Some(bytes::Bytes::from(key.clone())));
        *out.entry(store).or_default() += 1;
    }
    out
}

fn assert_complete(recs: &HashMap<(String, i32), (i32, Vec<u8>)>) {
    let counts = per_store(recs);
    assert_eq!(counts.len(), STORES);
    for i in 0..STORES {
        assert_eq!(
            counts.get(&chain_store(i)),
            Some(&PER_STORE),
            "{}",
            chain_store(i)
        );
    }
}

async fn sorted(log: &dyn Log, topic: &str) -> Vec<Record> {
    let mut recs = aisle_testkit::read_all(log, topic).await.unwrap();
    recs.sort_by_key(|r| (r.partition, r.offset));
    recs
}

/// A full run, its records, and checks of the layout and counts.
async fn reference(log: &Arc<dyn Log>, topic: &str) -> Vec<Record> {
    let s = replay_all(log, chain_opts(topic)).await.unwrap();
    assert_eq!((s.sent, s.resumed, s.partitions), (TOTAL, 0, 10));
    assert_eq!(s.per_store.len(), STORES);
    assert!(s.per_store.iter().all(|(_, n)| *n == PER_STORE));
    assert_eq!(s.per_store[57].0, chain_store(57));
    let recs = sorted(log.as_ref(), topic).await;
    assert_eq!(recs.len() as u64, TOTAL);
    assert_complete(&check_layout(&recs));
    // Ten stores on each partition, interleaved (not one store after another).
    let p7: Vec<&Record> = recs.iter().filter(|r| r.partition == 7).collect();
    let switches = p7
        .windows(2)
        .filter(|w| store_of(&w[0].key) != store_of(&w[1].key))
        .count();
    println!(
        "partition 7: {switches} store switches in {} records",
        p7.len()
    );
    assert!(
        switches > 10,
        "partition 7 is not interleaved: {switches} store switches"
    );
    recs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_100_stores_on_10_partitions_then_a_rerun_sends_nothing() {
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    reference(&log, topics::SALES).await;
    let again = replay_all(&log, chain_opts(topics::SALES)).await.unwrap();
    assert_eq!((again.sent, again.resumed), (0, TOTAL));

    // A store list names chain stores; others are untouched (here: already complete).
    let mut some = chain_opts(topics::SALES);
    some.stores = vec!["CA_1".into(), chain_store(57)];
    let s = replay_all(&log, some.clone()).await.unwrap();
    assert_eq!((s.sent, s.resumed), (0, 2 * PER_STORE));
    assert_eq!(
        s.per_store.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["CA_1", chain_store(57).as_str()]
    );
    some.stores = vec![chain_store(STORES)];
    let e = replay_all(&log, some).await.unwrap_err();
    assert!(e.to_string().contains("unknown store"), "{e}");
}

/// Copies the first `cuts[p]` records of each partition of `from` to a new topic `to`: what a
/// crash leaves of a run (each partition a prefix of the interleaved stream of its stores).
async fn crash_copy(log: &dyn Log, recs: &[Record], to: &str, cuts: &[usize; 10]) -> usize {
    log.create_topic(&TopicSpec::new(to, 10).retention_ms(-1))
        .await
        .unwrap();
    let producer = log.producer(&ProducerConfig::default()).unwrap();
    let mut kept = Vec::new();
    for (p, cut) in cuts.iter().enumerate() {
        kept.extend(recs.iter().filter(|r| r.partition == p as i32).take(*cut));
    }
    let batch: Vec<ProduceRecord> = kept
        .iter()
        .map(|r| ProduceRecord {
            topic: to.into(),
            partition: Some(r.partition),
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r.headers.clone(),
            timestamp: Some(r.timestamp),
        })
        .collect();
    for chunk in batch.chunks(4096) {
        producer.send_batch(chunk).await.unwrap().await.unwrap();
    }
    kept.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_point_then_a_rerun_gives_every_record_exactly_once() {
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    let recs = reference(&log, "whole").await;
    let want = check_layout(&recs);
    let len = |p: i32| recs.iter().filter(|r| r.partition == p).count();
    let full = len(0);
    // Partitions cut empty, after one record (nine stores of it never wrote: read back to the
    // beginning), mid-batch, mid-way, one short of the end, and complete.
    let cut_sets: [[usize; 10]; 3] = [
        [0, 1, 7, 333, full / 2, len(5) - 1, len(6), 2047, 4099, 1],
        [full - 1, 0, 0, 10, 11, 12, 5000, len(7) - 2, 1, len(9)],
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ];
    for (n, cuts) in cut_sets.iter().enumerate() {
        let topic = format!("crashed-{n}");
        let kept = crash_copy(log.as_ref(), &recs, &topic, cuts).await;
        let s = replay_all(&log, chain_opts(&topic)).await.unwrap();
        assert_eq!(
            (s.resumed, s.sent),
            (kept as u64, TOTAL - kept as u64),
            "cuts {cuts:?}"
        );
        let got = check_layout(&sorted(log.as_ref(), &topic).await);
        assert_complete(&got);
        assert!(
            got == want,
            "cuts {cuts:?}: values differ from one uninterrupted run"
        );
    }
}

/// Counts records sent and fires a shutdown after `after` of them.
struct StopAfter {
    sent: AtomicU64,
    after: u64,
    stop: tokio::sync::Notify,
}

impl Observer for StopAfter {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn sent(&self, _: &str, n: u64) {
        if self.sent.fetch_add(n, Ordering::SeqCst) + n >= self.after {
            self.stop.notify_one();
        }
    }
    fn finish(&self, _: &str) {}
}

/// Runs `opts` with a shutdown after about `after` records, then again to the end.
async fn stop_then_rerun(
    log: &Arc<dyn Log>,
    opts: ReplayOptions,
    after: u64,
) -> (Summary, Summary) {
    let registry = aisle_testkit::local_registry(log.clone()).await.unwrap();
    let observer = Arc::new(StopAfter {
        sent: AtomicU64::new(0),
        after,
        stop: tokio::sync::Notify::new(),
    });
    let o = observer.clone();
    let shutdown = async move { o.stop.notified().await };
    let first = aisle_sales::replay(
        log.clone(),
        registry.clone(),
        opts.clone(),
        observer,
        shutdown,
    )
    .await
    .unwrap();
    let rest = aisle_sales::replay(
        log.clone(),
        registry,
        opts,
        Arc::new(Quiet),
        std::future::pending(),
    )
    .await
    .unwrap();
    (first, rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_mid_run_then_a_rerun_gives_every_record_exactly_once() {
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    let mut opts = chain_opts(topics::SALES);
    opts.speed = Speed::DaysPerSecond(60.0);
    let (first, rest) = stop_then_rerun(&log, opts, TOTAL / 3).await;
    assert!(first.stopped && first.sent < TOTAL, "{first:?}");
    assert_eq!((rest.resumed, rest.sent), (first.sent, TOTAL - first.sent));
    assert_complete(&check_layout(&sorted(log.as_ref(), topics::SALES).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_with_another_partition_count_is_refused() {
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    log.create_topic(&TopicSpec::new(topics::SALES, 10))
        .await
        .unwrap();
    // A chain of 100 is one partition per store by default: 100, not the topic's 10.
    let mut opts = chain_opts(topics::SALES);
    opts.partitions = None;
    let e = replay_all(&log, opts.clone()).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("topic sales has 10 partitions") && msg.contains("expects 100"),
        "{msg}"
    );
    // M5's shape on 4 partitions: refused too; nothing was sent.
    let mut m5 = ReplayOptions::new(Source::Synthetic);
    m5.days = Some((1, 2));
    m5.partitions = Some(4);
    let e = replay_all(&log, m5.clone()).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("has 10 partitions, and this replay expects 4"),
        "{e}"
    );
    assert!(
        aisle_testkit::read_all(log.as_ref(), topics::SALES)
            .await
            .unwrap()
            .is_empty()
    );
    // The default M5 shape fits the 10 partitions: store index = partition.
    m5.partitions = None;
    let s = replay_all(&log, m5).await.unwrap();
    assert_eq!(s.sent, 2 * 30_490);
    for r in aisle_testkit::read_all(log.as_ref(), topics::SALES)
        .await
        .unwrap()
    {
        let key = std::str::from_utf8(r.key.as_deref().unwrap()).unwrap();
        assert_eq!(
            topics::store_partition(&key[key.len() - 4..]),
            Some(r.partition)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m5_stores_share_partitions_and_resume() {
    // M5's ten stores on 3 partitions (0: CA_1, CA_4, TX_3, WI_3), stopped mid-run, resumed.
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    let mut opts = ReplayOptions::new(Source::Synthetic);
    opts.days = Some((1, 6));
    opts.partitions = Some(3);
    opts.speed = Speed::DaysPerSecond(40.0);
    let total = 6 * 30_490;
    let (first, rest) = stop_then_rerun(&log, opts, total / 2).await;
    assert!(first.stopped, "{first:?}");
    assert_eq!((rest.resumed + rest.sent, rest.partitions), (total, 3));
    let recs = aisle_testkit::read_all(log.as_ref(), topics::SALES)
        .await
        .unwrap();
    assert_eq!(recs.len() as u64, total);
    let mut seen = std::collections::HashSet::new();
    for r in &recs {
        let key = std::str::from_utf8(r.key.as_deref().unwrap()).unwrap();
        let store = chain_store_index(&key[key.len() - 4..]).unwrap();
        assert_eq!(r.partition, chain_partition(store, 3));
        assert!(
            seen.insert((key.to_string(), r.timestamp)),
            "duplicate {key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_on_kafka_stopped_and_resumed_exactly_once() {
    let Some(fixture) = aisle_testkit::KafkaFixture::from_env() else {
        return;
    };
    use aisle_testkit::Fixture;
    let log = fixture.log().await.unwrap();
    let topic = aisle_testkit::rand_topic("sales-chain");
    let (first, rest) = stop_then_rerun(&log, chain_opts(&topic), TOTAL / 2).await;
    assert!(first.stopped && first.sent < TOTAL, "{first:?}");
    assert_eq!((rest.resumed, rest.sent), (first.sent, TOTAL - first.sent));
    assert_eq!(log.describe_topic(&topic).await.unwrap().partitions, 10);
    let recs = sorted(log.as_ref(), &topic).await;
    assert_eq!(recs.len() as u64, TOTAL);
    assert_complete(&check_layout(&recs));
    let again = replay_all(&log, chain_opts(&topic)).await.unwrap();
    assert_eq!((again.sent, again.resumed), (0, TOTAL));
    log.delete_topic(&topic).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_from_another_chain_shape_is_refused() {
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    let mut opts = chain_opts(topics::SALES);
    opts.speed = Speed::Max;
    opts.days = Some((1, 2));
    replay_all(&log, opts.clone()).await.unwrap();
    // Fewer stores on the same partitions: records of stores 50..99 are not this chain's.
    let mut fewer = opts.clone();
    fewer.source = Source::Chain(Chain::new(50, ITEMS).unwrap());
    let e = replay_all(&log, fewer).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("not a series of a store of this replay mapped to partition"),
        "{e}"
    );
    // Other items per store: the stores' rows no longer match.
    let mut wider = opts.clone();
    wider.source = Source::Chain(Chain::new(STORES, ITEMS + 5).unwrap());
    let e = replay_all(&log, wider).await.unwrap_err();
    assert!(e.to_string().contains("use another --topic"), "{e}");
    let n = aisle_testkit::read_all(log.as_ref(), topics::SALES)
        .await
        .unwrap()
        .len();
    assert_eq!(
        n as u64,
        STORES as u64 * ITEMS as u64 * 2,
        "nothing more was sent"
    );
}
