//! Topic administration: the Admin API for changes and configs, metadata for partitions.
//!
//! Kafka's `CreateTopics` and `DeleteTopics` return once the controller has accepted the change,
//! before every broker's metadata shows it. Aisle code creates a topic and produces to it at
//! once, so both calls here also wait until the metadata agrees (bounded by the operation
//! timeout) — otherwise the first produce could fail with "unknown topic".

use crate::{Inner, blocking, error};
use aisle_log::{CleanupPolicy, LogError, Result, TopicInfo, TopicPartition, TopicSpec};
use rdkafka::admin::{AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
use rdkafka::metadata::Metadata;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn options(inner: &Inner) -> AdminOptions {
    let t = inner.config.operation_timeout();
    AdminOptions::new()
        .request_timeout(Some(t))
        .operation_timeout(Some(t))
}

/// Checks a spec before sending it, so the error names the topic and the bad field.
fn validate(spec: &TopicSpec) -> Result<()> {
    let bad = |m: String| Err(LogError::InvalidArgument(m));
    if spec.name.is_empty() || spec.name.len() > 249 {
        return bad(format!(
            "topic name `{}` must be 1 to 249 characters",
            spec.name
        ));
    }
    if let Some(c) = spec
        .name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return bad(format!(
            "topic name `{}` has the character {c:?} (allowed: a-z A-Z 0-9 . _ -)",
            spec.name
        ));
    }
    if spec.partitions < 1 {
        return bad(format!(
            "topic `{}` needs at least 1 partition, got {}",
            spec.name, spec.partitions
        ));
    }
    if spec.replication < 1 {
        return bad(format!(
            "topic `{}` needs replication >= 1, got {}",
            spec.name, spec.replication
        ));
    }
    Ok(())
}

/// The replication factor a topic is created with: the spec's default (1) defers to the log's
/// (`-1`: the cluster's `default.replication.factor`); an explicit larger value wins.
fn replication_of(spec: i16, log: i16) -> i16 {
    match spec {
        1 => log,
        n => n.max(log),
    }
}

pub(crate) async fn create_topic(inner: &Arc<Inner>, spec: &TopicSpec) -> Result<bool> {
    validate(spec)?;
    let replication = replication_of(spec.replication, inner.config.replication);
    let retention = spec.retention_ms.map(|ms| ms.to_string());
    let mut topic = NewTopic::new(
        &spec.name,
        spec.partitions,
        TopicReplication::Fixed(i32::from(replication)),
    )
    .set("cleanup.policy", spec.cleanup.as_kafka());
    if let Some(ms) = &retention {
        topic = topic.set("retention.ms", ms);
    }
    for (k, v) in &spec.configs {
        topic = topic.set(k, v);
    }
    let results = inner
        .admin
        .create_topics([&topic], &options(inner))
        .await
        .map_err(|e| error::map(&format!("create topic `{}`", spec.name), e))?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((_, Code::TopicAlreadyExists)) => return Ok(false),
            Err((name, code)) => return Err(admin_error(&format!("create topic `{name}`"), code)),
        }
    }
    let name = spec.name.clone();
    wait_for_metadata(inner, &spec.name, move |m| {
        m.topics()
            .iter()
            .find(|t| t.name() == name)
            .is_some_and(|t| t.error().is_none() && t.partitions().iter().all(|p| p.leader() >= 0))
    })
    .await?;
    Ok(true)
}

/// Admin error codes that mean "the request was wrong" become `InvalidArgument`.
fn admin_error(what: &str, code: Code) -> LogError {
    match code {
        Code::InvalidPartitions
        | Code::InvalidReplicationFactor
        | Code::InvalidReplicaAssignment
        | Code::InvalidConfig
        | Code::InvalidTopic
        | Code::PolicyViolation => LogError::InvalidArgument(format!("{what}: {code}")),
        other => error::map(what, KafkaError::AdminOp(other)),
    }
}

/// Polls metadata until `done` holds or the operation timeout passes.
async fn wait_for_metadata<F>(inner: &Arc<Inner>, topic: &str, done: F) -> Result<()>
where
    F: Fn(&Metadata) -> bool + Send + Sync + 'static,
{
    let done = Arc::new(done);
    let deadline = Instant::now() + inner.config.operation_timeout();
    loop {
        let inner2 = inner.clone();
        let done2 = done.clone();
        let t = inner.config.operation_timeout();
        let ok = blocking(move || {
            inner2
                .admin
                .inner()
                .fetch_metadata(None, t)
                .map(|m| done2(&m))
        })
        .await?
        .map_err(|e| error::map(&format!("metadata for `{topic}`"), e))?;
        if ok {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LogError::Timeout(format!(
                "topic `{topic}`: the cluster metadata did not reflect the change within {} ms",
                inner.config.operation_timeout_ms
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Names and partition counts of the topics the metadata shows without an error.
async fn all_topics(inner: &Arc<Inner>) -> Result<Vec<(String, i32)>> {
    let inner2 = inner.clone();
    let t = inner.config.operation_timeout();
    let md = blocking(move || inner2.admin.inner().fetch_metadata(None, t))
        .await?
        .map_err(|e| error::map("metadata for all topics", e))?;
    Ok(md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
        .collect())
}

/// `cleanup.policy` of each topic, through DescribeConfigs.
async fn cleanup_policies(inner: &Arc<Inner>, topics: &[String]) -> Result<Vec<CleanupPolicy>> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let specs: Vec<_> = topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let results = inner
        .admin
        .describe_configs(&specs, &options(inner))
        .await
        .map_err(|e| error::map("describe topic configs", e))?;
    topics
        .iter()
        .zip(results)
        .map(|(topic, result)| {
            let resource = result.map_err(|code| match code {
                Code::UnknownTopicOrPartition => LogError::UnknownTopic(topic.clone()),
                code => admin_error(&format!("describe configs of `{topic}`"), code),
            })?;
            let value = resource
                .get("cleanup.policy")
                .and_then(|e| e.value.as_deref())
                .unwrap_or("delete");
            CleanupPolicy::from_kafka(value).ok_or_else(|| LogError::Kafka {
                message: format!("topic `{topic}` has an unknown cleanup.policy `{value}`"),
                retriable: false,
            })
        })
        .collect()
}

pub(crate) async fn list_topics(inner: &Arc<Inner>) -> Result<Vec<TopicInfo>> {
    let mut topics: Vec<(String, i32)> = all_topics(inner)
        .await?
        .into_iter()
        .filter(|(n, _)| !n.starts_with("__"))
        .collect();
    topics.sort();
    let names: Vec<String> = topics.iter().map(|(n, _)| n.clone()).collect();
    let policies = cleanup_policies(inner, &names).await?;
    Ok(topics
        .into_iter()
        .zip(policies)
        .map(|((name, partitions), cleanup)| TopicInfo {
            name,
            partitions,
            cleanup,
        })
        .collect())
}

pub(crate) async fn describe_topic(inner: &Arc<Inner>, topic: &str) -> Result<TopicInfo> {
    let partitions = partition_count(inner, topic).await?;
    let cleanup = cleanup_policies(inner, &[topic.to_owned()])
        .await?
        .remove(0);
    Ok(TopicInfo {
        name: topic.to_owned(),
        partitions,
        cleanup,
    })
}

/// How long the metadata must keep calling a topic unknown before it is believed. The brokers'
/// metadata catches up with the controller milliseconds apart, so a broker can still call a topic
/// unknown just after `create_topic` returned (seen on a fresh 3-broker cluster with the
/// registry's `_schemas`). Only a topic that is really missing pays this wait.
const UNKNOWN_TOPIC_GRACE: Duration = Duration::from_secs(2);

/// The topic's partition count, or `UnknownTopic` once the metadata has said so for
/// [`UNKNOWN_TOPIC_GRACE`]. A topic the broker names with a retriable error (e.g.
/// `LEADER_NOT_AVAILABLE` right after creation) is asked about again until the operation timeout.
pub(crate) async fn partition_count(inner: &Arc<Inner>, topic: &str) -> Result<i32> {
    let start = Instant::now();
    let deadline = start + inner.config.operation_timeout();
    let mut backoff = RETRY_BACKOFF;
    loop {
        let answer = partition_count_once(inner, topic).await;
        let retry = match &answer {
            Ok(_) => false,
            Err(LogError::UnknownTopic(_)) => start.elapsed() + backoff < UNKNOWN_TOPIC_GRACE,
            Err(e) => e.is_retriable() && Instant::now() + backoff < deadline,
        };
        if !retry {
            return answer;
        }
        retry_pause(&mut backoff).await;
    }
}

/// One metadata request for [`partition_count`].
async fn partition_count_once(inner: &Arc<Inner>, topic: &str) -> Result<i32> {
    let inner2 = inner.clone();
    let t = inner.config.operation_timeout();
    let owned = topic.to_owned();
    let what = format!("metadata for `{topic}`");
    let md = blocking(move || inner2.admin.inner().fetch_metadata(Some(&owned), t))
        .await?
        .map_err(|e| error::map(&what, e))?;
    crate::topics::partitions_in(&md, topic)
}

pub(crate) async fn delete_topic(inner: &Arc<Inner>, topic: &str) -> Result<()> {
    let results = inner
        .admin
        .delete_topics(&[topic], &options(inner))
        .await
        .map_err(|e| error::map(&format!("delete topic `{topic}`"), e))?;
    for result in results {
        match result {
            Ok(_) => {}
            Err((_, Code::UnknownTopicOrPartition)) => {
                return Err(LogError::UnknownTopic(topic.to_owned()));
            }
            Err((name, code)) => return Err(admin_error(&format!("delete topic `{name}`"), code)),
        }
    }
    let name = topic.to_owned();
    wait_for_metadata(inner, topic, move |m| {
        m.topics().iter().all(|t| t.name() != name)
    })
    .await
}

/// First pause between metadata or watermark attempts; doubles up to [`RETRY_MAX_BACKOFF`].
const RETRY_BACKOFF: Duration = Duration::from_millis(20);
const RETRY_MAX_BACKOFF: Duration = Duration::from_millis(500);

/// `(low, high)` of one partition through ListOffsets.
///
/// Right after `create_topic` the metadata can already name a leader while that broker is
/// still loading the partition and answers `NOT_LEADER_OR_FOLLOWER`; such retriable errors are
/// retried with a short backoff until the operation timeout, so callers see either the marks
/// or an error that will not go away by itself.
pub(crate) async fn watermarks(inner: &Arc<Inner>, tp: &TopicPartition) -> Result<(i64, i64)> {
    let deadline = Instant::now() + inner.config.operation_timeout();
    let mut backoff = RETRY_BACKOFF;
    loop {
        let inner2 = inner.clone();
        let (topic, partition) = (tp.topic.clone(), tp.partition);
        let t = deadline.saturating_duration_since(Instant::now());
        let result =
            blocking(move || inner2.admin.inner().fetch_watermarks(&topic, partition, t)).await?;
        let e = match result {
            Ok(marks) => return Ok(marks),
            Err(e) => e,
        };
        let code = e.rdkafka_error_code();
        if matches!(
            code,
            Some(Code::UnknownTopicOrPartition | Code::UnknownPartition | Code::UnknownTopic)
        ) {
            // Say which part of the request was wrong: the topic or the partition. If both
            // exist, the broker just did not know yet: retry like any transient error.
            let partitions = partition_count(inner, &tp.topic).await?;
            if !(0..partitions).contains(&tp.partition) {
                return Err(LogError::UnknownPartition {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    partitions,
                });
            }
        } else if !code.is_some_and(error::is_retriable) {
            return Err(error::map(&format!("watermarks of {tp}"), e));
        }
        if Instant::now() + backoff >= deadline {
            return Err(error::map(
                &format!(
                    "watermarks of {tp} (still failing after {} ms)",
                    inner.config.operation_timeout_ms
                ),
                e,
            ));
        }
        tracing::debug!(%tp, error = %e, "watermarks: retrying");
        retry_pause(&mut backoff).await;
    }
}

/// Sleeps `backoff`, then doubles it up to [`RETRY_MAX_BACKOFF`].
async fn retry_pause(backoff: &mut Duration) {
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(RETRY_MAX_BACKOFF);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_defers_to_the_log_then_to_the_cluster() {
        assert_eq!(replication_of(1, -1), -1, "the cluster's default");
        assert_eq!(replication_of(1, 3), 3);
        assert_eq!(replication_of(3, -1), 3, "an explicit spec wins");
        assert_eq!(replication_of(2, 3), 3);
    }

    #[test]
    fn validation_names_topic_and_field() {
        let e = validate(&TopicSpec::new("ok.topic_1-x", 0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ok.topic_1-x") && e.contains("partition"), "{e}");
        let e = validate(&TopicSpec::new("bad topic", 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad topic") && e.contains("' '"), "{e}");
        let e = validate(&TopicSpec::new("t", 1).replication(0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("replication"), "{e}");
        assert!(validate(&TopicSpec::new("sales", 10)).is_ok());
    }

    #[test]
    fn request_errors_are_invalid_arguments() {
        assert!(matches!(
            admin_error("create topic `t`", Code::InvalidReplicationFactor),
            LogError::InvalidArgument(m) if m.contains("`t`")
        ));
        assert!(matches!(
            admin_error("create topic `t`", Code::RequestTimedOut),
            LogError::Kafka {
                retriable: true,
                ..
            }
        ));
    }
}
