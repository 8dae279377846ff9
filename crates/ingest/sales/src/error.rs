//! Errors of the sales replay, naming the file, line, day or topic involved.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = SalesError> = std::result::Result<T, E>;

/// Everything that stops a replay. Malformed *rows* are not errors: they go to the dead-letter
/// topic and the replay goes on. These are the problems found before anything is sent (missing
/// files, a calendar that does not cover the days, a bad header: the user's input) and the log
/// failing underneath (the outside world; [`SalesError::is_retriable`] says if trying again helps).
#[derive(Debug, thiserror::Error)]
pub enum SalesError {
    /// A required M5 file is not in the data directory.
    #[error("no {what} file in {dir} (looked for {tried})")]
    MissingFile {
        /// Which file (sales, calendar, prices).
        what: &'static str,
        /// The directory searched.
        dir: PathBuf,
        /// The names tried.
        tried: String,
    },
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file's header or a row of a file that must be whole (calendar) is wrong.
    #[error("{path}: line {line}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// 1-based line (1 is the header).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Requested days that an input does not hold.
    #[error("days d_{first}..d_{last} are not all in {path}: {detail}")]
    DaysNotCovered {
        /// First requested day.
        first: u32,
        /// Last requested day.
        last: u32,
        /// The file that lacks them.
        path: PathBuf,
        /// What it has.
        detail: String,
    },
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
}

impl SalesError {
    /// Whether running the same replay again later may succeed (it resumes where it stopped).
    pub fn is_retriable(&self) -> bool {
        matches!(self, SalesError::Log { source, .. } if source.is_retriable())
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SalesError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn log(context: impl Into<String>) -> impl FnOnce(aisle_log::LogError) -> Self {
        let context = context.into();
        move |source| SalesError::Log { context, source }
    }
}
