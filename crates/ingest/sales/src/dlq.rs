//! The dead-letter topic's headers, and what an earlier run already wrote there.

use crate::error::{Result, SalesError};
use aisle_log::{ConsumerConfig, Log, Offset, TopicPartition};
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
    let info = log
        .describe_topic(dlq)
        .await
        .map_err(SalesError::log(format!("describing {dlq}")))?;
    let mut ends = Vec::new();
    for p in 0..info.partitions {
        let tp = TopicPartition::new(dlq, p);
        let (low, high) = log
            .watermarks(&tp)
            .await
            .map_err(SalesError::log(format!("watermarks of {tp}")))?;
        if high > low {
            ends.push((tp, high));
        }
    }
    let mut out = HashSet::new();
    if ends.is_empty() {
        return Ok(out);
    }
    let mut consumer = log
        .consumer(&ConsumerConfig {
            client_id: "aisle-replay-dlq".into(),
            ..Default::default()
        })
        .map_err(SalesError::log(format!("reading {dlq}")))?;
    let assign: Vec<_> = ends
        .iter()
        .map(|(tp, _)| (tp.clone(), Offset::Beginning))
        .collect();
    consumer
        .assign(&assign)
        .map_err(SalesError::log(format!("reading {dlq}")))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        for rec in consumer
            .poll(Duration::from_millis(200))
            .await
            .map_err(SalesError::log(format!("reading {dlq}")))?
        {
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
        }
        if ends
            .iter()
            .all(|(tp, high)| consumer.position(tp).is_some_and(|p| p >= *high))
            || consumer.is_caught_up()
        {
            return Ok(out);
        }
        if std::time::Instant::now() > deadline {
            return Err(SalesError::Log {
                context: format!("reading {dlq}"),
                source: aisle_log::LogError::Timeout("not at its end within 60 s".into()),
            });
        }
    }
}
