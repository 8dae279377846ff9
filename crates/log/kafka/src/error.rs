//! Mapping rdkafka errors onto [`LogError`], with the operation and topic named.

use aisle_log::LogError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};

/// Converts an rdkafka error from operation `what` (e.g. "produce to `sales`") into a
/// [`LogError`]: fencing becomes [`LogError::Fenced`], a transaction that must be aborted becomes
/// [`LogError::Transaction`], everything else [`LogError::Kafka`] with librdkafka's retriable flag.
pub(crate) fn map(what: &str, err: KafkaError) -> LogError {
    let message = format!("{what}: {err}");
    if let KafkaError::Transaction(tx) = &err {
        if is_fencing(tx.code()) {
            return LogError::Fenced(message);
        }
        if tx.txn_requires_abort() {
            return LogError::Transaction(format!("{message} (the transaction must be aborted)"));
        }
        return LogError::Kafka {
            message,
            retriable: tx.is_retriable(),
        };
    }
    match code_of(&err) {
        Some(code) if is_fencing(code) => LogError::Fenced(message),
        Some(code) => LogError::Kafka {
            message,
            retriable: is_retriable(code),
        },
        None => LogError::Kafka {
            message,
            retriable: false,
        },
    }
}

/// The librdkafka error code inside `err` (rdkafka's own accessor skips admin errors).
pub(crate) fn code_of(err: &KafkaError) -> Option<Code> {
    match err {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

/// Codes that mean a newer producer with the same transactional id took over.
pub(crate) fn is_fencing(code: Code) -> bool {
    matches!(
        code,
        Code::Fenced | Code::ProducerFenced | Code::InvalidProducerEpoch
    )
}

/// Codes after which the same request may succeed later: transient broker or network states.
/// (librdkafka marks retriability only on its `rd_kafka_error_t` objects, which most of the
/// rdkafka API does not expose, so this follows Kafka's `RetriableException` subclasses.)
pub(crate) fn is_retriable(code: Code) -> bool {
    matches!(
        code,
        Code::QueueFull
            | Code::MessageTimedOut
            | Code::OperationTimedOut
            | Code::RequestTimedOut
            | Code::BrokerTransportFailure
            | Code::AllBrokersDown
            | Code::NetworkException
            | Code::LeaderNotAvailable
            | Code::NotLeaderForPartition
            | Code::NotEnoughReplicas
            | Code::NotEnoughReplicasAfterAppend
            | Code::CoordinatorLoadInProgress
            | Code::CoordinatorNotAvailable
            | Code::NotCoordinator
            | Code::UnknownTopicOrPartition
            | Code::KafkaStorageError
            | Code::FetchSessionIdNotFound
            | Code::OffsetNotAvailable
            | Code::PreferredLeaderNotAvailable
            | Code::RebalanceInProgress
            | Code::ConcurrentTransactions
            | Code::Resolve
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fencing_codes_become_fenced() {
        let e = map(
            "commit",
            KafkaError::MessageProduction(Code::ProducerFenced),
        );
        assert!(
            matches!(e, LogError::Fenced(ref m) if m.starts_with("commit")),
            "{e:?}"
        );
        let e = map("send", KafkaError::MessageProduction(Code::Fenced));
        assert!(matches!(e, LogError::Fenced(_)), "{e:?}");
    }

    #[test]
    fn retriability_follows_the_code() {
        let e = map(
            "produce to `t`",
            KafkaError::MessageProduction(Code::QueueFull),
        );
        assert!(e.is_retriable());
        assert!(e.to_string().contains("produce to `t`"), "{e}");
        let e = map(
            "produce to `t`",
            KafkaError::MessageProduction(Code::MessageSizeTooLarge),
        );
        assert!(!e.is_retriable());
        let e = map("x", KafkaError::Canceled);
        assert!(!e.is_retriable());
    }
}
