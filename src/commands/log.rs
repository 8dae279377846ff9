//! `aisle log verify`: reads the files only (no lock, no recovery), so it also checks a data
//! directory a running pipeline is writing.

use crate::config::{Config, Runtime};
use crate::exit;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum LogCmd {
    /// Check every segment of the embedded log (CRCs, framing, indexes) without changing it;
    /// print per-topic record counts. Exit 4 on corruption. A torn tail left by a crash is
    /// reported but is not corruption: the next open cuts it.
    ///
    /// It takes no lock, so it also checks a directory a running pipeline is writing: a batch
    /// being appended at that moment is a note, not corruption, and the counts are a snapshot.
    Verify,
}

pub async fn run(config: &Config, cmd: LogCmd) -> anyhow::Result<()> {
    match cmd {
        LogCmd::Verify => verify(config),
    }
}

fn verify(config: &Config) -> anyhow::Result<()> {
    let dir = match config.runtime()? {
        Runtime::Embedded { data_dir, .. } => data_dir,
        Runtime::Kafka { .. } => {
            return Err(exit::fail(
                2,
                "`log verify` checks the embedded runtime's files; Kafka brokers verify their own \
                 logs (kafka-dump-log.sh). Drop --kafka to verify --data-dir.",
            ));
        }
    };
    if !dir.is_dir() {
        return Err(exit::fail(
            exit::FAILURE,
            format!("no embedded log at {}", dir.display()),
        ));
    }
    println!(
        "verifying {} read-only (no lock taken, nothing changed: safe while a writer runs)",
        dir.display()
    );
    let report = aisle_log_embedded::verify(&dir)?;
    println!("{report}");
    // Per-topic totals, the figure to compare with what producers acknowledged.
    let mut totals: std::collections::BTreeMap<&str, (u64, usize)> = Default::default();
    for p in &report.partitions {
        let t = totals.entry(p.topic.as_str()).or_default();
        t.0 += p.records;
        t.1 += 1;
    }
    for (topic, (records, parts)) in totals {
        println!("topic {topic}: {records} records in {parts} partition(s)");
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(exit::fail(
            exit::CORRUPT,
            format!("corruption found in {}", dir.display()),
        ))
    }
}
