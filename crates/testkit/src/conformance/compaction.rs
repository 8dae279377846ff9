//! Compacted topics: the latest value per key survives, tombstones delete.

use super::{CaseResult, ctx, send_all};
use crate::names::rand_topic;
use crate::read::read_all;
use crate::{Fixture, ROLL_KEY};
use aisle_log::{ProduceRecord, ProducerConfig, RecordMeta, TopicPartition};
use std::collections::BTreeMap;

/// Ten keys written three times each, interleaved; two then deleted; one deleted and written
/// again. After compaction each live key has exactly its latest value, at the offset it was
/// written (compaction never renumbers), and a deleted key has no value left (at most its
/// tombstone, which runtimes keep for a while).
pub async fn compaction_keeps_latest_value_and_honours_tombstones(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = rand_topic("compact");
    log.create_topic(&f.compacted_topic(&topic, 2)).await?;
    let producer = log.producer(&ProducerConfig::default())?;

    let mut writes: Vec<(String, Option<String>)> = Vec::new();
    for version in 1..=3 {
        for k in 0..10 {
            writes.push((format!("k{k}"), Some(format!("k{k}-v{version}"))));
        }
    }
    for k in ["k3", "k7", "k5"] {
        writes.push((k.to_owned(), None));
    }
    writes.push(("k5".to_owned(), Some("k5-v4".to_owned())));

    let recs = writes.iter().map(|(k, v)| {
        let rec = ProduceRecord::new(&topic).key(k.clone());
        match v {
            Some(v) => rec.value(v.clone()),
            None => rec,
        }
    });
    let metas = send_all(&*producer, recs).await?;
    // The last write of each key, and where it landed.
    let mut latest: BTreeMap<String, (Option<String>, RecordMeta)> = BTreeMap::new();
    for ((k, v), m) in writes.iter().zip(&metas) {
        latest.insert(k.clone(), (v.clone(), *m));
    }
    let mut highs = BTreeMap::new();
    for p in 0..2 {
        highs.insert(p, log.watermarks(&TopicPartition::new(&topic, p)).await?.1);
    }

    f.compact(&topic).await?;

    let records = read_all(&*log, &topic).await?;
    let survivors: Vec<_> = records
        .iter()
        .filter(|r| r.key.as_deref() != Some(ROLL_KEY.as_bytes()))
        .collect();
    assert!(
        survivors.len() < writes.len(),
        "{}: nothing was compacted",
        ctx(f, &topic)
    );
    for (key, (value, meta)) in &latest {
        let of_key: Vec<_> = survivors
            .iter()
            .filter(|r| r.key.as_deref() == Some(key.as_bytes()))
            .collect();
        let at = format!("{} key {key}", ctx(f, &topic));
        match value {
            Some(v) => {
                assert_eq!(
                    of_key.len(),
                    1,
                    "{at}: want only the latest value, got {of_key:?}"
                );
                assert_eq!(
                    of_key[0].value.as_deref(),
                    Some(v.as_bytes()),
                    "{at}: value"
                );
                assert_eq!(
                    (of_key[0].partition, of_key[0].offset),
                    (meta.partition, meta.offset),
                    "{at}: the survivor must keep its offset"
                );
            }
            None => {
                assert!(of_key.len() <= 1, "{at}: deleted key kept {of_key:?}");
                if let Some(r) = of_key.first() {
                    assert_eq!(r.value, None, "{at}: only the tombstone may remain");
                    assert_eq!(r.offset, meta.offset, "{at}: tombstone offset");
                }
            }
        }
    }
    // Compaction removes records, never offsets: the end of each partition does not move back.
    for (p, high) in highs {
        let (_, now) = log.watermarks(&TopicPartition::new(&topic, p)).await?;
        assert!(
            now >= high,
            "{}/{p}: high watermark went from {high} to {now}",
            ctx(f, &topic)
        );
    }

    // The topic stays writable, and a new value supersedes the compacted one on read.
    send_all(
        &*producer,
        [ProduceRecord::new(&topic).key("k0").value("k0-v9")],
    )
    .await?;
    let k0: Vec<_> = read_all(&*log, &topic)
        .await?
        .into_iter()
        .filter(|r| r.key.as_deref() == Some(b"k0".as_slice()))
        .collect();
    assert_eq!(
        k0.last().and_then(|r| r.value.as_deref()),
        Some(b"k0-v9".as_slice())
    );
    Ok(())
}
