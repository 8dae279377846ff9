//! A real kill -9: the test re-runs its own binary as a child that produces and prints every
//! acknowledged record; the parent SIGKILLs it mid-stream, reopens, and finds them all.

use crate::common;

use aisle_log::{Log, ProduceRecord, ProducerConfig, TopicSpec};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog, FsyncPolicy, verify};
use common::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const CHILD_ENV: &str = "AISLE_KILL9_CHILD_DIR";

fn config() -> EmbeddedConfig {
    EmbeddedConfig {
        fsync: FsyncPolicy::Interval { ms: 2 },
        segment_bytes: 64 << 10,
        cleaner_interval_ms: 0,
        ..EmbeddedConfig::default()
    }
}

/// The child: produce forever, printing `ACK partition offset value` once acknowledged.
#[tokio::test]
async fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let log = EmbeddedLog::open(&dir, config()).unwrap();
    let _ = log.create_topic(&TopicSpec::new("k9", 3)).await.unwrap();
    let p = log.producer(&ProducerConfig::default()).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(100_000);
    let printer = tokio::spawn(async move {
        while let Some((value, fut)) = rx.recv().await {
            let fut: aisle_log::DeliveryFuture = fut;
            let m = fut.await.unwrap();
            let mut out = std::io::stdout().lock();
            writeln!(out, "ACK {} {} {value}", m.partition, m.offset).unwrap();
            out.flush().unwrap();
        }
    });
    for i in 0u64.. {
        let value = format!("value-{i}-{}", "x".repeat((i % 200) as usize));
        let fut = p
            .send(
                ProduceRecord::new("k9")
                    .key(format!("key{}", i % 13))
                    .value(value.clone()),
            )
            .await
            .unwrap();
        tx.send((value, fut)).await.unwrap();
        if i % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    drop(tx);
    printer.await.unwrap();
}

#[test]
fn kill9_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "kill9::kill9_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut acked: HashMap<(i32, i64), String> = HashMap::new();
        let target = 20_000 + round * 7_777;
        for line in stdout.lines() {
            let line = line.unwrap();
            let mut it = line.splitn(4, ' ');
            if it.next() != Some("ACK") {
                continue;
            }
            let p: i32 = it.next().unwrap().parse().unwrap();
            let o: i64 = it.next().unwrap().parse().unwrap();
            acked.insert((p, o), it.next().unwrap().to_owned());
            if acked.len() >= target {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(acked.len() >= target, "child produced too little");

        let report = verify(dir.path()).unwrap();
        assert!(report.is_ok(), "{report}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let log = EmbeddedLog::open(dir.path(), config()).unwrap();
            let mut found = 0;
            for part in 0..3 {
                let recs = read_all(&log, "k9", part).await;
                for (i, r) in recs.iter().enumerate() {
                    assert_eq!(r.offset, i as i64);
                }
                for ((p, o), v) in &acked {
                    if *p == part {
                        let r = recs
                            .get(*o as usize)
                            .unwrap_or_else(|| panic!("acked {p}/{o} lost"));
                        assert_eq!(r.value.as_deref(), Some(v.as_bytes()), "{p}/{o}");
                        found += 1;
                    }
                }
            }
            assert_eq!(found, acked.len());
        });
        assert!(verify(dir.path()).unwrap().is_ok());
    }
}
