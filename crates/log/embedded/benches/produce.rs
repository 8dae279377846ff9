//! Produce throughput through the `dyn Log` interface: ~200-byte values, `send` then `flush`,
//! with the default group commit (`FsyncPolicy::Interval`, 10 ms). Also a full consume.
//!
//! `cargo bench -p aisle-log-embedded --bench produce`

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use aisle_log::{
    ConsumerConfig, Log, Offset, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec,
};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const RECORDS: u64 = 500_000;
const PARTITIONS: i32 = 4;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn Log> =
        Arc::new(EmbeddedLog::open(dir.path(), EmbeddedConfig::default()).unwrap());
    rt.block_on(log.create_topic(&TopicSpec::new("bench", PARTITIONS).retention_ms(-1)))
        .unwrap();
    let value = bytes::Bytes::from(vec![b'x'; 200]);
    let keys: Vec<bytes::Bytes> = (0..1000)
        .map(|i| bytes::Bytes::from(format!("FOODS_3_{i:03}_CA_1")))
        .collect();

    let mut g = c.benchmark_group("embedded");
    g.throughput(Throughput::Elements(RECORDS));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("produce_200B_send_then_flush", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let p = log.producer(&ProducerConfig::default()).unwrap();
                let start = Instant::now();
                for _ in 0..iters {
                    for i in 0..RECORDS {
                        let r = ProduceRecord {
                            topic: "bench".into(),
                            key: Some(keys[(i % 1000) as usize].clone()),
                            value: Some(value.clone()),
                            ..Default::default()
                        };
                        drop(p.send(r).await.unwrap());
                    }
                    p.flush(Duration::from_secs(60)).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("consume_200B_all_partitions", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut c = log.consumer(&ConsumerConfig::default()).unwrap();
                    let parts: Vec<_> = (0..PARTITIONS)
                        .map(|p| (TopicPartition::new("bench", p), Offset::Beginning))
                        .collect();
                    c.assign(&parts).unwrap();
                    let mut n = 0u64;
                    while n < RECORDS {
                        n += c.poll(Duration::from_secs(5)).await.unwrap().len() as u64;
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
