//! Replayed sales carry their historical day as timestamp (2011–2016), so the `sales` topic the
//! replay creates must not have time retention: a broker (or the embedded cleaner) would delete
//! every sealed segment at its next check.

use crate::common;
use common::replay_all;

use aisle_log::Log;
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use aisle_sales::{ReplayOptions, Source};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_history_survives_retention() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments, so the replay seals many; the log-wide retention is a week.
    let config = EmbeddedConfig {
        segment_bytes: 256 * 1024,
        retention_ms: 7 * 24 * 3_600_000,
        ..EmbeddedConfig::default()
    };
    let log = EmbeddedLog::open(dir.path(), config).unwrap();
    let shared: Arc<dyn Log> = Arc::new(log.clone());
    let mut opts = ReplayOptions::new(Source::Synthetic);
    opts.days = Some((1, 14));
    let summary = replay_all(&shared, opts).await.unwrap();
    assert_eq!(summary.sent, 30_490 * 14);

    log.enforce_retention_now(aisle_events::topics::SALES)
        .await
        .unwrap();
    let kept = aisle_testkit::read_all(shared.as_ref(), aisle_events::topics::SALES)
        .await
        .unwrap();
    assert_eq!(
        kept.len() as u64,
        summary.sent,
        "retention deleted replayed days"
    );
}
