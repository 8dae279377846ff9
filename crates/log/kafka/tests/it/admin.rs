//! Topic administration against a real broker (AISLE_TEST_KAFKA).

use crate::common;

use aisle_log::{CleanupPolicy, Log, LogError, TopicPartition, TopicSpec};
use aisle_log_kafka::{KafkaConfig, KafkaLog};

#[tokio::test]
async fn create_describe_list_delete_round_trip() {
    let Some(log) = common::log().await else {
        return;
    };
    assert_eq!(log.runtime(), "kafka");
    let name = common::unique("admin");
    let spec = TopicSpec::new(&name, 3)
        .cleanup(CleanupPolicy::Compact)
        .retention_ms(3_600_000);
    assert!(
        log.create_topic(&spec).await.unwrap(),
        "first create makes the topic"
    );
    assert!(
        !log.create_topic(&spec).await.unwrap(),
        "second create reports it exists"
    );

    let info = log.describe_topic(&name).await.unwrap();
    assert_eq!(info.partitions, 3);
    assert_eq!(info.cleanup, CleanupPolicy::Compact);

    let listed = log.list_topics().await.unwrap();
    assert!(listed.iter().any(|t| t.name == name && t.partitions == 3));
    assert!(
        listed.iter().all(|t| !t.name.starts_with("__")),
        "internal topics are hidden"
    );
    let names: Vec<_> = listed.iter().map(|t| t.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "list is sorted by name");

    assert_eq!(
        log.watermarks(&TopicPartition::new(&name, 2))
            .await
            .unwrap(),
        (0, 0)
    );

    log.delete_topic(&name).await.unwrap();
    assert!(matches!(log.describe_topic(&name).await, Err(LogError::UnknownTopic(t)) if t == name));
    assert!(matches!(
        log.delete_topic(&name).await,
        Err(LogError::UnknownTopic(_))
    ));
}

#[tokio::test]
async fn bad_requests_name_the_topic() {
    let Some(log) = common::log().await else {
        return;
    };
    let missing = common::unique("missing");
    assert!(
        matches!(log.describe_topic(&missing).await, Err(LogError::UnknownTopic(t)) if t == missing)
    );
    let err = log
        .create_topic(&TopicSpec::new("has space", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LogError::InvalidArgument(ref m) if m.contains("has space")),
        "{err}"
    );
    // One broker cannot hold 5 replicas; the broker's refusal becomes InvalidArgument.
    let name = common::unique("rf");
    let err = log
        .create_topic(&TopicSpec::new(&name, 1).replication(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LogError::InvalidArgument(ref m) if m.contains(&name)),
        "{err}"
    );

    let topic = common::topic(&log, "wm", 2).await;
    let err = log
        .watermarks(&TopicPartition::new(&topic, 7))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LogError::UnknownPartition {
                partition: 7,
                partitions: 2,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn connect_to_nothing_names_the_bootstrap() {
    if common::bootstrap().is_none() {
        return;
    }
    let mut config = KafkaConfig::new("127.0.0.1:1");
    config.connect_timeout_ms = 1_000;
    let err = KafkaLog::connect(config).await.unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    assert!(err.is_retriable());
}
