//! Delivery reports without a future per record: the librdkafka producer context shared by
//! [`KafkaProducer`](crate::KafkaProducer) and [`KafkaTxProducer`](crate::KafkaTxProducer).
//!
//! rdkafka's `FutureProducer` gives every record a oneshot channel and a boxed sender, and the
//! caller a future to poll per record. Aisle's producers send most records in batches or inside
//! transactions, so each record carries a [`Waiter`] saying who, if anyone, wants its report:
//! * nobody (a record inside a transaction: the commit reports failures) — no allocation;
//! * one caller (`Producer::send`) — a oneshot channel, as before;
//! * slot `i` of a batch (`Producer::send_batch`) — the batch's shared state, one allocation
//!   per record and one channel per batch, resolved by the batch's last report.
//!
//! Measured with `aisle bench replay` (BENCHMARKS.md).

use aisle_log::RecordMeta;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode as Code};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, Producer as _, ProducerContext, ThreadedProducer};
use rdkafka::util::IntoOpaque;
use std::ffi::c_void;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::oneshot;

/// The librdkafka producer every Aisle producer runs on: a background thread polls delivery
/// reports into [`DeliveryContext`].
pub(crate) type RdProducer = ThreadedProducer<DeliveryContext>;

/// How often [`flush`] checks for outstanding records.
const FLUSH_POLL: Duration = Duration::from_millis(1);

/// Waits until every record of `producer` is delivered (or failed), up to `timeout`.
///
/// Not rdkafka's `flush`: while records are outstanding it blocks in `poll` for up to 100 ms,
/// and with the background thread serving the events it sleeps that long even when the last
/// report came a millisecond later — measured as a fixed ~100 ms on every transaction commit
/// (rdkafka's `commit_transaction` flushes that way first). Here each check is non-blocking
/// (`rd_kafka_flush` with no wait, which also skips the linger) and the task sleeps between.
pub(crate) async fn flush(producer: &RdProducer, timeout: Duration) -> KafkaResult<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match producer.flush(Duration::ZERO) {
            Err(KafkaError::Flush(Code::OperationTimedOut))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(FLUSH_POLL).await;
            }
            done => return done,
        }
    }
}

/// A record librdkafka could not deliver, with where it was going.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: KafkaError,
    pub(crate) topic: String,
    /// The partition, if librdkafka had picked one.
    pub(crate) partition: Option<i32>,
}

/// A record's fate.
pub(crate) type Report = Result<RecordMeta, Failed>;

/// A batch's fate: where each record landed, in order, or the first failure.
pub(crate) type BatchReport = Result<Vec<RecordMeta>, Failed>;

/// Producer context: logs like rdkafka's default one and routes delivery reports to waiters.
#[derive(Debug, Default)]
pub(crate) struct DeliveryContext;

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Waiter;

    fn delivery(&self, result: &DeliveryResult<'_>, waiter: Waiter) {
        let Some(slot) = waiter.0 else { return };
        let report = match result {
            Ok(m) => Ok(RecordMeta {
                partition: m.partition(),
                offset: m.offset(),
                timestamp: m.timestamp().to_millis().unwrap_or(-1),
            }),
            Err((e, m)) => Err(Failed {
                error: e.clone(),
                topic: m.topic().to_owned(),
                partition: (m.partition() >= 0).then_some(m.partition()),
            }),
        };
        match *slot {
            Slot::One(tx) => {
                // The caller may have stopped waiting; that is its choice.
                let _ = tx.send(report);
            }
            Slot::Batch { batch, index } => batch.report(index, report),
        }
    }
}

/// Who waits for one record's delivery report.
#[derive(Debug)]
pub(crate) struct Waiter(Option<Box<Slot>>);

#[derive(Debug)]
enum Slot {
    One(oneshot::Sender<Report>),
    Batch {
        batch: Arc<BatchState>,
        index: usize,
    },
}

impl Waiter {
    /// Nobody waits (records of a transaction).
    pub(crate) fn none() -> Self {
        Waiter(None)
    }

    /// One caller waits on the returned receiver. A dropped record (the producer closed before
    /// delivering it) drops the sender: the receiver then reports an error.
    pub(crate) fn one() -> (Self, oneshot::Receiver<Report>) {
        let (tx, rx) = oneshot::channel();
        (Waiter(Some(Box::new(Slot::One(tx)))), rx)
    }
}

impl IntoOpaque for Waiter {
    fn into_ptr(self) -> *mut c_void {
        self.0
            .map_or(std::ptr::null_mut(), |b| Box::into_raw(b).cast())
    }

    unsafe fn from_ptr(ptr: *mut c_void) -> Self {
        // SAFETY: `ptr` is null or came from `into_ptr` above, i.e. `Box::into_raw` of a
        // `Box<Slot>`, and librdkafka hands each message's opaque back exactly once.
        Waiter((!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr.cast::<Slot>()) }))
    }
}

/// Reports of one batch: where each record landed, in the batch's order, or its first failure.
#[derive(Debug)]
pub(crate) struct BatchState {
    results: Mutex<(Vec<RecordMeta>, Option<Failed>)>,
    remaining: AtomicUsize,
    done: Mutex<Option<oneshot::Sender<BatchReport>>>,
}

impl BatchState {
    /// State for `len` records, and the receiver of their combined result.
    pub(crate) fn new(len: usize) -> (Arc<BatchState>, oneshot::Receiver<BatchReport>) {
        let (tx, rx) = oneshot::channel();
        let empty = RecordMeta {
            partition: -1,
            offset: -1,
            timestamp: -1,
        };
        let state = Arc::new(BatchState {
            results: Mutex::new((vec![empty; len], None)),
            remaining: AtomicUsize::new(len),
            done: Mutex::new(Some(tx)),
        });
        if len == 0 {
            state.finish();
        }
        (state, rx)
    }

    /// The waiter of record `index`.
    pub(crate) fn waiter(self: &Arc<Self>, index: usize) -> Waiter {
        Waiter(Some(Box::new(Slot::Batch {
            batch: self.clone(),
            index,
        })))
    }

    fn report(&self, index: usize, report: Report) {
        {
            let mut r = self.results.lock().unwrap_or_else(|p| p.into_inner());
            match report {
                Ok(meta) => r.0[index] = meta,
                Err(f) => {
                    r.1.get_or_insert(f);
                }
            }
        }
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish();
        }
    }

    fn finish(&self) {
        let (metas, failed) =
            std::mem::take(&mut *self.results.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(tx) = self.done.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(match failed {
                Some(f) => Err(f),
                None => Ok(metas),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(offset: i64) -> RecordMeta {
        RecordMeta {
            partition: 0,
            offset,
            timestamp: 1,
        }
    }

    #[tokio::test]
    async fn a_batch_resolves_once_every_record_reported_in_its_own_order() {
        let (state, rx) = BatchState::new(3);
        state.report(2, Ok(meta(12)));
        state.report(0, Ok(meta(10)));
        assert_eq!(state.remaining.load(Ordering::Relaxed), 1);
        state.report(1, Ok(meta(11)));
        let metas = rx.await.unwrap().unwrap();
        assert_eq!(
            metas.iter().map(|m| m.offset).collect::<Vec<_>>(),
            [10, 11, 12]
        );
    }

    #[tokio::test]
    async fn a_batch_reports_its_first_failure_and_an_empty_one_is_done_at_once() {
        let (state, rx) = BatchState::new(2);
        let fail = |topic: &str| Failed {
            error: KafkaError::Canceled,
            topic: topic.into(),
            partition: Some(1),
        };
        state.report(0, Err(fail("first")));
        state.report(1, Err(fail("second")));
        assert_eq!(rx.await.unwrap().unwrap_err().topic, "first");
        let (_, rx) = BatchState::new(0);
        assert!(rx.await.unwrap().unwrap().is_empty());
    }

    #[test]
    fn waiters_round_trip_through_the_opaque_pointer() {
        assert!(Waiter::none().into_ptr().is_null());
        let (w, mut rx) = Waiter::one();
        let ptr = w.into_ptr();
        // SAFETY: `ptr` came from `into_ptr` just above and is converted back once.
        let back = unsafe { Waiter::from_ptr(ptr) };
        let Some(slot) = back.0 else {
            panic!("lost the slot")
        };
        let Slot::One(tx) = *slot else {
            panic!("wrong slot")
        };
        tx.send(Ok(meta(5))).unwrap();
        assert_eq!(rx.try_recv().unwrap().unwrap().offset, 5);
    }
}
