//! A schema registry for tests: Aisle's own store over a log's `_schemas` topic.

use aisle_log::Log;
use aisle_registry::{LocalRegistry, SchemaRegistry, SchemaStore};
use std::sync::Arc;

/// A [`LocalRegistry`] over `log`'s `_schemas` topic (created if missing), as the binary uses
/// without `--registry`.
pub async fn local_registry(log: Arc<dyn Log>) -> anyhow::Result<Arc<dyn SchemaRegistry>> {
    Ok(Arc::new(LocalRegistry::new(SchemaStore::open(log).await?)))
}
