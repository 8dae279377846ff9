//! Errors of the registry, naming the subject, version, id or URL involved.

/// Result alias for registry operations.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Everything that can go wrong registering or looking up a schema.
///
/// The caller's fault: `InvalidSchema`, `InvalidVersion`, `InvalidCompatibility`,
/// `Incompatible`, and the `Unknown*` lookups. The outside world's: `Unavailable` (retriable),
/// `Http`, `Log`, `Protocol`. [`RegistryError::error_code`] maps each to Confluent's
/// `error_code`, so the server and the HTTP client speak the same language.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No schema has this global id.
    #[error("schema id {0} not found")]
    UnknownSchemaId(u32),
    /// The subject has no (live) versions.
    #[error("subject '{0}' not found")]
    UnknownSubject(String),
    /// The subject exists but not this version.
    #[error("version {version} of subject '{subject}' not found")]
    UnknownVersion {
        /// Subject name.
        subject: String,
        /// Requested version.
        version: u32,
    },
    /// The schema is not registered under the subject (lookup by schema).
    #[error("schema not found under subject '{subject}'")]
    SchemaNotFound {
        /// Subject name.
        subject: String,
    },
    /// The new schema breaks the subject's compatibility rule.
    #[error("schema being registered is incompatible with subject '{subject}': {reason}")]
    Incompatible {
        /// Subject name.
        subject: String,
        /// Which rule and which version failed, and why.
        reason: String,
    },
    /// The text is not a valid Avro schema, or not an Avro schema at all.
    #[error("invalid schema{}: {reason}", subject.as_deref().map(|s| format!(" for subject '{s}'")).unwrap_or_default())]
    InvalidSchema {
        /// Subject it was meant for, if known.
        subject: Option<String>,
        /// What is wrong with it.
        reason: String,
    },
    /// A version that is neither a positive integer, `latest` nor `-1`.
    #[error("invalid version '{0}': expected a positive integer, 'latest' or -1")]
    InvalidVersion(String),
    /// A compatibility level Confluent does not define.
    #[error("invalid compatibility level '{0}'")]
    InvalidCompatibility(String),
    /// A subject has no subject-level compatibility configured.
    #[error("subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    /// A permanent delete of something that was not soft-deleted first (Confluent's rule).
    #[error(
        "subject '{subject}' version {version:?} was not deleted first before being permanently deleted"
    )]
    NotSoftDeleted {
        /// Subject name.
        subject: String,
        /// Version, or `None` for the whole subject.
        version: Option<u32>,
    },
    /// The registry's `_schemas` log failed.
    #[error("schema store log error: {0}")]
    Log(#[from] aisle_log::LogError),
    /// A `_schemas` record could not be decoded (names topic/partition/offset).
    #[error("bad record in {location}: {reason}")]
    BadRecord {
        /// `topic/partition@offset`.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The registry server could not be reached or timed out; retrying may help.
    #[error("schema registry at {url} is unavailable: {source}")]
    Unavailable {
        /// The URL requested.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry server answered with an error not covered by another variant.
    #[error("schema registry at {url} answered HTTP {status}, error_code {error_code}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// HTTP status.
        status: u16,
        /// Confluent `error_code`.
        error_code: i64,
        /// Confluent `message`.
        message: String,
    },
    /// The registry server sent something that is not what the protocol says.
    #[error("unexpected answer from schema registry at {url}: {reason}")]
    Protocol {
        /// The URL requested.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The server could not bind, accept or serve.
    #[error("registry server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl RegistryError {
    /// Whether repeating the same call later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            RegistryError::Unavailable { .. } => true,
            RegistryError::Http { status, .. } => *status >= 500,
            RegistryError::Log(e) => e.is_retriable(),
            _ => false,
        }
    }

    /// Confluent's `error_code` for this error (the HTTP status is its first three digits).
    pub fn error_code(&self) -> i64 {
        match self {
            RegistryError::UnknownSubject(_) => 40401,
            RegistryError::UnknownVersion { .. } => 40402,
            RegistryError::UnknownSchemaId(_) | RegistryError::SchemaNotFound { .. } => 40403,
            RegistryError::NotSoftDeleted { version: None, .. } => 40405,
            RegistryError::NotSoftDeleted {
                version: Some(_), ..
            } => 40407,
            RegistryError::SubjectConfigNotFound(_) => 40408,
            RegistryError::Incompatible { .. } => 409,
            RegistryError::InvalidSchema { .. } => 42201,
            RegistryError::InvalidVersion(_) => 42202,
            RegistryError::InvalidCompatibility(_) => 42203,
            RegistryError::Http { error_code, .. } => *error_code,
            RegistryError::Log(aisle_log::LogError::Timeout(_)) => 50002,
            _ => 50001,
        }
    }

    /// The HTTP status that goes with [`RegistryError::error_code`].
    pub fn http_status(&self) -> u16 {
        let code = self.error_code();
        let status = if code >= 10_000 { code / 100 } else { code };
        u16::try_from(status).unwrap_or(500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_confluent() {
        let e = RegistryError::UnknownSubject("x".into());
        assert_eq!((e.error_code(), e.http_status()), (40401, 404));
        assert_eq!(e.to_string(), "subject 'x' not found");
        let e = RegistryError::Incompatible {
            subject: "s".into(),
            reason: "r".into(),
        };
        assert_eq!((e.error_code(), e.http_status()), (409, 409));
        let e = RegistryError::InvalidSchema {
            subject: Some("s".into()),
            reason: "bad".into(),
        };
        assert_eq!(e.http_status(), 422);
        assert_eq!(e.to_string(), "invalid schema for subject 's': bad");
        let e = RegistryError::Log(aisle_log::LogError::Closed);
        assert_eq!((e.error_code(), e.http_status()), (50001, 500));
        assert!(!e.is_retriable());
    }
}
