//! End-to-end tests through the `aisle` binary on the embedded runtime: what a user types.

use crate::support::aisle;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("running aisle")
}

fn run_stdin(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn schema(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

#[test]
fn help_teaches_the_runtimes_and_exit_codes() {
    let out = run(Command::new(env!("CARGO_BIN_EXE_aisle")).arg("--help"));
    let text = ok(&out);
    for want in [
        "embedded",
        "--kafka",
        "--data-dir",
        "--registry",
        "Exit codes",
        "topic",
        "demo",
    ] {
        assert!(text.contains(want), "--help lacks {want}:\n{text}");
    }
}

#[test]
fn bad_config_exits_3_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("aisle.toml");
    std::fs::write(&cfg, "[embeded]\nfsync = 1\n").unwrap();
    let out = run(aisle(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["topic", "list"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("embeded"));
}

#[test]
fn produce_then_dump_round_trips_avro_with_keys_partitions_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(aisle(dir.path()).args([
        "topic",
        "create",
        "sales",
        "--partitions",
        "10",
    ])));
    let input = r#"{"key":"FOODS_3_090_CA_1","timestamp":1456790400000,"value":{"item_id":"FOODS_3_090","dept_id":"FOODS_3","cat_id":"FOODS","store_id":"CA_1","state_id":"CA","day":1914,"sold":3,"sell_price":{"float":1.25}}}
{"key":"HOBBIES_1_001_WI_3","partition":9,"timestamp":1456876800000,"value":{"item_id":"HOBBIES_1_001","dept_id":"HOBBIES_1","cat_id":"HOBBIES","store_id":"WI_3","state_id":"WI","day":1915,"sold":0,"sell_price":null}}
"#;
    let mut cmd = aisle(dir.path());
    cmd.args(["topic", "produce", "sales", "--schema"])
        .arg(schema("sales_record.avsc"));
    ok(&run_stdin(&mut cmd, input));

    let out = ok(&run(aisle(dir.path()).args(["topic", "dump", "sales"])));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    let first = lines
        .iter()
        .find(|l| l["key"] == "FOODS_3_090_CA_1")
        .unwrap();
    assert_eq!(
        first["partition"],
        aisle_log::partition_for_key(b"FOODS_3_090_CA_1", 10),
        "key placement must be Kafka's murmur2"
    );
    assert_eq!(first["timestamp"], 1456790400000i64);
    assert_eq!(first["value"]["sold"], 3);
    assert_eq!(
        first["value"]["sell_price"],
        serde_json::json!({"float": 1.25})
    );
    let second = lines
        .iter()
        .find(|l| l["key"] == "HOBBIES_1_001_WI_3")
        .unwrap();
    assert_eq!(second["partition"], 9);
    assert_eq!(second["value"]["sell_price"], serde_json::Value::Null);

    // --max stops early.
    let out = ok(&run(
        aisle(dir.path()).args(["topic", "dump", "sales", "--max", "1"])
    ));
    assert_eq!(out.lines().count(), 1);

    // list shows the counts.
    let out = ok(&run(aisle(dir.path()).args(["topic", "list"])));
    let line = out.lines().find(|l| l.starts_with("sales ")).unwrap();
    assert!(line.trim_end().ends_with(" 2"), "{line}");
}

#[test]
fn undecodable_values_are_reported_by_offset_and_the_dump_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(aisle(dir.path()).args(["topic", "create", "mixed"])));
    let mut cmd = aisle(dir.path());
    cmd.args(["topic", "produce", "mixed", "--schema"])
        .arg(schema("sales_record.avsc"));
    // Line 2 is not valid for the schema: it is skipped with its line number, the rest written.
    let input = r#"{"key":"a","value":{"item_id":"A","dept_id":"D","cat_id":"C","store_id":"CA_1","state_id":"CA","day":1,"sold":1,"sell_price":null}}
{"key":"b","value":{"item_id":"B"}}
{"key":"c","value":{"item_id":"C","dept_id":"D","cat_id":"C","store_id":"CA_1","state_id":"CA","day":2,"sold":2,"sell_price":null}}
"#;
    let out = run_stdin(&mut cmd, input);
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));

    let out = ok(&run(aisle(dir.path()).args(["topic", "dump", "mixed"])));
    assert_eq!(out.lines().count(), 2);
}

/// kill -9 in the middle of a benchmark run: `log verify` passes (a torn tail is not corruption)
/// and every record the log acknowledged is there after recovery.
#[test]
fn kill_9_during_bench_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let acks = dir.path().join("acks.txt");
    let data = dir.path().join("data");
    let mut child = aisle(&data)
        .args([
            "bench",
            "log",
            "--records",
            "50000000",
            "--produce-only",
            "--ack-log",
        ])
        .arg(&acks)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a good number of records were acknowledged, then kill without warning.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n = std::fs::read_to_string(&acks)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if n > 20_000 || tokio::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let acked: Vec<(u64, i32, i64)> = std::fs::read_to_string(&acks)
        .unwrap()
        .lines()
        .filter_map(|l| {
            // The last line may be cut mid-write by the kill.
            let mut it = l.split(' ');
            Some((
                it.next()?.parse().ok()?,
                it.next()?.parse().ok()?,
                it.next()?.parse().ok()?,
            ))
        })
        .collect();
    assert!(
        acked.len() > 1000,
        "only {} records acknowledged before the kill",
        acked.len()
    );

    let out = run(aisle(&data).args(["log", "verify"]));
    ok(&out);

    // Every acknowledged (partition, offset) holds the record with that sequence number
    // (the benchmark stamps record `seq` with timestamp BASE_TS + seq).
    let topic = {
        let out = ok(&run(aisle(&data).args(["topic", "list"])));
        out.lines()
            .find(|l| l.starts_with("aisle-bench-log"))
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_string()
    };
    let out = ok(&run(aisle(&data).args(["topic", "dump", &topic])));
    let mut stored = std::collections::HashMap::new();
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = v["timestamp"].as_i64().unwrap();
        stored.insert(
            (
                v["partition"].as_i64().unwrap() as i32,
                v["offset"].as_i64().unwrap(),
            ),
            ts,
        );
    }
    for (seq, p, o) in &acked {
        let ts = stored
            .get(&(*p, *o))
            .unwrap_or_else(|| panic!("acked record {seq} at {p}/{o} lost"));
        assert_eq!(
            *ts,
            1_763_800_000_000 + *seq as i64,
            "record at {p}/{o} is not #{seq}"
        );
    }
}

/// A flipped byte in a batch with valid batches after it cannot be a torn tail: it is corruption,
/// and `log verify` exits 4. (A bad *last* batch is what a crash leaves; recovery cuts it.)
#[test]
fn verify_reports_corruption_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(aisle(dir.path()).args(["topic", "create", "t"])));
    let produce = |from: usize| {
        let mut input = String::new();
        for i in from..from + 200 {
            input.push_str(&format!(
                r#"{{"key":"k{i}","value":{{"item_id":"I{i}","dept_id":"D","cat_id":"C","store_id":"CA_1","state_id":"CA","day":{i},"sold":{i},"sell_price":null}}}}"#
            ));
            input.push('\n');
        }
        let mut cmd = aisle(dir.path());
        cmd.args(["topic", "produce", "t", "--schema"])
            .arg(schema("sales_record.avsc"));
        ok(&run_stdin(&mut cmd, &input));
    };
    produce(0);
    let seg = largest_file(dir.path(), "t").expect("a segment file of topic t");
    let first_batches = std::fs::metadata(&seg).unwrap().len() as usize;
    produce(200);
    ok(&run(aisle(dir.path()).args(["log", "verify"])));

    let mut bytes = std::fs::read(&seg).unwrap();
    assert!(
        bytes.len() > first_batches,
        "second run appended to {}",
        seg.display()
    );
    bytes[first_batches / 2] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    let out = run(aisle(dir.path()).args(["log", "verify"]));
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{report}");
    assert!(
        report.contains(&seg.display().to_string()),
        "names the file: {report}"
    );
}

/// The biggest segment (`.log`) below `root` in a directory named for `topic`.
fn largest_file(root: &Path, topic: &str) -> Option<PathBuf> {
    let mut best: Option<(u64, PathBuf)> = None;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "log")
                && p.strip_prefix(root).ok()?.components().any(|c| {
                    let c = c.as_os_str().to_string_lossy();
                    c == topic || c.starts_with(&format!("{topic}-"))
                })
            {
                let len = e.metadata().ok()?.len();
                if best.as_ref().is_none_or(|(l, _)| len > *l) {
                    best = Some((len, p));
                }
            }
        }
    }
    best.map(|(_, p)| p)
}
