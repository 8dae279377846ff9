//! The exactly-once consume → process → produce loop.
//!
//! One [`run_task`] call is one member of a consumer group. Each turn it polls the input
//! topics, hands the records to the [`Processor`], and writes everything the processor produced
//! — output records and state-store changelog records — together with the input offsets in one
//! transaction ([`aisle_log::TxProducer::send_offsets`]). Consumers read `read_committed`. So a
//! crash at any point leaves either all of a turn's effects or none: the restarted task restores
//! state from the changelog at exactly the committed input position, and no output is lost or
//! written twice.
//!
//! Rebalances arrive inside `poll` and are handled before the turn's records are processed:
//! revoked partitions' state is dropped (the transaction of the previous turn was already
//! committed, so nothing is pending), newly assigned partitions' state is restored from the
//! changelog, and records of partitions no longer assigned, or below the committed offset of a
//! re-assigned one, are discarded (the owner reads them again from the committed offset).
//!
//! A failed transaction aborts, the processor forgets all its state, and the loop starts again
//! with a new consumer and producer (restoring state), unless the error cannot be helped by a
//! retry (fencing, bad configuration).

use crate::error::{Result, StreamsError};
use crate::processor::{Processor, Turn};
use aisle_log::clock::SharedClock;
use aisle_log::{
    AutoOffsetReset, Consumer, ConsumerConfig, Isolation, Log, ProduceRecord, ProducerConfig,
    Rebalance, Record, TopicPartition, TxProducer,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

/// How often consumer lag is reported.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// Settings of one task.
#[derive(Clone, Debug)]
pub struct TaskConfig {
    /// Component name for metrics and client ids (e.g. `greenlight`).
    pub component: &'static str,
    /// Consumer group; the members of a group split the input partitions.
    pub group_id: String,
    /// Transactional id of this member (stable across restarts: a restart then fences the dead
    /// instance's open transaction at once instead of waiting for its timeout).
    pub transactional_id: String,
    /// Topics to consume.
    pub topics: Vec<String>,
    /// Longest wait of one poll.
    pub poll_timeout: Duration,
    /// Extra consumer properties (librdkafka names; the embedded runtime ignores them).
    pub consumer_properties: BTreeMap<String, String>,
    /// Extra producer properties (librdkafka names; the embedded runtime ignores them).
    pub producer_properties: BTreeMap<String, String>,
    /// Pause before starting again after a recoverable failure.
    pub retry_backoff: Duration,
    /// Longest time a turn gathers records before it processes and commits them (Kafka
    /// Streams' `commit.interval.ms` under exactly-once is 100 ms).
    pub commit_interval: Duration,
    /// Most records per turn (per transaction).
    pub max_batch: usize,
    /// Where the loop (and its processor) read time.
    pub clock: SharedClock,
}

/// Counters of a finished task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskStats {
    /// When the first input record was handed to the processor (for throughput figures).
    pub first_record: Option<std::time::Instant>,
    /// Input records processed (committed).
    pub records_in: u64,
    /// Records written (outputs and changelog), committed.
    pub records_out: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Restarts after recoverable failures.
    pub restarts: u64,
}

/// Runs the task until `shutdown` resolves (then finishes the current turn and returns) or an
/// unrecoverable error occurs.
pub async fn run_task<P: Processor>(
    log: &dyn Log,
    config: &TaskConfig,
    processor: &mut P,
    shutdown: impl Future<Output = ()>,
) -> Result<TaskStats> {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut stats = TaskStats::default();
    loop {
        let mut member = Member::start(log, config).await?;
        let outcome = member
            .run(log, config, processor, &mut shutdown, &mut stats)
            .await;
        // Whatever happened, the in-memory state may be ahead of the last commit.
        let assigned: Vec<_> = member.assigned.iter().cloned().collect();
        processor.revoked(&assigned);
        match outcome {
            Ok(()) => return Ok(stats),
            Err(e) if e.is_recoverable() => {
                stats.restarts += 1;
                metrics::counter!("aisle_errors_total", "component" => config.component, "kind" => "task_restart").increment(1);
                tracing::warn!(error = %e, "stream task failed; restoring state and starting again");
                tokio::select! {
                    _ = tokio::time::sleep(config.retry_backoff) => {}
                    _ = &mut shutdown => return Ok(stats),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// One incarnation of the task: a consumer in the group and a transactional producer.
struct Member {
    consumer: Box<dyn Consumer>,
    tx: Box<dyn TxProducer>,
    assigned: HashSet<TopicPartition>,
    /// Next offset to process per assigned partition (-1: anything).
    next: HashMap<TopicPartition, i64>,
}

impl Member {
    async fn start(log: &dyn Log, config: &TaskConfig) -> Result<Self> {
        let tx = log
            .tx_producer(
                &config.transactional_id,
                &ProducerConfig {
                    client_id: format!("aisle-{}", config.component),
                    linger: Duration::from_millis(1),
                    properties: config.producer_properties.clone(),
                },
            )
            .await
            .map_err(StreamsError::log(format!(
                "transactional producer `{}`",
                config.transactional_id
            )))?;
        let mut consumer = log
            .consumer(&ConsumerConfig {
                group_id: Some(config.group_id.clone()),
                client_id: format!("aisle-{}", config.component),
                auto_offset_reset: AutoOffsetReset::Earliest,
                isolation: Isolation::ReadCommitted,
                properties: config.consumer_properties.clone(),
            })
            .map_err(StreamsError::log(format!(
                "consumer in group `{}`",
                config.group_id
            )))?;
        let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(StreamsError::log(format!("subscribing to {topics:?}")))?;
        Ok(Member {
            consumer,
            tx,
            assigned: HashSet::new(),
            next: HashMap::new(),
        })
    }

    async fn rebalance<P: Processor>(
        &mut self,
        log: &dyn Log,
        processor: &mut P,
        event: Rebalance,
    ) -> Result<()> {
        match event {
            Rebalance::Revoked(tps) => {
                tracing::info!(partitions = ?tps, "partitions revoked");
                processor.revoked(&tps);
                for tp in &tps {
                    self.assigned.remove(tp);
                    self.next.remove(tp);
                }
            }
            Rebalance::Assigned(tps) => {
                tracing::info!(partitions = ?tps, "partitions assigned; restoring state");
                let committed = self
                    .consumer
                    .committed(&tps)
                    .await
                    .map_err(StreamsError::log("committed offsets"))?;
                processor.assigned(log, &tps).await?;
                for (tp, c) in tps.into_iter().zip(committed) {
                    self.next.insert(tp.clone(), c.unwrap_or(-1));
                    self.assigned.insert(tp);
                }
            }
        }
        Ok(())
    }

    async fn run<P: Processor>(
        &mut self,
        log: &dyn Log,
        config: &TaskConfig,
        processor: &mut P,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
        stats: &mut TaskStats,
    ) -> Result<()> {
        let clock = &config.clock;
        let mut lag_at = clock.now();
        loop {
            if clock.now().duration_since(lag_at) >= LAG_EVERY {
                lag_at = clock.now();
                let next: Vec<_> = self.next.iter().map(|(t, n)| (t.clone(), *n)).collect();
                report_lag(log, config.component, next).await;
            }
            let mut batch = tokio::select! {
                b = self.consumer.poll(config.poll_timeout) => b.map_err(StreamsError::log("poll"))?,
                _ = shutdown.as_mut() => return Ok(()),
            };
            let started = clock.now();
            let mut rebalances = self.consumer.take_rebalances();
            // One transaction per commit interval, not per poll: commits cost a round trip or
            // more, so a turn gathers what is there up to `max_batch` records.
            while rebalances.is_empty()
                && !batch.is_empty()
                && batch.len() < config.max_batch
                && clock.now().duration_since(started) < config.commit_interval
            {
                let more = self
                    .consumer
                    .poll(Duration::from_millis(1))
                    .await
                    .map_err(StreamsError::log("poll"))?;
                rebalances = self.consumer.take_rebalances();
                if more.is_empty() {
                    break;
                }
                batch.extend(more);
            }
            // Rebalances first: the filter below then keeps exactly the records of partitions
            // still assigned, from their committed offsets on.
            for event in rebalances {
                self.rebalance(log, processor, event).await?;
            }
            let records = keep_unprocessed(&mut self.next, batch);
            if stats.first_record.is_none() && !records.is_empty() {
                stats.first_record = Some(started.into_std());
            }
            let mut out = Vec::new();
            processor.process(&records, &mut out).await?;
            let assigned: Vec<TopicPartition> = self.assigned.iter().cloned().collect();
            let turn = Turn {
                assigned: &assigned,
                caught_up: self.consumer.is_caught_up(),
                records: records.len(),
            };
            processor.punctuate(turn, &mut out).await?;
            let state = processor.drain_state()?;
            if records.is_empty() && out.is_empty() && state.is_empty() {
                continue;
            }
            let runs = partition_runs(&records);
            let mut offsets: BTreeMap<TopicPartition, i64> = BTreeMap::new();
            for run in &runs {
                offsets.insert(run[0].topic_partition(), run[run.len() - 1].offset + 1);
            }
            let n_out = (out.len() + state.len()) as u64;
            let mut per_topic: BTreeMap<String, u64> = BTreeMap::new();
            for r in &out {
                *per_topic.entry(r.topic.clone()).or_default() += 1;
            }
            // A rebalance that arrived while this turn was processed: its partitions may belong
            // to another member already, so commit nothing; start again from the last commit
            // (Kafka would refuse the offsets by group generation; this also covers runtimes
            // that do not).
            let late = self.consumer.take_rebalances();
            if !late.is_empty() {
                return Err(StreamsError::Log {
                    context: "rebalance during a turn; starting again from the last commit".into(),
                    source: aisle_log::LogError::Timeout(format!(
                        "{} assignment change(s)",
                        late.len()
                    )),
                });
            }
            let commit_start = clock.now();
            let processed = commit_start.duration_since(started);
            if let Err(e) = self.commit(out, state, offsets).await {
                let _ = self.tx.abort().await;
                return Err(e);
            }
            tracing::debug!(
                records = records.len(),
                out = n_out,
                process_ms = processed.as_secs_f64() * 1e3,
                commit_ms = clock.now().duration_since(commit_start).as_secs_f64() * 1e3,
                "turn committed"
            );
            stats.records_in += records.len() as u64;
            stats.records_out += n_out;
            stats.commits += 1;
            let mut in_topics: BTreeMap<&str, u64> = BTreeMap::new();
            for run in &runs {
                *in_topics.entry(run[0].topic.as_str()).or_default() += run.len() as u64;
            }
            for (topic, n) in in_topics {
                metrics::counter!("aisle_records_in_total", "component" => config.component, "topic" => topic.to_owned()).increment(n);
            }
            for (topic, n) in per_topic {
                metrics::counter!("aisle_records_out_total", "component" => config.component, "topic" => topic).increment(n);
            }
            metrics::histogram!("aisle_processing_seconds", "component" => config.component)
                .record(clock.now().duration_since(started).as_secs_f64());
        }
    }

    async fn commit(
        &mut self,
        out: Vec<ProduceRecord>,
        state: Vec<ProduceRecord>,
        offsets: BTreeMap<TopicPartition, i64>,
    ) -> Result<()> {
        self.tx.begin().await.map_err(StreamsError::log("begin"))?;
        for rec in out.into_iter().chain(state) {
            self.tx
                .send(rec)
                .await
                .map_err(StreamsError::log("transactional send"))?;
        }
        if !offsets.is_empty() {
            let group = self
                .consumer
                .group_metadata()
                .ok_or_else(|| StreamsError::Config("the consumer has no group metadata".into()))?;
            let offsets: Vec<_> = offsets.into_iter().collect();
            self.tx
                .send_offsets(&offsets, &group)
                .await
                .map_err(StreamsError::log("sending offsets"))?;
        }
        self.tx.commit().await.map_err(StreamsError::log("commit"))
    }
}

/// The records of `batch` not yet processed: those of assigned partitions (keys of `next`) at
/// or past the partition's next offset, which moves past them. One map look-up per run of
/// records from the same partition, not per record.
fn keep_unprocessed(next: &mut HashMap<TopicPartition, i64>, batch: Vec<Record>) -> Vec<Record> {
    let mut records = Vec::with_capacity(batch.len());
    // The partition of the current run and its next offset (`None`: not assigned).
    let mut run: Option<(TopicPartition, Option<i64>)> = None;
    for rec in batch {
        let same = run
            .as_ref()
            .is_some_and(|(tp, _)| tp.partition == rec.partition && tp.topic == rec.topic);
        if !same {
            if let Some((tp, Some(n))) = run.take() {
                next.insert(tp, n);
            }
            let tp = rec.topic_partition();
            let n = next.get(&tp).copied();
            run = Some((tp, n));
        }
        let Some((_, Some(n))) = run.as_mut() else {
            continue;
        };
        if rec.offset < *n {
            continue;
        }
        *n = rec.offset + 1;
        records.push(rec);
    }
    if let Some((tp, Some(n))) = run {
        next.insert(tp, n);
    }
    records
}

/// `records` cut into runs of consecutive records from the same partition.
fn partition_runs(records: &[Record]) -> Vec<&[Record]> {
    records
        .chunk_by(|a, b| a.partition == b.partition && a.topic == b.topic)
        .collect()
}

/// Sets `aisle_consumer_lag` for each assigned partition (best effort).
async fn report_lag(log: &dyn Log, component: &'static str, next: Vec<(TopicPartition, i64)>) {
    for (tp, next) in &next {
        if let Ok((_, high)) = log.watermarks(tp).await {
            let lag = if *next < 0 {
                high
            } else {
                (high - next).max(0)
            };
            metrics::gauge!("aisle_consumer_lag", "component" => component,
                "topic" => tp.topic.clone(), "partition" => tp.partition.to_string())
            .set(lag as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(topic: &str, partition: i32, offset: i64) -> Record {
        Record {
            topic: topic.into(),
            partition,
            offset,
            timestamp: 0,
            key: None,
            value: None,
            headers: Vec::new(),
        }
    }

    #[test]
    fn keeps_records_past_each_partitions_next_offset_and_moves_it() {
        let mut next = HashMap::from([
            (TopicPartition::new("a", 0), 5),
            (TopicPartition::new("a", 1), 0),
        ]);
        let batch = vec![
            rec("a", 0, 4), // already processed
            rec("a", 0, 5),
            rec("a", 1, 0),
            rec("b", 0, 9), // not assigned
            rec("a", 0, 6),
            rec("a", 0, 6), // a duplicate (redelivered after a seek)
            rec("a", 1, 1),
        ];
        let kept: Vec<(String, i32, i64)> = keep_unprocessed(&mut next, batch)
            .into_iter()
            .map(|r| (r.topic, r.partition, r.offset))
            .collect();
        assert_eq!(
            kept,
            [
                ("a".into(), 0, 5),
                ("a".into(), 1, 0),
                ("a".into(), 0, 6),
                ("a".into(), 1, 1)
            ]
        );
        assert_eq!(next[&TopicPartition::new("a", 0)], 7);
        assert_eq!(next[&TopicPartition::new("a", 1)], 2);
        assert!(!next.contains_key(&TopicPartition::new("b", 0)));
        let recs = [
            rec("a", 0, 1),
            rec("a", 0, 2),
            rec("a", 1, 0),
            rec("a", 0, 3),
        ];
        let runs: Vec<usize> = partition_runs(&recs).iter().map(|r| r.len()).collect();
        assert_eq!(runs, [2, 1, 1]);
    }
}
