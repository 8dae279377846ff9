//! Exit codes that mean something to scripts and supervisors.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure (anything not below) |
//! | 2 | usage error (clap) |
//! | 3 | bad configuration |
//! | 4 | corrupt data found (`aisle log verify`, a CRC failure while reading) |
//! | 5 | a service is unreachable (Kafka, schema registry, database): retrying later may work |
//! | 65 | some input records were bad (reported on stderr / sent to a dead-letter topic) |
//! | 130 | interrupted (Ctrl-C or SIGTERM before the work was done; a later run resumes) |

use aisle_log::LogError;
use aisle_registry::RegistryError;

/// Failure.
pub const FAILURE: i32 = 1;
/// Bad configuration.
pub const CONFIG: i32 = 3;
/// Corrupt data.
pub const CORRUPT: i32 = 4;
/// Service unreachable.
pub const UNAVAILABLE: i32 = 5;
/// Bad input records.
pub const DATA_ERR: i32 = 65;
/// Stopped by Ctrl-C or SIGTERM before the work was done (a later run resumes).
pub const INTERRUPTED: i32 = 130;

/// An error that carries the exit code the process should end with.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    /// The code.
    pub code: i32,
    /// What to print.
    pub message: String,
}

/// An error that ends the process with `code`.
pub fn fail(code: i32, message: impl Into<String>) -> anyhow::Error {
    Exit {
        code,
        message: message.into(),
    }
    .into()
}

/// The exit code for an error: an explicit [`Exit`] wins, then the first classifiable cause.
pub fn code_for(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Exit>() {
            return e.code;
        }
        if let Some(e) = cause.downcast_ref::<LogError>() {
            return match e {
                LogError::Corrupt { .. } => CORRUPT,
                LogError::Kafka { .. } | LogError::Timeout(_) => UNAVAILABLE,
                _ => FAILURE,
            };
        }
        if let Some(e) = cause.downcast_ref::<RegistryError>()
            && e.is_retriable()
        {
            return UNAVAILABLE;
        }
    }
    FAILURE
}
