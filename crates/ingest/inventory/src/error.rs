//! [`InventoryError`]: whose fault it is, and whether trying again can help.

/// Result alias of this crate.
pub type Result<T, E = InventoryError> = std::result::Result<T, E>;

/// What can go wrong capturing the inventory table.
///
/// `Config` and `Schema` are the user's to fix (the connector refuses to start); `Db` and `Log`
/// are the outside world's and the capture loop retries them with backoff; `Registry` says
/// itself whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A setting is wrong: bad URL, missing table or column, bad mode.
    #[error("inventory connector configuration: {0}")]
    Config(String),
    /// A column whose type has no Avro mapping, or a schema change the registry refuses.
    #[error("inventory table schema: {0}")]
    Schema(String),
    /// The database failed or could not be reached.
    #[error("database {context}: {source}")]
    Db {
        /// What the connector was doing.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The log (embedded or Kafka) failed.
    #[error("log, {context}: {source}")]
    Log {
        /// What the connector was doing.
        context: String,
        /// The log's error.
        #[source]
        source: aisle_log::LogError,
    },
    /// The schema registry failed or refused a schema.
    #[error("schema registry, {context}: {source}")]
    Registry {
        /// What the connector was doing.
        context: String,
        /// The registry's error.
        #[source]
        source: aisle_registry::RegistryError,
    },
    /// The database did not answer within the start-up deadline.
    #[error("database {url} unreachable for {secs} s: {last}")]
    Unreachable {
        /// The URL, password removed.
        url: String,
        /// How long the connector tried.
        secs: u64,
        /// The last error seen.
        last: String,
    },
    /// An Avro encoding failure: a bug, since values are built from the schema itself.
    #[error("encoding a row: {0}")]
    Encode(String),
}

impl InventoryError {
    /// Wraps a database error with what was being done.
    pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        let context = context.into();
        move |source| InventoryError::Db { context, source }
    }
    /// Wraps a log error with what was being done.
    pub fn log(context: impl Into<String>) -> impl FnOnce(aisle_log::LogError) -> Self {
        let context = context.into();
        move |source| InventoryError::Log { context, source }
    }
    /// Wraps a registry error with what was being done.
    pub fn registry(
        context: impl Into<String>,
    ) -> impl FnOnce(aisle_registry::RegistryError) -> Self {
        let context = context.into();
        move |source| InventoryError::Registry { context, source }
    }

    /// Whether the capture loop should wait and try again (the database or the log is down,
    /// restarting, or a transaction was interrupted) rather than stop.
    pub fn is_transient(&self) -> bool {
        match self {
            InventoryError::Db { source, .. } => !matches!(
                source,
                sqlx::Error::Configuration(_)
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::TypeNotFound { .. }
            ),
            InventoryError::Log { source, .. } => !matches!(
                source,
                aisle_log::LogError::Fenced(_)
                    | aisle_log::LogError::Locked(_)
                    | aisle_log::LogError::Corrupt { .. }
                    | aisle_log::LogError::UnknownTopic(_)
            ),
            InventoryError::Registry { source, .. } => source.is_retriable(),
            _ => false,
        }
    }
}
