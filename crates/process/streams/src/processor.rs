//! [`Processor`]: what a stream task does with its records, with no-op defaults for the hooks a
//! processor does not need, and [`Turn`], what the loop tells it about each turn.

use crate::error::Result;
use aisle_log::{Log, ProduceRecord, Record, TopicPartition};
use async_trait::async_trait;

/// What the loop knows about the input at the end of a turn.
#[derive(Clone, Copy, Debug)]
pub struct Turn<'a> {
    /// Every partition assigned to this member.
    pub assigned: &'a [TopicPartition],
    /// Whether every assigned partition had been read to its end at the last poll (no data is
    /// waiting), as [`aisle_log::Consumer::is_caught_up`].
    pub caught_up: bool,
    /// How many records this turn processed.
    pub records: usize,
}

/// A stream task's logic. All methods run on the task's own loop; everything they append to
/// `out` (and every changelog record of [`Processor::drain_state`]) commits in one transaction
/// with the input offsets of the turn.
#[async_trait]
pub trait Processor: Send {
    /// These partitions were assigned: restore their state (e.g. [`crate::ChangelogStore::restore`]).
    async fn assigned(&mut self, log: &dyn Log, partitions: &[TopicPartition]) -> Result<()> {
        let _ = (log, partitions);
        Ok(())
    }
    /// These partitions were taken away (or the task restarts): forget their state.
    fn revoked(&mut self, partitions: &[TopicPartition]) {
        let _ = partitions;
    }
    /// Processes records (offset order per partition), appending outputs to `out`.
    async fn process(&mut self, records: &[Record], out: &mut Vec<ProduceRecord>) -> Result<()>;
    /// Time-driven work at the end of every turn (e.g. progress reports, closing windows on the
    /// wall clock), after [`Processor::process`].
    async fn punctuate(&mut self, turn: Turn<'_>, out: &mut Vec<ProduceRecord>) -> Result<()> {
        let _ = (turn, out);
        Ok(())
    }
    /// Changelog records for the state changed since the last call.
    fn drain_state(&mut self) -> Result<Vec<ProduceRecord>> {
        Ok(Vec::new())
    }
}
