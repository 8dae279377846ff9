//! Property test against an in-memory model: any mix of produces, transactions (committed or
//! aborted) and reopens reads back exactly what the model holds.

use crate::common;

use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog, FsyncPolicy, verify};
use common::read_all;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Produce {
        partition: i32,
        key: u8,
        value: Option<Vec<u8>>,
    },
    Tx {
        records: Vec<(i32, u8)>,
        commit: bool,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2i32, any::<u8>(), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)))
            .prop_map(|(partition, key, value)| Op::Produce { partition, key, value }),
        2 => (proptest::collection::vec((0..2i32, any::<u8>()), 0..5), any::<bool>())
            .prop_map(|(records, commit)| Op::Tx { records, commit }),
        1 => Just(Op::Reopen),
    ]
}

type Model = Vec<Vec<(Vec<u8>, Option<Vec<u8>>)>>;

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = EmbeddedConfig {
        fsync: FsyncPolicy::Never,
        segment_bytes: 2048,
        index_interval_bytes: 100,
        cleaner_interval_ms: 0,
        ..EmbeddedConfig::default()
    };
    let mut log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
    log.create_topic(&TopicSpec::new("m", 2)).await.unwrap();
    let mut model: Model = vec![Vec::new(), Vec::new()];
    for op in ops {
        match op {
            Op::Produce {
                partition,
                key,
                value,
            } => {
                let p = log.producer(&ProducerConfig::default()).unwrap();
                let mut r = ProduceRecord::new("m").partition(partition).key(vec![key]);
                r.value = value.clone().map(Into::into);
                let meta = p.send(r).await.unwrap().await.unwrap();
                assert_eq!(meta.offset as usize, model[partition as usize].len());
                model[partition as usize].push((vec![key], value));
            }
            Op::Tx { records, commit } => {
                let mut tx = log
                    .tx_producer("tx", &ProducerConfig::default())
                    .await
                    .unwrap();
                tx.begin().await.unwrap();
                for (p, k) in &records {
                    tx.send(
                        ProduceRecord::new("m")
                            .partition(*p)
                            .key(vec![*k])
                            .value(vec![*k; 3]),
                    )
                    .await
                    .unwrap();
                }
                if commit {
                    tx.commit().await.unwrap();
                    for (p, k) in records {
                        model[p as usize].push((vec![k], Some(vec![k; 3])));
                    }
                } else {
                    tx.abort().await.unwrap();
                }
            }
            Op::Reopen => {
                drop(log);
                log = EmbeddedLog::open(dir.path(), cfg.clone()).unwrap();
            }
        }
    }
    for (p, want) in model.iter().enumerate() {
        let got: Vec<_> = read_all(&log, "m", p as i32)
            .await
            .into_iter()
            .map(|r| (r.key.unwrap().to_vec(), r.value.map(|v| v.to_vec())))
            .collect();
        assert_eq!(&got, want, "partition {p}");
    }
    drop(log);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        report.total_records() as usize,
        model.iter().map(Vec::len).sum::<usize>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}
