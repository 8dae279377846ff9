//! [`TopicCache`]: each topic's partition count as a producer last saw it, so `send` can refuse a
//! missing topic or partition at once, with the log contract's error.
//!
//! Without it librdkafka queues a record for a topic it has no metadata for and only fails it
//! after `topic.metadata.propagation.max.ms` (30 s), and a partition past the end comes back as
//! librdkafka's "Local: Unknown partition", which does not say how many partitions there are.
//!
//! # Invariants
//! * Only topics that exist are cached (a missing topic is asked about again on the next send,
//!   so a topic created later works). A topic is refused as missing only after the cluster said
//!   so for [`PROPAGATION_GRACE`] (1 s): metadata of a new topic reaches brokers at slightly
//!   different times.
//! * When the cluster gives no definite answer within [`CHECK_TIMEOUT`] (unreachable, electing
//!   a leader), the record is enqueued unchecked, as it would be without this cache, and the
//!   topic is not asked about again for [`RECHECK_AFTER`]: an outage must not stall every send
//!   on a metadata request while librdkafka buffers records until the brokers are back.
//! * Counts only go stale by growing (Kafka never removes partitions): a partition at or past
//!   the cached count refreshes the entry before it is refused. A topic deleted and recreated
//!   smaller is caught by librdkafka itself (it knows the new count) and refreshed then.
//! * The metadata request goes through the producer's own client, so librdkafka's topic state
//!   is fresh too when the record is enqueued right after.

use crate::delivery::RdProducer;
use crate::{blocking, error};
use aisle_log::{LogError, Result};
use rdkafka::error::RDKafkaErrorCode as Code;
use rdkafka::metadata::Metadata;
use rdkafka::producer::Producer as _;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::RwLock;
use std::time::Duration;
use tokio::time::Instant;

/// Upper limit for one metadata request of the check. A reachable cluster answers in
/// milliseconds; past this the record goes to librdkafka unchecked.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a topic whose check got no answer is left unchecked before asking again.
pub(crate) const RECHECK_AFTER: Duration = Duration::from_secs(60);

/// Pauses between the metadata requests made before a topic the cluster calls unknown is
/// refused (1 s in all): new topics reach every broker's metadata within milliseconds, but not
/// atomically with the creation. Seen on a fresh 3-broker cluster: the registry's `_schemas`,
/// created and written by the same process, was refused once.
const PROPAGATION_GRACE: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(300),
    Duration::from_millis(600),
];

/// What a producer knows about one topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// It exists with this many partitions.
    Partitions(i32),
    /// The last check got no answer at this time; send unchecked until [`RECHECK_AFTER`].
    Unanswered(Instant),
}

/// FNV-1a. The map is looked up once per record; topic names are short and come from the
/// application's own configuration, so SipHash's flooding resistance buys nothing here.
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Partition counts per topic, shared by every `send` of one producer.
#[derive(Debug)]
pub(crate) struct TopicCache {
    counts: RwLock<HashMap<String, Entry, BuildHasherDefault<Fnv>>>,
    /// Limit for one metadata request.
    timeout: Duration,
}

impl TopicCache {
    /// A cache whose metadata requests wait at most `timeout` (and never over [`CHECK_TIMEOUT`]).
    pub(crate) fn new(timeout: Duration) -> Self {
        TopicCache {
            counts: RwLock::new(HashMap::default()),
            timeout: timeout.min(CHECK_TIMEOUT),
        }
    }

    /// The cached count, if `partition` (or the partitioner, for `None`) can use it as is.
    /// This is the per-record path: one uncontended read lock and one hash look-up.
    pub(crate) fn cached_ok(&self, topic: &str, partition: Option<i32>) -> bool {
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let counts = self.counts.read().unwrap_or_else(|p| p.into_inner());
        match (counts.get(topic), partition) {
            (Some(Entry::Partitions(_)), None) => true,
            (Some(&Entry::Partitions(n)), Some(p)) => (0..n).contains(&p),
            (Some(Entry::Unanswered(at)), _) => at.elapsed() < RECHECK_AFTER,
            (None, _) => false,
        }
    }

    /// Ok if `topic` exists and has `partition` (any partition for `None`); otherwise
    /// [`LogError::UnknownTopic`] or [`LogError::UnknownPartition`]. Asks the cluster only when
    /// the cache cannot answer.
    pub(crate) async fn check(
        &self,
        producer: &Arc<RdProducer>,
        topic: &str,
        partition: Option<i32>,
    ) -> Result<()> {
        if self.cached_ok(topic, partition) {
            return Ok(());
        }
        let mut answer = self.refresh(producer, topic).await;
        // A topic created a moment ago (e.g. by this process's admin client) may not be in
        // the metadata of the broker asked yet: ask again briefly before refusing it.
        for pause in PROPAGATION_GRACE {
            if !matches!(answer, Err(LogError::UnknownTopic(_))) {
                break;
            }
            tokio::time::sleep(pause).await;
            answer = self.refresh(producer, topic).await;
        }
        let partitions = match answer {
            Ok(n) => n,
            Err(e @ LogError::UnknownTopic(_)) => return Err(e),
            // No definite answer (broker unreachable, leader election): let librdkafka queue
            // the record and retry as it would without this check.
            Err(e) => {
                tracing::debug!(topic, error = %e, "partition check skipped");
                self.set(topic, Some(Entry::Unanswered(Instant::now())));
                return Ok(());
            }
        };
        match partition {
            Some(p) if !(0..partitions).contains(&p) => Err(LogError::UnknownPartition {
                topic: topic.to_owned(),
                partition: p,
                partitions,
            }),
            _ => Ok(()),
        }
    }

    /// Asks the cluster for `topic`'s partition count and caches it; [`LogError::UnknownTopic`]
    /// (and the entry dropped) if the topic does not exist.
    pub(crate) async fn refresh(&self, producer: &Arc<RdProducer>, topic: &str) -> Result<i32> {
        let producer = producer.clone();
        let (name, timeout) = (topic.to_owned(), self.timeout);
        let md = blocking(move || producer.client().fetch_metadata(Some(&name), timeout))
            .await?
            .map_err(|e| error::map(&format!("metadata for `{topic}`"), e))?;
        let count = partitions_in(&md, topic);
        match &count {
            Ok(n) => self.set(topic, Some(Entry::Partitions(*n))),
            Err(LogError::UnknownTopic(_)) => self.set(topic, None),
            Err(_) => {}
        }
        count
    }

    /// Records (or, for `None`, forgets) what is known about `topic`.
    fn set(&self, topic: &str, entry: Option<Entry>) {
        let mut counts = self.counts.write().unwrap_or_else(|p| p.into_inner());
        match entry {
            Some(e) => {
                counts.insert(topic.to_owned(), e);
            }
            None => {
                counts.remove(topic);
            }
        }
    }
}

/// `topic`'s partition count in `md`: [`LogError::UnknownTopic`] if the metadata does not list
/// it (or says it is unknown), and the broker's error for a topic named with no partitions
/// (e.g. `LEADER_NOT_AVAILABLE` right after creation; the caller may retry).
pub(crate) fn partitions_in(md: &Metadata, topic: &str) -> Result<i32> {
    let found = md.topics().iter().find(|t| t.name() == topic);
    match found {
        Some(t) if !t.partitions().is_empty() => Ok(t.partitions().len() as i32),
        Some(t) => match t.error().map(Code::from) {
            None | Some(Code::UnknownTopicOrPartition | Code::UnknownTopic) => {
                Err(LogError::UnknownTopic(topic.to_owned()))
            }
            Some(code) => Err(error::map(
                &format!("metadata for `{topic}`"),
                rdkafka::error::KafkaError::MetadataFetch(code),
            )),
        },
        None => Err(LogError::UnknownTopic(topic.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_answers_only_within_the_known_count() {
        let c = TopicCache::new(Duration::from_secs(1));
        assert!(!c.cached_ok("t", None), "unknown topic must be looked up");
        c.set("t", Some(Entry::Partitions(4)));
        assert!(c.cached_ok("t", None));
        assert!(c.cached_ok("t", Some(0)));
        assert!(c.cached_ok("t", Some(3)));
        // Past the end or negative: look again (the topic may have grown) before refusing.
        assert!(!c.cached_ok("t", Some(4)));
        assert!(!c.cached_ok("t", Some(-1)));
        assert!(!c.cached_ok("other", Some(0)));
        c.set("t", None);
        assert!(!c.cached_ok("t", None));
    }

    #[test]
    fn fnv_matches_the_reference_vectors() {
        let hash = |s: &[u8]| {
            let mut h = Fnv::default();
            h.write(s);
            h.finish()
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn unanswered_topics_go_unchecked_for_a_while() {
        let c = TopicCache::new(Duration::from_secs(30));
        assert_eq!(c.timeout, CHECK_TIMEOUT);
        c.set("t", Some(Entry::Unanswered(Instant::now())));
        assert!(c.cached_ok("t", Some(99)), "no answer: librdkafka decides");
        if let Some(long_ago) = Instant::now().checked_sub(RECHECK_AFTER) {
            c.set("t", Some(Entry::Unanswered(long_ago)));
            assert!(!c.cached_ok("t", None), "ask again after RECHECK_AFTER");
        }
    }
}
