//! The dead-letter topic's headers, and what an earlier run already wrote there.

use crate::error::{Result, SalesError};
use aisle_log::Log;
use std::collections::HashSet;
use std::time::Duration;

/// Header: the input file of a rejected row.
pub const FILE_HEADER: &str = "aisle.dlq.file";
/// Header: its 1-based line.
pub const LINE_HEADER: &str = "aisle.dlq.line";
/// Header: why it was rejected.
pub const REASON_HEADER: &str = "aisle.dlq.reason";

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
                .header(LINE_HEADER)
                .and_then(|l| std::str::from_utf8(l).ok()?.parse().ok());
            if let Some(line) = line
                && rec
                    .header(FILE_HEADER)
                    .is_some_and(|f| &f[..] == file.as_bytes())
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
