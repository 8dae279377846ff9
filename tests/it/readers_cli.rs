//! Watching a running pipeline, as a user types it: one process holds an embedded data
//! directory and keeps writing (`aisle replay sales --synthetic`, paced), and meanwhile, from
//! other processes, `topic list` shows its topic, `topic dump --follow` prints records as they
//! are written, `log verify` reports OK, `aisle serve` shows the sales on the dashboard's API,
//! and the writing commands (`topic produce`, `topic create`) are refused with an error that
//! names the directory and the commands that can read it.
//!
//! Synchronisation is by output and by polling with deadlines, never by sleeping for a while.

use crate::support::{aisle, rt, text};
use aisle_log::{Log, TopicPartition};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokio::time::Instant;

/// How long anything may take before the test gives up (a shared 2-core machine is slow).
const PATIENCE: Duration = Duration::from_secs(60);

/// A child process killed (by its own handle) when dropped, so a failing assertion leaves
/// nothing running.
struct Running(Child);

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        Running(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting aisle"),
        )
    }

    /// Fails if the process has exited, with what it printed.
    fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.0.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = self.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("{what} exited ({status}):\n{err}");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines of `stdout`, read on a thread, so the test can wait for one with a deadline.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// High watermark of every partition of `sales`, read beside the writer (no lock), or `None`
/// while the writer has not created the log or the topic yet.
fn sales_highs(dir: &Path) -> Option<Vec<i64>> {
    let log = aisle_log_embedded::EmbeddedLog::open_read_only(dir).ok()?;
    rt().block_on(async {
        let info = log.describe_topic("sales").await.ok()?;
        let mut highs = Vec::new();
        for p in 0..info.partitions {
            highs.push(
                log.watermarks(&TopicPartition::new("sales", p))
                    .await
                    .ok()?
                    .1,
            );
        }
        Some(highs)
    })
}

/// Polls `sales_highs` until `ok` holds for it.
fn wait_for_sales(dir: &Path, writer: &mut Running, ok: impl Fn(&[i64]) -> bool) -> Vec<i64> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        writer.assert_running("the writer");
        if let Some(h) = sales_highs(dir)
            && ok(&h)
        {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "the writer wrote no sales records"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn readers_watch_a_running_writer_and_writers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // One store, one synthetic day (3,049 records) per second, for longer than the test runs.
    let mut writer = Running::spawn(aisle(&data).args([
        "replay",
        "sales",
        "--synthetic",
        "--days",
        "1..1900",
        "--stores",
        "CA_1",
        "--speed",
        "1",
    ]));
    // Records in `sales` mean the writer has opened the directory and holds its lock.
    let highs = wait_for_sales(&data, &mut writer, |h| h.iter().sum::<i64>() > 0);
    let part = highs.iter().position(|h| *h > 0).unwrap() as i32;

    // `topic list`: a log is there, so it opens the directory read-only (no lock) and says so.
    let out = aisle(&data).args(["topic", "list"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "topic list: {stderr}");
    assert!(
        stderr.contains("read-only") && stderr.contains("no lock"),
        "topic list does not say it read beside the writer: {stderr}"
    );
    let sales = stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("sales"))
        .unwrap_or_else(|| panic!("no `sales` in topic list:\n{stdout}"));
    let cols: Vec<&str> = sales.split_whitespace().collect();
    assert_eq!(cols[1], "10", "partitions of sales: {sales}");
    let listed: i64 = cols[3].parse().unwrap();
    assert!(listed >= highs[part as usize], "records of sales: {sales}");
    assert!(stdout.contains("_schemas"), "{stdout}");

    // `topic dump` (once) from the beginning of the written partition, values decoded.
    let out = aisle(&data)
        .args(["topic", "dump", "sales", "--max", "3", "--partition"])
        .arg(part.to_string())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "topic dump: {stderr}");
    let offsets: Vec<i64> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["offset"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(offsets, [0, 1, 2], "{stdout}");

    // `topic dump --follow`: only records written after it started, decoded through the
    // writer's `_schemas`, until --max.
    let before = sales_highs(&data).unwrap();
    let mut follow =
        Running::spawn(aisle(&data).args(["topic", "dump", "sales", "--follow", "--max", "20"]));
    let rx = lines(follow.0.stdout.take().unwrap());
    let deadline = Instant::now() + PATIENCE;
    let mut followed = Vec::new();
    while followed.len() < 20 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => followed.push(serde_json::from_str::<serde_json::Value>(&line).unwrap()),
            Err(e) => panic!("dump --follow printed {} of 20 lines: {e}", followed.len()),
        }
    }
    for rec in &followed {
        let p = rec["partition"].as_i64().unwrap() as usize;
        assert!(
            rec["offset"].as_i64().unwrap() >= before[p],
            "--follow printed a record older than its start ({before:?}): {rec}"
        );
        assert_eq!(rec["value"]["store_id"], "CA_1", "{rec}");
    }
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = follow.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "dump --follow --max 20 did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "dump --follow exited {status}");

    // `log verify` on the live directory.
    let out = aisle(&data).args(["log", "verify"]).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "log verify: {stdout}\n{stderr}");
    assert!(
        stdout.lines().any(|l| l == "OK"),
        "log verify did not report OK:\n{stdout}"
    );
    let verified: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("topic sales: "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no sales total in:\n{stdout}"));
    assert!(
        verified >= listed as u64,
        "verify saw {verified} < {listed}"
    );

    // Writing commands are refused, naming the directory and the commands that can read it.
    let mut produce = aisle(&data)
        .args(["topic", "produce", "sales", "--schema"])
        .arg(format!(
            "{}/schemas/sales_record.avsc",
            env!("CARGO_MANIFEST_DIR")
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = r#"{"key":"X_CA_1","value":{"item_id":"X","dept_id":"D","cat_id":"C","store_id":"CA_1","state_id":"CA","day":1,"sold":1,"sell_price":null}}"#;
    // It may refuse before reading stdin (a closed pipe is fine).
    let _ = writeln!(produce.stdin.take().unwrap(), "{line}");
    let out = produce.wait_with_output().unwrap();
    for (what, out) in [
        ("topic produce", out),
        (
            "topic create",
            aisle(&data)
                .args(["topic", "create", "t"])
                .output()
                .unwrap(),
        ),
    ] {
        let (_, stderr) = text(&out);
        // 5: unavailable, try again once the writer is gone.
        assert_eq!(out.status.code(), Some(5), "{what}: {stderr}");
        for want in [
            data.display().to_string().as_str(),
            "in use by another process",
            "topic dump [--follow]",
            "log verify",
        ] {
            assert!(stderr.contains(want), "{what}: no `{want}` in: {stderr}");
        }
    }

    // `aisle serve` beside the writer: the dashboard's API shows the sales being written.
    let mut serve = Running::spawn(aisle(&data).args(["serve", "--listen", "127.0.0.1:0"]));
    let rx = lines(serve.0.stdout.take().unwrap());
    let url_line = rx
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|e| panic!("serve printed no address: {e}"));
    let base = url_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in `{url_line}`"))
        .trim_end_matches('/')
        .to_string();
    rt().block_on(async {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let body = match reqwest::get(format!("{base}/api/sales")).await {
                Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
                _ => String::new(),
            };
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if let Some(day) = v["last_day"].as_i64()
                && day > 0
            {
                assert_eq!(v["stores"][0]["store_id"], "CA_1", "{v}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/api/sales never showed sales: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    serve.assert_running("serve");

    // Every reader ran while the writer was writing, and none of them disturbed it.
    let after = wait_for_sales(&data, &mut writer, |h| {
        h.iter().sum::<i64>() > before.iter().sum::<i64>()
    });
    assert!(after[part as usize] > highs[part as usize]);
    writer.assert_running("the writer");
}

/// `line` without terminal colour codes (the log's fields are coloured).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `aisle topic produce` with `lines` on stdin; returns its output.
fn produce(data: &Path, topic: &str, avsc: &str, lines: &[String]) -> Output {
    let mut child = aisle(data)
        .args(["topic", "produce", topic, "--schema"])
        .arg(format!("{}/schemas/{avsc}", env!("CARGO_MANIFEST_DIR")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for l in lines {
        writeln!(stdin, "{l}").unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// A follower takes no lock: a writer can start after it. Its registry reads `_schemas` again
/// for an id it does not know, so a schema the writer registers after the follower started
/// still decodes.
#[test]
fn a_follower_lets_a_writer_start_and_decodes_schemas_registered_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let out = aisle(data).args(["topic", "create", "t"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    // `_schemas` exists, with a schema other than the one `t` will use.
    let out = aisle(data)
        .args(["topic", "create", "other"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let sale = r#"{"key":"k","value":{"item_id":"I","dept_id":"D","cat_id":"C","store_id":"CA_1","state_id":"CA","day":1,"sold":1,"sell_price":null}}"#;
    let out = produce(data, "other", "sales_record.avsc", &[sale.to_string()]);
    assert!(out.status.success(), "{}", text(&out).1);

    let mut follow = Running::spawn(aisle(data).args([
        "--log",
        "aisle=debug",
        "topic",
        "dump",
        "t",
        "--follow",
        "--from-beginning",
        "--max",
        "2",
    ]));
    let out_rx = lines(follow.0.stdout.take().unwrap());
    // Its stderr, line by line, until it has read `_schemas` (before the new schema exists).
    let (err_tx, err_rx) = mpsc::channel();
    let stderr = follow.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if err_tx.send(plain(&line)).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match err_rx.recv_timeout(left) {
            Ok(l) if l.contains("read-only schema registry") => {
                assert!(l.contains("found=true"), "{l}");
                break;
            }
            Ok(l) => seen.push(l),
            Err(e) => panic!(
                "the follower never read `_schemas` ({e}):\n{}",
                seen.join("\n")
            ),
        }
    }

    let special = |store: &str| {
        serde_json::json!({"key": store, "value": {
            "store_id": store, "window_start": 1_700_000_000_000i64,
            "window_end": 1_700_000_060_000i64, "item": "bowl", "upsell_item": "cup",
            "count": 4, "reason": "most carted (4)", "total_items": 7, "unmatched_items": 1}})
        .to_string()
    };
    // The follower holds no lock, so this writer opens the directory.
    let out = produce(
        data,
        "t",
        "green_light_special.avsc",
        &[special("CA_1"), special("TX_1")],
    );
    assert!(
        out.status.success(),
        "produce beside a follower: {}",
        text(&out).1
    );

    let mut stores = Vec::new();
    while stores.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = out_rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("the follower printed {stores:?}, then nothing: {e}"));
        let rec: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(rec["value"]["item"], "bowl", "not decoded: {rec}");
        stores.push(rec["value"]["store_id"].as_str().unwrap().to_string());
    }
    assert_eq!(stores, ["CA_1", "TX_1"]);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = follow.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "dump --follow --max 2 did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // 65 would mean a value could not be decoded.
    assert!(status.success(), "dump --follow exited {status}");
}

/// `aisle serve` on a directory nothing has written yet takes no lock either: the pipeline
/// can start after the dashboard.
#[test]
fn serve_on_a_fresh_dir_lets_a_writer_start_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let mut serve = Running::spawn(aisle(&data).args(["serve", "--listen", "127.0.0.1:0"]));
    let rx = lines(serve.0.stdout.take().unwrap());
    let line = rx
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|e| panic!("serve printed no address: {e}"));
    assert!(line.contains("http://"), "{line}");
    let out = aisle(&data)
        .args(["topic", "create", "--standard"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a writer after serve: {}",
        text(&out).1
    );
    serve.assert_running("serve");
}
