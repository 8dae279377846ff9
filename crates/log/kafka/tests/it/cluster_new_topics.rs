//! On a 3-broker cluster a topic created a moment ago is usable at once from fresh clients:
//! it is described, its watermarks answer and a record lands. This is what the registry does
//! with `_schemas` on start. The brokers' metadata catches up with the controller a few
//! milliseconds apart, and an early "unknown topic" from a broker that had not caught up once
//! failed a replay in CI.
//!
//! Needs `scripts/kafka-up --brokers 3` and `AISLE_TEST_KAFKA_CLUSTER=<bootstrap>`; skipped
//! without it, unless `AISLE_REQUIRE_KAFKA_CLUSTER=1`.

use crate::common;

use aisle_log::{
    CleanupPolicy, Log, LogError, ProduceRecord, ProducerConfig, TopicPartition, TopicSpec,
};
use aisle_log_kafka::{KafkaConfig, KafkaLog};

/// Topics created, each followed at once by the reads and the write.
const ROUNDS: usize = 12;

fn cluster() -> Option<String> {
    match std::env::var("AISLE_TEST_KAFKA_CLUSTER") {
        Ok(b) if !b.trim().is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("AISLE_REQUIRE_KAFKA_CLUSTER").map_or(true, |v| v.trim() != "1"),
                "AISLE_REQUIRE_KAFKA_CLUSTER=1 but AISLE_TEST_KAFKA_CLUSTER is unset"
            );
            eprintln!("skipped: set AISLE_TEST_KAFKA_CLUSTER (scripts/kafka-up --brokers 3)");
            None
        }
    }
}

#[tokio::test]
async fn a_just_created_topic_is_described_answers_watermarks_and_takes_a_record() {
    let Some(bootstrap) = cluster() else {
        return;
    };
    for round in 0..ROUNDS {
        // A new connection each round, as a process starting up would have.
        let log = KafkaLog::connect(KafkaConfig::new(bootstrap.clone()))
            .await
            .unwrap();
        let name = common::unique("fresh");
        // Alternately like the registry's `_schemas` (compacted, one replica) and like
        // `sales` in the fault test (three replicas, two in sync).
        let spec = if round % 2 == 0 {
            TopicSpec::new(&name, 1).cleanup(CleanupPolicy::Compact)
        } else {
            TopicSpec::new(&name, 1)
                .replication(3)
                .config("min.insync.replicas", "2")
        };
        assert!(log.create_topic(&spec).await.unwrap(), "round {round}");
        // Another client, as another process would be, sees it too.
        let other = KafkaLog::connect(KafkaConfig::new(bootstrap.clone()))
            .await
            .unwrap();
        let info = other.describe_topic(&name).await;
        assert_eq!(
            info.ok().map(|i| i.partitions),
            Some(1),
            "round {round}: describe {name}"
        );
        let tp = TopicPartition::new(&name, 0);
        let marks = log.watermarks(&tp).await;
        assert_eq!(
            marks.ok(),
            Some((0, 0)),
            "round {round}: watermarks of {name}"
        );
        let producer = log.producer(&ProducerConfig::default()).unwrap();
        let delivered = producer
            .send(ProduceRecord::new(&name).partition(0).key("k").value("x"))
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(delivered.offset, 0, "round {round}");
        assert_eq!(log.watermarks(&tp).await.unwrap(), (0, 1), "round {round}");
        log.delete_topic(&name).await.unwrap();
    }
    // A topic that never existed is still refused, once the grace has passed.
    let log = KafkaLog::connect(KafkaConfig::new(bootstrap))
        .await
        .unwrap();
    let missing = common::unique("never");
    match log.describe_topic(&missing).await {
        Err(LogError::UnknownTopic(t)) => assert_eq!(t, missing),
        other => panic!("describe a missing topic: {other:?}"),
    }
    match log.watermarks(&TopicPartition::new(&missing, 0)).await {
        Err(LogError::UnknownTopic(t)) => assert_eq!(t, missing),
        other => panic!("watermarks of a missing topic: {other:?}"),
    }
}
