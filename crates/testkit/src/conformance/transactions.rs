//! Transactions: atomic visibility, aborts, exactly-once read-process-write, zombie fencing.

use super::{CaseResult, ctx, new_topic, send_all};
use crate::Fixture;
use crate::names::{rand_group, rand_transactional_id};
use crate::read::{DEFAULT_WAIT, poll_count, read_all, values};
use aisle_log::{
    Consumer, ConsumerConfig, Log, LogError, Offset, ProduceRecord, ProducerConfig, Record,
    TopicPartition, TxProducer,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn sorted_values(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = values(records)
        .into_iter()
        .map(|v| v.unwrap_or_default())
        .collect();
    v.sort();
    v
}

/// Aborted transactions, before and after a committed one and around a plain write, leave no
/// trace for a `ReadCommitted` reader; the committed one and the plain record appear once.
pub async fn aborted_transactions_are_invisible_to_read_committed(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "tx-abort", 2).await?;
    let mut tx = log
        .tx_producer(&rand_transactional_id("abort"), &ProducerConfig::default())
        .await?;

    tx.begin().await?;
    for i in 0..10 {
        tx.send(
            ProduceRecord::new(&topic)
                .key(format!("k{i}"))
                .value(format!("aborted-{i}")),
        )
        .await?;
    }
    tx.abort().await?;

    let producer = log.producer(&ProducerConfig::default())?;
    send_all(
        &*producer,
        [ProduceRecord::new(&topic).key("plain").value("plain-0")],
    )
    .await?;

    tx.begin().await?;
    for i in 0..5 {
        tx.send(
            ProduceRecord::new(&topic)
                .key(format!("k{i}"))
                .value(format!("committed-{i}")),
        )
        .await?;
    }
    tx.commit().await?;

    tx.begin().await?;
    for i in 0..3 {
        tx.send(
            ProduceRecord::new(&topic)
                .key(format!("k{i}"))
                .value(format!("aborted-again-{i}")),
        )
        .await?;
    }
    tx.abort().await?;

    let records = read_all(&*log, &topic).await?;
    let mut want: Vec<String> = (0..5).map(|i| format!("committed-{i}")).collect();
    want.push("plain-0".into());
    want.sort();
    assert_eq!(
        sorted_values(&records),
        want,
        "{}: read_committed view",
        ctx(f, &topic)
    );
    Ok(())
}

/// A transaction over two topics is invisible while open, then visible all at once, each record
/// exactly once.
pub async fn committed_transaction_is_visible_together_exactly_once(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let a = new_topic(&*log, "tx-a", 1).await?;
    let b = new_topic(&*log, "tx-b", 2).await?;
    let mut reader = log.consumer(&ConsumerConfig::default())?;
    reader.assign(&[
        (TopicPartition::new(&a, 0), Offset::Beginning),
        (TopicPartition::new(&b, 0), Offset::Beginning),
        (TopicPartition::new(&b, 1), Offset::Beginning),
    ])?;

    let mut tx = log
        .tx_producer(
            &rand_transactional_id("together"),
            &ProducerConfig::default(),
        )
        .await?;
    tx.begin().await?;
    for i in 0..3 {
        tx.send(
            ProduceRecord::new(&a)
                .key(format!("k{i}"))
                .value(format!("a{i}")),
        )
        .await?;
        tx.send(
            ProduceRecord::new(&b)
                .key(format!("k{i}"))
                .value(format!("b{i}")),
        )
        .await?;
    }
    let early = reader.poll(Duration::from_secs(1)).await?;
    assert!(
        early.is_empty(),
        "[{}] open transaction visible: {early:?}",
        f.name()
    );
    tx.commit().await?;

    let got = poll_count(reader.as_mut(), 6, DEFAULT_WAIT).await?;
    let extra = reader.poll(Duration::from_millis(500)).await?;
    let got = [got, extra].concat();
    assert_eq!(
        sorted_values(&got),
        vec!["a0", "a1", "a2", "b0", "b1", "b2"],
        "[{}] {a} + {b}: committed transaction",
        f.name()
    );
    assert_eq!(read_all(&*log, &b).await?.len(), 3, "{}", ctx(f, &b));
    Ok(())
}

/// Processes what `consumer` polls in transactions of at most `chunk` records: each input
/// becomes one output (`out-<value>`, header `src` = `partition:offset`) and its offset is
/// committed in the same transaction. With `crash_after = Some(n)`, the (n+1)th transaction is
/// left open with its outputs sent, and the function returns as a crashed process would.
/// Otherwise it runs until the assignment is read to the end. Returns the inputs committed.
async fn process(
    consumer: &mut dyn Consumer,
    tx: &mut dyn TxProducer,
    out: &str,
    chunk: usize,
    crash_after: Option<usize>,
) -> anyhow::Result<usize> {
    let group = consumer
        .group_metadata()
        .ok_or_else(|| anyhow::anyhow!("no group metadata"))?;
    let mut committed_txns = 0;
    let mut inputs = 0;
    let deadline = tokio::time::Instant::now() + DEFAULT_WAIT;
    loop {
        let batch = consumer.poll(crate::read::POLL_STEP).await?;
        if batch.is_empty() && !consumer.assignment().is_empty() && consumer.is_caught_up() {
            return Ok(inputs);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "processing did not finish"
        );
        for part in batch.chunks(chunk) {
            tx.begin().await?;
            let mut next = BTreeMap::new();
            for r in part {
                let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
                let mut rec = ProduceRecord::new(out)
                    .value(format!("out-{value}"))
                    .header("src", format!("{}:{}", r.partition, r.offset));
                if let Some(k) = &r.key {
                    rec = rec.key(k.clone());
                }
                tx.send(rec).await?;
                next.insert(r.topic_partition(), r.offset + 1);
            }
            if crash_after == Some(committed_txns) {
                // Outputs sent, offsets not committed, transaction open: the process dies here.
                return Ok(inputs);
            }
            let offsets: Vec<_> = next.into_iter().collect();
            tx.send_offsets(&offsets, &group).await?;
            tx.commit().await?;
            committed_txns += 1;
            inputs += part.len();
        }
    }
}

async fn worker(
    log: &dyn Log,
    input: &str,
    group: &str,
    txid: &str,
) -> anyhow::Result<(Box<dyn Consumer>, Box<dyn TxProducer>)> {
    // Transactional producer first: in Kafka its initialisation aborts a predecessor's open
    // transaction, as a restarted process would.
    let tx = log.tx_producer(txid, &ProducerConfig::default()).await?;
    let mut consumer = log.consumer(&ConsumerConfig::group(group))?;
    consumer.subscribe(&[input])?;
    Ok((consumer, tx))
}

/// Consume from one topic, write to another and commit input offsets in one transaction; crash
/// with a transaction half done; restart with the same group and transactional id. The output
/// holds each input's output exactly once, and the group's committed offsets are the input's end.
pub async fn read_process_write_is_exactly_once_across_a_crash(f: &dyn Fixture) -> CaseResult {
    const INPUTS: i32 = 30;
    let log = f.log().await?;
    let input = new_topic(&*log, "rpw-in", 2).await?;
    let output = new_topic(&*log, "rpw-out", 2).await?;
    let group = rand_group("rpw");
    let txid = rand_transactional_id("rpw");
    let producer = log.producer(&ProducerConfig::default())?;
    let recs = (0..INPUTS).map(|i| {
        ProduceRecord::new(&input)
            .partition(i % 2)
            .key(format!("key{i}"))
            .value(format!("in{i}"))
    });
    send_all(&*producer, recs).await?;

    let (mut c, mut tx) = worker(&*log, &input, &group, &txid).await?;
    let first = process(c.as_mut(), tx.as_mut(), &output, 7, Some(2)).await?;
    assert!(
        first > 0 && first < INPUTS as usize,
        "[{}] first run committed {first}",
        f.name()
    );
    drop(c);
    drop(tx);

    let (mut c, mut tx) = worker(&*log, &input, &group, &txid).await?;
    let second = process(c.as_mut(), tx.as_mut(), &output, 7, None).await?;
    assert_eq!(
        first + second,
        INPUTS as usize,
        "[{}] inputs processed {first} + {second}",
        f.name()
    );

    let outputs = read_all(&*log, &output).await?;
    let mut want: Vec<String> = (0..INPUTS).map(|i| format!("out-in{i}")).collect();
    want.sort();
    assert_eq!(
        sorted_values(&outputs),
        want,
        "{}: each output exactly once",
        ctx(f, &output)
    );
    let sources: BTreeSet<_> = outputs
        .iter()
        .filter_map(|r| r.header("src").cloned())
        .collect();
    assert_eq!(
        sources.len(),
        INPUTS as usize,
        "{}: src headers",
        ctx(f, &output)
    );

    let tps = [
        TopicPartition::new(&input, 0),
        TopicPartition::new(&input, 1),
    ];
    let committed = c.committed(&tps).await?;
    assert_eq!(
        committed,
        vec![Some(15), Some(15)],
        "{}: offsets committed in transactions",
        ctx(f, &input)
    );
    Ok(())
}

/// A second producer with the same transactional id fences the first: the zombie's open
/// transaction is aborted, its further transactional calls fail with [`LogError::Fenced`], and
/// only the new producer's records become visible.
pub async fn zombie_transactional_producer_is_fenced(f: &dyn Fixture) -> CaseResult {
    let log = f.log().await?;
    let topic = new_topic(&*log, "tx-zombie", 1).await?;
    let txid = rand_transactional_id("zombie");
    let mut zombie = log.tx_producer(&txid, &ProducerConfig::default()).await?;
    zombie.begin().await?;
    zombie
        .send(ProduceRecord::new(&topic).key("k").value("zombie-0"))
        .await?;

    let mut live = log.tx_producer(&txid, &ProducerConfig::default()).await?;

    let outcome = async {
        zombie
            .send(ProduceRecord::new(&topic).key("k").value("zombie-1"))
            .await?;
        zombie.commit().await
    }
    .await;
    assert!(
        matches!(outcome, Err(LogError::Fenced(_))),
        "[{}] zombie commit: {outcome:?}",
        f.name()
    );
    let again = zombie.begin().await;
    assert!(
        again.is_err(),
        "[{}] a fenced producer began a new transaction",
        f.name()
    );

    live.begin().await?;
    live.send(ProduceRecord::new(&topic).key("k").value("live-0"))
        .await?;
    live.commit().await?;

    let records = read_all(&*log, &topic).await?;
    assert_eq!(
        sorted_values(&records),
        vec!["live-0"],
        "{}: only the live producer",
        ctx(f, &topic)
    );
    Ok(())
}
