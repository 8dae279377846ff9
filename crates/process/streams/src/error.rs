//! [`StreamsError`]: what went wrong, and whether starting the task again can help.

use aisle_log::LogError;

/// Result alias of this crate.
pub type Result<T, E = StreamsError> = std::result::Result<T, E>;

/// Errors of tables, state stores and the exactly-once loop.
#[derive(Debug, thiserror::Error)]
pub enum StreamsError {
    /// The log failed while doing `context`.
    #[error("{context}: {source}")]
    Log {
        /// What was being done.
        context: String,
        /// The log's error.
        #[source]
        source: LogError,
    },
    /// A bad setting (the user's fault; retrying cannot help).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A state-store record that cannot be read back (a bug or a foreign writer).
    #[error("state store {store}: {reason}")]
    State {
        /// Store (changelog topic/partition).
        store: String,
        /// What is wrong.
        reason: String,
    },
    /// The processor's own failure (a bug or bad setting; retrying cannot help).
    #[error("{0}")]
    Processor(String),
    /// A service the processor needs (e.g. the schema registry) is unreachable; a restart
    /// after a pause may help.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl StreamsError {
    /// A closure mapping a [`LogError`] to [`StreamsError::Log`] with `context`.
    pub fn log(context: impl Into<String>) -> impl FnOnce(LogError) -> StreamsError {
        let context = context.into();
        move |source| StreamsError::Log { context, source }
    }

    /// Whether another producer took over this task's transactional id (stop, don't retry).
    pub fn is_fenced(&self) -> bool {
        matches!(
            self,
            StreamsError::Log {
                source: LogError::Fenced(_),
                ..
            }
        )
    }

    /// Whether restarting the task (new consumer, new transaction, state restored) can help:
    /// log errors other than fencing, bad arguments or corruption.
    pub fn is_recoverable(&self) -> bool {
        match self {
            StreamsError::Log { source, .. } => !matches!(
                source,
                LogError::Fenced(_)
                    | LogError::InvalidArgument(_)
                    | LogError::UnknownTopic(_)
                    | LogError::Corrupt { .. }
                    | LogError::Locked(_)
                    | LogError::Closed
            ),
            StreamsError::Unavailable(_) => true,
            _ => false,
        }
    }
}
