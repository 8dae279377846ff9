//! [`ForecastError`]: what went wrong, naming the file, series, topic or offset involved.

use std::path::PathBuf;

/// Errors of the forecasting library. Input errors name the file (and row) or the stream
/// position; none of them is a panic.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    /// An M5 input is missing or wrong (`aisle-m5` names the file and line).
    #[error(transparent)]
    M5(#[from] aisle_m5::M5Error),
    /// A file could not be opened or read (user input or the file system; retry won't help).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A CSV file is malformed.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause (it carries the line).
        source: csv::Error,
    },
    /// A file parsed as CSV but its content is wrong (missing column, bad number, unknown series).
    #[error("{path}: {message}")]
    BadInput {
        /// The file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// Inputs that do not fit together (e.g. forecasts and truth with different horizons).
    #[error("{0}")]
    Mismatch(String),
    /// The state directory could not be written or holds a damaged snapshot.
    #[error("forecast state {path}: {message}")]
    State {
        /// The snapshot file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The GBDT model could not be fitted.
    #[error("{0}")]
    Gbdt(#[from] crate::models::gbdt::GbdtError),
    /// The log failed (external system; a retry may help).
    #[error("log: {0}")]
    Log(#[from] aisle_log::LogError),
    /// The stream task failed (it names the partition, offset or store).
    #[error("forecast stream: {0}")]
    Stream(String),
    /// A record could not be decoded or encoded.
    #[error("{topic}/{partition}@{offset}: {message}")]
    Record {
        /// Topic of the record.
        topic: String,
        /// Partition.
        partition: i32,
        /// Offset (-1 when producing).
        offset: i64,
        /// What failed.
        message: String,
    },
}

impl ForecastError {
    pub(crate) fn bad(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::BadInput {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = ForecastError> = std::result::Result<T, E>;
