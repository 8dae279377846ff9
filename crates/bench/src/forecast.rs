//! `aisle bench forecast`: the streaming forecaster as a consumer group. A synthetic chain's
//! sales (M5's shape by default: ten stores of 3,049 items) are replayed into a fresh topic,
//! then `--instances` forecaster members of one group read it from the start, keep each
//! partition's history in their changelog and forecast every series once its last day is
//! closed. The clock runs from the members' start until every series' forecast from the day
//! after the last is readable (`read_committed`) in the output topic.
//!
//! Besides the rate it reports what the members cost this process: peak resident memory of the
//! forecasting phase (Linux `VmHWM`, reset before it) and bytes written to storage (Linux
//! `/proc/self/io`; on the embedded runtime that is the changelog, forecasts and offsets; on
//! Kafka the brokers write, so it is near zero and the changelog's size is what to look at).

use crate::{BenchError, Target};
use aisle_events::{Event, SalesForecast, wire};
use aisle_forecast::stream::{RunOptions, RunSummary};
use aisle_log::{ConsumerConfig, Isolation, Offset, TopicPartition, TopicSpec};
use aisle_sales::{Chain, ReplayOptions, Source, Speed};
use anyhow::Context;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// What `aisle bench forecast` runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Days of sales, d_1..d_days (`--days`).
    pub days: u32,
    /// Stores of the synthetic chain (`--stores`; 10 = M5's).
    pub stores: usize,
    /// Items per store (`--items-per-store`; 3,049 = M5's).
    pub items_per_store: u32,
    /// Partitions of the sales topic (`--partitions`); `None`: one per store.
    pub partitions: Option<i32>,
    /// Forecaster members of the group (`--instances`).
    pub instances: usize,
    /// Days forecast (`--horizon`).
    pub horizon: usize,
    /// Model (`--model`, as `forecast run`).
    pub model: String,
}

impl Options {
    /// Checks the options before anything is written.
    pub fn check(&self) -> Result<Chain, BenchError> {
        if self.days < 29 {
            return Err(BenchError::Options(format!(
                "--days {}: the models need at least 29 days",
                self.days
            )));
        }
        if self.instances == 0 {
            return Err(BenchError::Options("--instances must be at least 1".into()));
        }
        if aisle_forecast::models::by_name(&self.model).is_none() {
            return Err(BenchError::Options(format!(
                "--model `{}`: unknown model",
                self.model
            )));
        }
        Chain::new(self.stores, self.items_per_store)
            .map_err(|e| BenchError::Options(e.to_string()))
    }
}

/// Peak resident memory since the last reset, bytes (Linux; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Starts a new peak for [`peak_rss`] (Linux `clear_refs` 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Bytes this process has caused to be written to storage (Linux; `None` elsewhere).
fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let line = io.lines().find(|l| l.starts_with("write_bytes:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn gib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    })
}

/// Runs the bench on `target`: progress on stderr, the table on stdout.
pub async fn run(target: &Target, opts: &Options) -> Result<(), BenchError> {
    let chain = opts.check()?;
    Ok(bench(target, opts, chain).await?)
}

async fn bench(target: &Target, opts: &Options, chain: Chain) -> anyhow::Result<()> {
    let log = target.log.clone();
    let registry = target.registry.clone();
    let tag = format!("{:x}", aisle_log::now_ms());
    let sales = format!("bench-fc-sales-{tag}");
    let output = format!("bench-fc-forecasts-{tag}");
    let series = chain.stores * chain.items_per_store as usize;
    let records = series as u64 * u64::from(opts.days);
    let partitions = opts.partitions.unwrap_or(chain.stores as i32);
    eprintln!(
        "replaying {records} synthetic sales ({} stores × {} items × {} days) into {sales} \
         ({partitions} partitions, {} runtime)...",
        chain.stores,
        chain.items_per_store,
        opts.days,
        log.runtime()
    );
    log.create_topic(
        &TopicSpec::new(&sales, partitions)
            .retention_ms(-1)
            .replication(target.replication),
    )
    .await?;
    let mut replay = ReplayOptions::new(Source::Chain(chain));
    replay.days = Some((1, opts.days));
    replay.speed = Speed::Max;
    replay.topic = sales.clone();
    replay.partitions = Some(partitions);
    replay.replication = target.replication;
    let sent = aisle_sales::replay(
        log.clone(),
        registry.clone(),
        replay,
        Arc::new(aisle_sales::Quiet),
        std::future::pending(),
    )
    .await
    .context("replaying the bench's sales")?;
    anyhow::ensure!(
        sent.sent == records,
        "the replay sent {} records, expected {records}",
        sent.sent
    );
    eprintln!(
        "replayed in {:.1} s; starting {} forecaster(s)...",
        sent.secs, opts.instances
    );

    reset_peak_rss();
    let written_before = written_bytes();
    let started = tokio::time::Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut members = Vec::new();
    for i in 0..opts.instances {
        let model: Arc<dyn aisle_forecast::models::Model> = Arc::from(
            aisle_forecast::models::by_name(&opts.model).context("the model was checked")?,
        );
        let mut run = RunOptions::new();
        run.sales_topic = sales.clone();
        run.forecasts_topic = output.clone();
        run.group_id = format!("bench-fc-{tag}");
        run.instance_id = Some(format!("m{i}"));
        run.horizon = opts.horizon;
        let mut stop = stop_rx.clone();
        members.push(tokio::spawn(aisle_forecast::stream::run(
            log.clone(),
            registry.clone(),
            None,
            model,
            run,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        )));
    }
    let done = wait_for_forecasts(target, &output, series, opts.days as i32 + 1, &members).await;
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss();
    let written = written_bytes()
        .zip(written_before)
        .map(|(after, before)| after.saturating_sub(before));
    let _ = stop_tx.send(true);
    let mut summaries: Vec<RunSummary> = Vec::new();
    for m in members {
        summaries.push(m.await.context("a forecaster panicked")??);
    }
    done?;

    println!(
        "aisle bench forecast ({} runtime, {} stores × {} items × {} days, {partitions} partitions)",
        log.runtime(),
        chain.stores,
        chain.items_per_store,
        opts.days
    );
    println!(
        "  {:<28} {:>12} {:>10} {:>14} {:>12} {:>14}",
        "", "records", "seconds", "records/s", "peak RSS", "disk written"
    );
    println!(
        "  {:<28} {:>12} {:>10.1} {:>14.0}",
        "replay (synthetic chain)",
        sent.sent,
        sent.secs,
        sent.sent as f64 / sent.secs
    );
    println!(
        "  {:<28} {:>12} {:>10.1} {:>14.0} {:>12} {:>14}",
        format!("forecast, {} instance(s)", opts.instances),
        records,
        secs,
        records as f64 / secs,
        gib(peak),
        gib(written)
    );
    for (i, s) in summaries.iter().enumerate() {
        println!(
            "  member m{i}: {} records applied, {} forecasts published, {} commits",
            s.records, s.published, s.commits
        );
    }
    for topic in [&sales, &output] {
        log.delete_topic(topic).await.ok();
    }
    Ok(())
}

/// Reads `output` until every one of `series` has a forecast starting on `first_day`; fails if
/// a member stops first.
async fn wait_for_forecasts(
    target: &Target,
    output: &str,
    series: usize,
    first_day: i32,
    members: &[tokio::task::JoinHandle<aisle_forecast::Result<RunSummary>>],
) -> anyhow::Result<()> {
    let log = &target.log;
    // The members create the output topic; wait for it.
    let info = loop {
        match log.describe_topic(output).await {
            Ok(info) => break info,
            Err(_) if members.iter().all(|m| !m.is_finished()) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e).context("a forecaster stopped before creating its output"),
        }
    };
    let mut reader = log.consumer(&ConsumerConfig {
        client_id: "aisle-bench-forecast".into(),
        isolation: Isolation::ReadCommitted,
        ..Default::default()
    })?;
    let all: Vec<_> = (0..info.partitions)
        .map(|p| (TopicPartition::new(output, p), Offset::Beginning))
        .collect();
    reader.assign(&all)?;
    let bar = indicatif::ProgressBar::new(series as u64).with_message("series forecast");
    let mut seen = HashSet::new();
    while seen.len() < series {
        anyhow::ensure!(
            members.iter().all(|m| !m.is_finished()),
            "a forecaster stopped before every series was forecast ({} of {series})",
            seen.len()
        );
        for rec in reader.poll(Duration::from_millis(200)).await? {
            let Some(value) = rec.value.as_deref() else {
                continue;
            };
            let (_, datum) = wire::split(value)?;
            let f = SalesForecast::decode(datum)?;
            if f.first_day == first_day {
                seen.insert(f.id);
            }
        }
        bar.set_position(seen.len() as u64);
    }
    bar.finish_and_clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            days: 60,
            stores: 3,
            items_per_store: 20,
            partitions: None,
            instances: 2,
            horizon: 28,
            model: "pooled".into(),
        }
    }

    #[test]
    fn options_are_checked_before_anything_runs() {
        assert!(opts().check().is_ok());
        let e = Options { days: 10, ..opts() }.check().unwrap_err();
        assert!(e.to_string().contains("--days 10"), "{e}");
        let e = Options {
            instances: 0,
            ..opts()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("--instances"), "{e}");
        let e = Options {
            model: "prophet".into(),
            ..opts()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().contains("prophet"), "{e}");
        assert!(
            Options {
                stores: 0,
                ..opts()
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn memory_and_io_are_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss().is_some_and(|b| b > 0));
            assert!(written_bytes().is_some());
        }
        assert_eq!(gib(Some(1 << 30)), "1.00 GiB");
        assert_eq!(gib(None), "n/a");
    }
}
