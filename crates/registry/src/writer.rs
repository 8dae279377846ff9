//! How a [`crate::SchemaStore`] writes `_schemas`: through a transactional producer whose
//! `transactional.id` is the same for every store of the topic, so at most one of them can
//! commit at a time. On Kafka the stores are in different processes; on the embedded runtime
//! one process owns the data directory, but it may open several stores over one log (a test,
//! a component and a registry server side by side), and the same argument keeps them apart
//! (the embedded log fences older epochs of a transactional id the same way).
//!
//! # Why two processes cannot hand out one id for two schemas (Kafka)
//! Every writing process uses the transactional id [`transactional_id`] of the topic. Kafka
//! gives each `init_transactions` with that id a new epoch and, from then on, refuses every
//! transactional call (produce, commit) of an older epoch: the older producer is *fenced*. The
//! init also completes or aborts whatever transaction the older epoch left, markers included,
//! before it returns. A write is:
//!
//! 1. [`Writer::claim`]: make sure we hold a producer (init one if we do not: this fences the
//!    process that wrote before us).
//! 2. Read `_schemas` to its end, `read_committed`, restarting the fetch so no stale
//!    end-of-partition flag can stop it early (the store's `catch_up`).
//! 3. Plan against that state (next id = highest seen + 1), then [`Writer::write`]: begin,
//!    produce, commit.
//!
//! If the commit succeeds, our epoch was the newest from step 1 to step 3, so no other process
//! committed in between (it would have had to init a newer epoch first, fencing us), and step 2
//! saw every record committed before step 1 (the init completed them). So the state we planned
//! against was the whole topic when we committed, and the id was free. If another process
//! initialised in between, our commit fails (`Fenced`, or an abortable transaction error: Kafka
//! aborts the transaction the newer init found open), nothing of ours becomes visible, and
//! the store drops the producer and starts again at step 1 (with a little random backoff so two
//! processes do not fence each other forever). Applying records only after a commit keeps the
//! in-memory state equal to the committed topic. Should a failed commit have gone through after
//! all, the next init settles it and the re-read shows it: registering plans `Existing` and
//! returns that id.
//!
//! Writers that do not use the transactional id (another registry writing the same topic
//! directly, an old Aisle) are outside this guarantee.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use aisle_log::{Log, LogError, ProduceRecord, ProducerConfig, TxProducer};

use crate::error::Result;

/// The `transactional.id` every process writing `topic` uses: `aisle-schema-registry` for
/// `_schemas`, `aisle-schema-registry.<topic>` for any other topic.
pub fn transactional_id(topic: &str) -> String {
    if topic == "_schemas" {
        "aisle-schema-registry".to_owned()
    } else {
        format!("aisle-schema-registry.{topic}")
    }
}

/// One change to `_schemas`: a key and a value (`None`: a tombstone).
pub(crate) type Change = (Vec<u8>, Option<Vec<u8>>);

/// The single writer is whoever holds the newest epoch of `id`.
pub(crate) struct Writer {
    id: String,
    tx: Option<Box<dyn TxProducer>>,
}

fn producer_config() -> ProducerConfig {
    ProducerConfig {
        client_id: "aisle-registry".into(),
        linger: Duration::ZERO,
        ..Default::default()
    }
}

impl Writer {
    /// The writer for transactional id `id`; its producer is created at the first claim (a
    /// store that only reads never fences anyone).
    pub(crate) fn new(id: String) -> Writer {
        Writer { id, tx: None }
    }

    /// Step 1: holds the newest epoch of the transactional id, initialising it if needed.
    pub(crate) async fn claim(&mut self, log: &dyn Log) -> Result<()> {
        if self.tx.is_none() {
            self.tx = Some(log.tx_producer(&self.id, &producer_config()).await?);
        }
        Ok(())
    }

    /// Forgets the producer after a failed write: the next [`Writer::claim`] initialises a new
    /// one, which also settles whatever the failed transaction left open.
    pub(crate) fn release(&mut self) {
        self.tx = None;
    }

    /// Step 3: writes `changes` to partition 0 of `topic`, all of them or none, and returns
    /// once they are durable (committed).
    pub(crate) async fn write(&mut self, topic: &str, changes: &[Change]) -> Result<()> {
        let record = |(key, value): &Change| {
            let rec = ProduceRecord::new(topic.to_owned())
                .partition(0)
                .key(key.clone());
            match value {
                Some(v) => rec.value(v.clone()),
                None => rec,
            }
        };
        let id = &self.id;
        let tx = self
            .tx
            .as_mut()
            .ok_or_else(|| LogError::Transaction(format!("`{id}`: write before claim")))?;
        tx.begin().await?;
        for change in changes {
            tx.send(record(change)).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A random pause of up to `10 * attempt` ms (at most 200), so two fenced processes do not
/// initialise in lockstep forever.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let max_ms = u64::from(attempt.clamp(1, 20)) * 10;
    Duration::from_millis(1 + random % max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_transactional_id_per_topic() {
        assert_eq!(transactional_id("_schemas"), "aisle-schema-registry");
        assert_eq!(
            transactional_id("_schemas-test"),
            "aisle-schema-registry._schemas-test"
        );
    }

    #[test]
    fn backoff_is_short_and_grows_with_attempts() {
        for attempt in [0, 1, 5, 50] {
            let cap = Duration::from_millis(u64::from(attempt.clamp(1, 20)) * 10);
            let pause = backoff(attempt);
            assert!(
                pause >= Duration::from_millis(1) && pause <= cap,
                "attempt {attempt}: {pause:?}"
            );
        }
    }
}
