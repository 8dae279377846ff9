//! The real M5 data replayed into a real Kafka broker (`AISLE_TEST_KAFKA`; skipped without one
//! unless `AISLE_REQUIRE_KAFKA=1`) on a fresh random topic: 853,720 records, 85,372 per store,
//! keys on their store's partition; a second run resumes from the log and sends nothing.

use crate::common;
use common::replay_all;

use aisle_sales::{ReplayOptions, Source};
use aisle_testkit::Fixture;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_real_replay_into_kafka_then_resume() {
    let Some(fixture) = aisle_testkit::KafkaFixture::from_env() else {
        return;
    };
    let Some(dir) = common::m5_dir() else { return };
    let log = fixture.log().await.unwrap();
    let topic = aisle_testkit::rand_topic("sales");
    let mut opts = ReplayOptions::new(Source::M5 { dir });
    opts.topic = topic.clone();
    let s = replay_all(&log, opts.clone()).await.unwrap();
    assert_eq!(s.sent, 853_720);
    println!(
        "kafka: {} records in {:.2} s ({:.0}/s)",
        s.sent,
        s.secs,
        s.rate()
    );

    let recs = aisle_testkit::read_all(log.as_ref(), &topic).await.unwrap();
    assert_eq!(recs.len(), 853_720);
    let mut per_partition = [0u64; 10];
    let mut seen = HashSet::new();
    for r in &recs {
        per_partition[r.partition as usize] += 1;
        let key = std::str::from_utf8(r.key.as_deref().unwrap()).unwrap();
        assert_eq!(
            aisle_events::topics::store_partition(&key[key.len() - 4..]),
            Some(r.partition)
        );
        // (series, day) once: the key names the series, the timestamp the day.
        assert!(
            seen.insert((r.partition, key.to_string(), r.timestamp)),
            "duplicate record for {key} at {}",
            r.timestamp
        );
    }
    assert_eq!(per_partition, [85_372; 10]);

    let again = replay_all(&log, opts).await.unwrap();
    assert_eq!((again.sent, again.resumed), (0, 853_720));
    log.delete_topic(&topic).await.ok();
}
