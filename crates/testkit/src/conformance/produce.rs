//! Producing: ordering, key placement, explicit partitions, and what a record carries.

use super::{CaseResult, ctx, new_topic, send_all};
use crate::Fixture;
use crate::known_keys::KNOWN_KEYS;
use crate::names::rand_suffix;
use crate::read::{DEFAULT_WAIT, poll_until, read_all};
use aisle_log::{
    ConsumerConfig, LogError, Offset, ProduceRecord, ProducerConfig, Record, TopicPartition,
    now_ms, partition_for_key,
};
use bytes::Bytes;
use std::collections::HashMap;

/// Several tasks send through one shared producer at once, pipelining (all sends before any
/// delivery is awaited). Each task's records must be stored in its send order, and every
/// delivery report must name the offset the record is read back at.
pub async fn per_partition_order_under_concurrent_sends(f: &dyn Fixture) -> CaseResult {
    const TASKS: usize = 4;
    const PER_TASK: usize = 250;
    let log = f.log().await?;
    // More tasks than partitions: at least two tasks interleave on one partition.
    let topic = new_topic(&*log, "order", 3).await?;
    let producer = log.producer(&ProducerConfig::default())?;

    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let producer = producer.clone();
        let topic = topic.clone();
        tasks.push(tokio::spawn(async move {
            let recs = (0..PER_TASK).map(|seq| {
                ProduceRecord::new(&topic)
                    .key(format!("task-{t}"))
                    .value(format!("{t}:{seq}"))
            });
            send_all(&*producer, recs).await
        }));
    }
    let mut metas = Vec::new();
    for (t, task) in tasks.into_iter().enumerate() {
        let task_metas = task.await??;
        let want_p = partition_for_key(format!("task-{t}").as_bytes(), 3);
        for pair in task_metas.windows(2) {
            assert!(
                pair[0].offset < pair[1].offset,
                "{}: task {t} delivered out of order: {pair:?}",
                ctx(f, &topic)
            );
        }
        assert!(
            task_metas.iter().all(|m| m.partition == want_p),
            "{}: task {t}",
            ctx(f, &topic)
        );
        metas.push(task_metas);
    }

    // Read with a consumer of our own rather than `read_all`, which sorts: the order `poll`
    // returns is what is under test.
    let mut consumer = log.consumer(&ConsumerConfig::default())?;
    let every: Vec<_> = (0..3)
        .map(|p| (TopicPartition::new(&topic, p), Offset::Beginning))
        .collect();
    consumer.assign(&every)?;
    let records = poll_until(
        consumer.as_mut(),
        DEFAULT_WAIT,
        "reading the order topic",
        |_, c| c.is_caught_up(),
    )
    .await?;
    assert_eq!(
        records.len(),
        TASKS * PER_TASK,
        "{}: record count",
        ctx(f, &topic)
    );
    let by_value: HashMap<String, &Record> = records
        .iter()
        .map(|r| {
            (
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
                r,
            )
        })
        .collect();
    assert_eq!(
        by_value.len(),
        records.len(),
        "{}: duplicate values",
        ctx(f, &topic)
    );
    for (t, task_metas) in metas.iter().enumerate() {
        for (seq, meta) in task_metas.iter().enumerate() {
            let rec = by_value
                .get(&format!("{t}:{seq}"))
                .unwrap_or_else(|| panic!("{}: {t}:{seq} missing", ctx(f, &topic)));
            assert_eq!(
                (rec.partition, rec.offset),
                (meta.partition, meta.offset),
                "{}: delivery report of {t}:{seq} disagrees with the log",
                ctx(f, &topic)
            );
        }
    }
    // Read order within a partition is offset order.
    let mut last: HashMap<i32, i64> = HashMap::new();
    for r in &records {
        if let Some(prev) = last.insert(r.partition, r.offset) {
            assert!(
                prev < r.offset,
                "{}: offsets not increasing at {r:?}",
                ctx(f, &topic)
            );
        }
    }
    Ok(())
}

/// Keys without an explicit partition land where Kafka's Java client puts them: checked against
/// the table generated from kafka-clients (see [`crate::known_keys`]) and, for random keys,
/// against [`partition_for_key`].
pub async fn murmur2_placement_matches_java(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let producer = log.producer(&ProducerConfig::default())?;
    for partitions in [3, 10, 16] {
        let topic = new_topic(&*log, &format!("murmur2-{partitions}"), partitions).await?;
        let mut expected = Vec::new();
        for k in KNOWN_KEYS {
            let (_, want) = k
                .partitions
                .iter()
                .find(|(n, _)| *n == partitions)
                .copied()
                .expect("the table covers 3, 10 and 16 partitions");
            expected.push((k.key.to_owned(), want));
        }
        for _ in 0..100 {
            let key = format!("random-{}", rand_suffix(rand::random_range(1..24)));
            let want = partition_for_key(key.as_bytes(), partitions);
            expected.push((key, want));
        }
        let recs = expected.iter().map(|(key, _)| {
            ProduceRecord::new(&topic)
                .key(key.clone())
                .value(key.clone())
        });
        let metas = send_all(&*producer, recs).await?;
        for ((key, want), meta) in expected.iter().zip(&metas) {
            assert_eq!(
                meta.partition,
                *want,
                "{}: key {key:?} delivered to the wrong partition",
                ctx(f, &topic)
            );
        }
        let records = read_all(&*log, &topic).await?;
        assert_eq!(
            records.len(),
            expected.len(),
            "{}: record count",
            ctx(f, &topic)
        );
        let want: HashMap<&str, i32> = expected.iter().map(|(k, p)| (k.as_str(), *p)).collect();
        for r in &records {
            let key = std::str::from_utf8(r.key.as_deref().unwrap_or_default())?;
            assert_eq!(
                Some(&r.partition),
                want.get(key),
                "{}: key {key:?}",
                ctx(f, &topic)
            );
        }
    }
    Ok(())
}

/// An explicit partition wins over the key's hash; a partition the topic lacks is refused with
/// [`LogError::UnknownPartition`].
pub async fn explicit_partition(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "explicit", 4).await?;
    let producer = log.producer(&ProducerConfig::default())?;
    let key = "FOODS_3_090_CA_1";
    let hashed = partition_for_key(key.as_bytes(), 4);
    let other = (hashed + 1) % 4;
    let recs = vec![
        ProduceRecord::new(&topic)
            .key(key)
            .value("keyed")
            .partition(other),
        ProduceRecord::new(&topic).value("keyless").partition(3),
        ProduceRecord::new(&topic).value("anywhere"),
    ];
    let metas = send_all(&*producer, recs).await?;
    assert_eq!(
        metas[0].partition,
        other,
        "{}: explicit partition ignored",
        ctx(f, &topic)
    );
    assert_eq!(
        metas[1].partition,
        3,
        "{}: explicit partition ignored",
        ctx(f, &topic)
    );
    assert!(
        (0..4).contains(&metas[2].partition),
        "{}: {:?}",
        ctx(f, &topic),
        metas[2]
    );

    let records = read_all(&*log, &topic).await?;
    let keyed = records
        .iter()
        .find(|r| r.value.as_deref() == Some(b"keyed".as_slice()));
    assert_eq!(
        keyed.map(|r| r.partition),
        Some(other),
        "{}",
        ctx(f, &topic)
    );

    // Partition 4 of a 4-partition topic: refused at send or at delivery, promptly.
    let bad = ProduceRecord::new(&topic).value("nowhere").partition(4);
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        match producer.send(bad).await {
            Err(e) => Err(e),
            Ok(delivery) => delivery.await.map(|_| ()),
        }
    })
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "{}: producing to partition 4 neither failed nor succeeded in 30 s",
            ctx(f, &topic)
        )
    })?;
    match outcome {
        Err(LogError::UnknownPartition {
            topic: t,
            partition: 4,
            partitions: 4,
        }) => {
            assert_eq!(t, topic);
        }
        other => panic!(
            "{}: partition 4 of 4 gave {other:?}, want UnknownPartition",
            ctx(f, &topic)
        ),
    }
    Ok(())
}

/// Headers (order, repeats, empty values), explicit and default timestamps, tombstones, empty
/// keys, empty values and arbitrary bytes come back exactly as sent.
pub async fn round_trip_headers_timestamps_tombstones_empty_keys(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "roundtrip", 1).await?;
    let producer = log.producer(&ProducerConfig::default())?;
    let all_bytes: Bytes = (0..=255u8).collect::<Vec<u8>>().into();
    let event_time = 1_700_000_000_123;
    let sent = vec![
        ProduceRecord::new(&topic)
            .key("with-headers")
            .value("v")
            .timestamp(event_time)
            .header("trace", "abc")
            .header("empty", Bytes::new())
            .header("trace", "second")
            .header("binary", all_bytes.clone()),
        ProduceRecord::new(&topic)
            .key("deleted")
            .timestamp(event_time + 1), // tombstone
        ProduceRecord::new(&topic)
            .key(Bytes::new())
            .value("empty key")
            .timestamp(event_time + 2),
        ProduceRecord::new(&topic)
            .key("empty value")
            .value(Bytes::new())
            .timestamp(event_time + 3),
        ProduceRecord::new(&topic)
            .value("no key")
            .timestamp(event_time + 4),
        ProduceRecord::new(&topic)
            .key(all_bytes.clone())
            .value(all_bytes.clone())
            .timestamp(1),
        ProduceRecord::new(&topic)
            .key("now")
            .value("default timestamp"),
    ];
    let before = now_ms();
    let metas = send_all(&*producer, sent.clone()).await?;
    let after = now_ms();
    let records = read_all(&*log, &topic).await?;
    assert_eq!(
        records.len(),
        sent.len(),
        "{}: record count",
        ctx(f, &topic)
    );

    for ((s, r), m) in sent.iter().zip(&records).zip(&metas) {
        let at = format!("{} offset {}", ctx(f, &topic), r.offset);
        assert_eq!(
            (r.partition, r.offset),
            (m.partition, m.offset),
            "{at}: delivery report"
        );
        assert_eq!(r.topic, topic, "{at}");
        assert_eq!(r.key, s.key, "{at}: key");
        assert_eq!(r.value, s.value, "{at}: value (None = tombstone)");
        assert_eq!(r.headers, s.headers, "{at}: headers");
        match s.timestamp {
            Some(ts) => assert_eq!(r.timestamp, ts, "{at}: timestamp"),
            // Kafka's CreateTime is stamped by the client, so allow a little clock slack.
            None => assert!(
                (before - 1_000..=after + 1_000).contains(&r.timestamp),
                "{at}: default timestamp {} not within [{before}, {after}]",
                r.timestamp
            ),
        }
        assert_eq!(m.timestamp, r.timestamp, "{at}: delivery report timestamp");
    }
    assert_eq!(
        records[0].header("trace").map(|v| &v[..]),
        Some(b"abc".as_slice())
    );
    Ok(())
}

/// `send_batch` places, orders and reports records exactly as `send` does one by one: a batch
/// mixing keyed records, explicit partitions and headers, sent by two tasks at once, each task's
/// records followed by a plain `send`; every record is read back at the offset its batch
/// reported, in its task's order.
pub async fn send_batch_matches_send(f: &dyn Fixture) -> CaseResult {
    const PER_BATCH: usize = 1500;
    let log = f.log().await?;
    let topic = new_topic(&*log, "batch", 3).await?;
    let producer = log.producer(&ProducerConfig::default())?;
    let t0 = now_ms() - 60_000;
    let record = |t: usize, seq: usize| {
        let rec = ProduceRecord::new(&topic)
            .value(format!("{t}:{seq}"))
            .timestamp(t0 + seq as i64)
            .header("seq", seq.to_string());
        // Task 0: explicit partitions, rotating; task 1: by key.
        if t == 0 {
            rec.partition((seq % 3) as i32)
        } else {
            rec.key(format!("key-{}", seq % 5))
        }
    };
    let mut tasks = Vec::new();
    for t in 0..2 {
        let producer = producer.clone();
        let batch: Vec<_> = (0..PER_BATCH).map(|seq| record(t, seq)).collect();
        let last = record(t, PER_BATCH);
        tasks.push(tokio::spawn(async move {
            let batch = producer.send_batch(&batch).await?;
            let single = producer.send(last).await?;
            let mut metas = batch.await?;
            metas.push(single.await?);
            anyhow::Ok(metas)
        }));
    }
    let mut metas = Vec::new();
    for task in tasks {
        metas.push(task.await??);
    }
    let records = read_all(&*log, &topic).await?;
    assert_eq!(
        records.len(),
        2 * (PER_BATCH + 1),
        "{}: record count",
        ctx(f, &topic)
    );
    let at: HashMap<(i32, i64), &Record> = records
        .iter()
        .map(|r| ((r.partition, r.offset), r))
        .collect();
    for (t, task_metas) in metas.iter().enumerate() {
        assert_eq!(task_metas.len(), PER_BATCH + 1, "{}", ctx(f, &topic));
        let mut last_offset: HashMap<i32, i64> = HashMap::new();
        for (seq, meta) in task_metas.iter().enumerate() {
            let want = record(t, seq);
            let want_p = match (&want.partition, &want.key) {
                (Some(p), _) => *p,
                (None, Some(k)) => partition_for_key(k, 3),
                (None, None) => unreachable!("every record has a partition or a key"),
            };
            assert_eq!(meta.partition, want_p, "{}: {t}:{seq}", ctx(f, &topic));
            if let Some(prev) = last_offset.insert(meta.partition, meta.offset) {
                assert!(
                    prev < meta.offset,
                    "{}: {t}:{seq} stored out of send order",
                    ctx(f, &topic)
                );
            }
            let got = at.get(&(meta.partition, meta.offset)).unwrap_or_else(|| {
                panic!(
                    "{}: nothing at the offset reported for {t}:{seq}",
                    ctx(f, &topic)
                )
            });
            assert_eq!(got.value, want.value, "{}: {t}:{seq}", ctx(f, &topic));
            assert_eq!(got.key, want.key, "{}: {t}:{seq}", ctx(f, &topic));
            assert_eq!(got.timestamp, t0 + seq as i64, "{}", ctx(f, &topic));
            assert_eq!(
                got.header("seq").map(|v| &v[..]),
                Some(seq.to_string().as_bytes()),
                "{}: {t}:{seq}",
                ctx(f, &topic)
            );
        }
    }
    Ok(())
}
