//! Rejected rows in the dead-letter topic `<topic>.dlq` (rows carry the event contracts'
//! headers, [`aisle_events::dead_letter`]: `aisle.dlq.file`, `aisle.dlq.line`,
//! `aisle.dlq.reason`), and what an earlier run already wrote there.

use crate::error::{Result, SalesError};
use aisle_events::dead_letter::DeadLetter;
use aisle_events::topics;
use aisle_log::{Log, Producer, TopicSpec};
use aisle_m5::wide::SalesIndex;
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

/// Writes rejected rows of `file` to `<topic>.dlq` (original bytes, headers with file, line and
/// reason), skipping those an earlier run already wrote, so a resumed replay does not repeat
/// them. Returns how many it wrote.
pub(crate) async fn dead_letters(
    log: &dyn Log,
    producer: &dyn Producer,
    topic: &str,
    index: &SalesIndex,
    file: &str,
    replication: i16,
) -> Result<u64> {
    if index.rejected.is_empty() {
        return Ok(0);
    }
    let dlq = topics::dlq(topic);
    let spec = topics::default_spec(&dlq)
        .unwrap_or_else(|| TopicSpec::new(&dlq, 1))
        .replication(replication);
    log.create_topic(&spec)
        .await
        .map_err(SalesError::log(format!("creating {dlq}")))?;
    let already = written_lines(log, &dlq, file).await?;
    let mut futs = Vec::new();
    for r in index.rejected.iter().filter(|r| !already.contains(&r.line)) {
        tracing::warn!(file = %file, line = r.line, reason = %r.reason, "row rejected to {dlq}");
        let mut rec = DeadLetter::new(&dlq, &r.reason)
            .file(file)
            .line(r.line)
            .value(r.raw.clone());
        if let Some(k) = &r.key {
            rec = rec.key(k.clone());
        }
        let rec = rec.build();
        futs.push(
            producer
                .send(rec)
                .await
                .map_err(SalesError::log(format!("sending to {dlq}")))?,
        );
    }
    let n = futs.len() as u64;
    for f in futs {
        f.await
            .map_err(SalesError::log(format!("delivering to {dlq}")))?;
    }
    Ok(n)
}
