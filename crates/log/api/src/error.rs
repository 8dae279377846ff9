//! Errors of the log, saying whose fault they are and whether a retry can help.

use std::path::PathBuf;

/// Result alias for log operations.
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a log.
///
/// Variants fall in three groups: the caller's fault (`UnknownTopic`, `UnknownPartition`,
/// `InvalidArgument`, `OffsetOutOfRange`, `ReadOnly`), the outside world's (`Io`, `Kafka`,
/// `Timeout`, `Locked`, `Corrupt`), and protocol states an application must react to (`Fenced`,
/// `Transaction`, `Closed`). [`LogError::is_retriable`] says whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The topic does not exist (and the runtime does not create topics implicitly).
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// The topic exists but has no such partition.
    #[error("topic `{topic}` has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        /// Topic name.
        topic: String,
        /// Requested partition.
        partition: i32,
        /// Partitions the topic has.
        partitions: i32,
    },
    /// A request that can never succeed as made (bad topic spec, bad config value, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A fetch or seek outside the partition's retained range.
    #[error("offset {offset} is out of range for {topic}/{partition} (retained {low}..{high})")]
    OffsetOutOfRange {
        /// Topic name.
        topic: String,
        /// Partition.
        partition: i32,
        /// Requested offset.
        offset: i64,
        /// Lowest retained offset.
        low: i64,
        /// Next offset to be written.
        high: i64,
    },
    /// Stored data failed a check (CRC, framing, index) at a named place.
    #[error("corrupt data in {location}: {reason}")]
    Corrupt {
        /// File and byte position, or topic/partition/offset.
        location: String,
        /// What check failed.
        reason: String,
    },
    /// A write (produce, commit, topic change) through a log opened read-only, such as a
    /// reader beside a running writer of an embedded data directory.
    #[error("read-only: {0}")]
    ReadOnly(String),
    /// Another process holds the embedded data directory.
    #[error("data directory {0} is in use by another process (lock held)")]
    Locked(PathBuf),
    /// A file-system operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An error reported by Kafka or librdkafka.
    #[error("kafka: {message}")]
    Kafka {
        /// librdkafka's description, with the operation that failed.
        message: String,
        /// Whether librdkafka marks it retriable.
        retriable: bool,
    },
    /// An operation did not complete in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Another producer with the same transactional id took over; this one must stop.
    #[error("producer fenced: {0}")]
    Fenced(String),
    /// A transaction was used out of order or failed and must be aborted.
    #[error("transaction error: {0}")]
    Transaction(String),
    /// The log, producer or consumer was closed.
    #[error("closed")]
    Closed,
}

impl LogError {
    /// Whether repeating the same operation later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            LogError::Timeout(_) => true,
            LogError::Kafka { retriable, .. } => *retriable,
            LogError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// Shorthand for an [`LogError::Io`] naming its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LogError::Io {
            path: path.into(),
            source,
        }
    }
}
