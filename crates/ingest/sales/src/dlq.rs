//! What an earlier run already wrote to the dead-letter topic (rows carry the event contracts'
//! headers, [`aisle_events::dead_letter`]: `aisle.dlq.file`, `aisle.dlq.line`, `aisle.dlq.reason`).

use crate::error::{Result, SalesError};
use aisle_log::Log;
use std::collections::HashSet;
use std::time::Duration;

use aisle_events::dead_letter::{FILE, LINE};

/// Lines of `file` already in `dlq` (every partition, beginning to end).
pub async fn written_lines(log: &dyn Log, dlq: &str, file: &str) -> Result<HashSet<u64>> {
    let partitions = aisle_log::partitions_of(log, dlq)
        .await
        .map_err(SalesError::log(format!("describing {dlq}")))?;
    let mut out = HashSet::new();
    aisle_log::read_to_end(
        log,
        &partitions,
        "aisle-replay-dlq",
        Duration::from_secs(60),
        |rec| {
            let line = rec
                .header(LINE)
                .and_then(|l| std::str::from_utf8(l).ok()?.parse().ok());
            if let Some(line) = line
                && rec.header(FILE).is_some_and(|f| &f[..] == file.as_bytes())
            {
                out.insert(line);
            }
            Ok::<_, std::convert::Infallible>(())
        },
    )
    .await
    .map_err(|e| SalesError::log(format!("reading {dlq}"))(e.into_log()))?;
    Ok(out)
}
