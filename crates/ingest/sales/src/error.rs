//! Errors of the sales replay, naming the file, line, day or topic involved.

/// Result alias for this crate.
pub type Result<T, E = SalesError> = std::result::Result<T, E>;

/// Everything that stops a replay. Malformed *rows* are not errors: they go to the dead-letter
/// topic and the replay goes on. These are the problems found before anything is sent (missing
/// files, a calendar that does not cover the days, a bad header: the user's input) and the log
/// failing underneath (the outside world; [`SalesError::is_retriable`] says if trying again helps).
#[derive(Debug, thiserror::Error)]
pub enum SalesError {
    /// The M5 input is missing or wrong: a file, a header, a calendar that does not cover the
    /// days (the file and line are named).
    #[error(transparent)]
    M5(#[from] aisle_m5::M5Error),
    /// A request that can never succeed as made (bad store name, empty range, ...).
    #[error("invalid replay request: {0}")]
    Invalid(String),
    /// The topic already holds data this replay cannot continue from.
    #[error("cannot resume {topic}/{partition}: {reason}")]
    Resume {
        /// Topic.
        topic: String,
        /// Partition (store index).
        partition: i32,
        /// Why.
        reason: String,
    },
    /// The log failed.
    #[error("{context}: {source}")]
    Log {
        /// What the replay was doing.
        context: String,
        /// The log's error.
        #[source]
        source: aisle_log::LogError,
    },
    /// A record could not be encoded (a bug: the schema and type disagree).
    #[error("encoding a SalesRecord: {0}")]
    Codec(#[from] aisle_events::CodecError),
    /// A worker task died (a bug).
    #[error("replay task failed: {0}")]
    Task(String),
    /// The `SalesRecord` schema could not be registered (registry unreachable or refusing).
    #[error("schema registry: {0}")]
    Registry(String),
}

impl SalesError {
    /// Whether running the same replay again later may succeed (it resumes where it stopped).
    pub fn is_retriable(&self) -> bool {
        matches!(self, SalesError::Log { source, .. } if source.is_retriable())
            || matches!(self, SalesError::Registry(_))
    }

    pub(crate) fn log(context: impl Into<String>) -> impl FnOnce(aisle_log::LogError) -> Self {
        let context = context.into();
        move |source| SalesError::Log { context, source }
    }
}
