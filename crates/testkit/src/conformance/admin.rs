//! Topic administration and the errors for topics that do not exist.

use super::{CaseResult, ctx};
use crate::Fixture;
use crate::names::rand_topic;
use crate::read::{DEFAULT_WAIT, POLL_STEP};
use aisle_log::{CleanupPolicy, LogError, ProduceRecord, ProducerConfig, TopicSpec};
use std::time::Duration;
use tokio::time::Instant;

/// Create (once: the second create reports `false`), list, describe and delete.
pub async fn topic_admin(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let name = rand_topic("admin");
    let spec = TopicSpec::new(&name, 5);
    assert!(
        log.create_topic(&spec).await?,
        "{}: first create",
        ctx(f, &name)
    );
    assert!(
        !log.create_topic(&spec).await?,
        "{}: second create must report false",
        ctx(f, &name)
    );

    let info = log.describe_topic(&name).await?;
    assert_eq!(
        (info.name.as_str(), info.partitions),
        (name.as_str(), 5),
        "{}",
        ctx(f, &name)
    );
    assert_eq!(info.cleanup, CleanupPolicy::Delete, "{}", ctx(f, &name));

    let compacted = rand_topic("admin-compact");
    log.create_topic(&f.compacted_topic(&compacted, 2)).await?;
    assert_eq!(
        log.describe_topic(&compacted).await?.cleanup,
        CleanupPolicy::Compact
    );

    let listed = log.list_topics().await?;
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert!(
        names.contains(&name.as_str()) && names.contains(&compacted.as_str()),
        "{names:?}"
    );
    assert!(
        names.windows(2).all(|w| w[0] <= w[1]),
        "list_topics must be sorted: {names:?}"
    );
    assert!(
        names.iter().all(|n| !n.starts_with("__")),
        "internal topics listed: {names:?}"
    );

    log.delete_topic(&name).await?;
    // Kafka deletes asynchronously; the topic must disappear within the deadline.
    let deadline = Instant::now() + DEFAULT_WAIT;
    loop {
        match log.describe_topic(&name).await {
            Err(LogError::UnknownTopic(t)) => {
                assert_eq!(t, name);
                break;
            }
            Ok(_) if Instant::now() < deadline => tokio::time::sleep(POLL_STEP).await,
            other => panic!("{}: after delete, describe gave {other:?}", ctx(f, &name)),
        }
    }
    Ok(())
}

/// A topic that does not exist is [`LogError::UnknownTopic`] naming it, for describe and produce;
/// producing does not create it.
pub async fn unknown_topic(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let name = rand_topic("unknown");
    match log.describe_topic(&name).await {
        Err(LogError::UnknownTopic(t)) => assert_eq!(t, name),
        other => panic!(
            "[{}] describe {name}: {other:?}, want UnknownTopic",
            f.name()
        ),
    }
    let producer = log.producer(&ProducerConfig::default())?;
    // 45 s: librdkafka itself gives up on a missing topic after `topic.metadata.propagation.max.ms`
    // (30 s by default); a runtime may check metadata sooner, but need not.
    let outcome = tokio::time::timeout(Duration::from_secs(45), async {
        match producer
            .send(ProduceRecord::new(&name).key("k").value("v"))
            .await
        {
            Err(e) => Err(e),
            Ok(delivery) => delivery.await.map(|_| ()),
        }
    })
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "[{}] producing to missing {name} did not fail in 45 s",
            f.name()
        )
    })?;
    match outcome {
        Err(LogError::UnknownTopic(t)) => assert_eq!(t, name),
        other => panic!(
            "[{}] produce to {name}: {other:?}, want UnknownTopic",
            f.name()
        ),
    }
    match log.describe_topic(&name).await {
        Err(LogError::UnknownTopic(_)) => {}
        other => panic!("[{}] producing created {name}: {other:?}", f.name()),
    }
    Ok(())
}
