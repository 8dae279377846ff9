//! [`M5Error`]: what is wrong with an M5 input, naming the file and, where there is one, the line.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = M5Error> = std::result::Result<T, E>;

/// A problem with the M5 files: missing, unreadable, or with content that cannot be used. These
/// are the user's input (retrying will not help); malformed rows that a caller may skip are not
/// errors but values ([`crate::wide::Rejected`], [`crate::prices::PriceTable::bad_rows`]).
#[derive(Debug, thiserror::Error)]
pub enum M5Error {
    /// A required M5 file is not in the data directory.
    #[error("no {what} file in {dir} (looked for {tried})")]
    MissingFile {
        /// Which file (sales, calendar, prices, ...).
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
    /// A file's header or one of its rows is wrong.
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
    /// A request that can never succeed as made (too many items for a compact table, ...).
    #[error("{0}")]
    Invalid(String),
}

impl M5Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        M5Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad(path: impl Into<PathBuf>, line: u64, reason: impl Into<String>) -> Self {
        M5Error::BadFile {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}
