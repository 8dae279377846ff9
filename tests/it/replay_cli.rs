//! `aisle replay sales` as a user types it: real data for a store and two days, read back with
//! `aisle topic dump`; bad arguments fail with a message before anything is sent.

use crate::support::{aisle, text};

#[test]
fn one_store_two_days_then_dump_shows_partition_key_timestamp_price() {
    let Some(m5) = aisle_testkit::m5_data_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = aisle(dir.path())
        .args(["replay", "sales", "--data"])
        .arg(&m5)
        .args(["--days", "1940..1941", "--stores", "WI_3"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("6098 records sent"), "{stdout}");
    assert!(stdout.contains("WI_3: 6098 records"), "{stdout}");

    let out = aisle(dir.path())
        .args(["topic", "dump", "sales", "--partition", "9", "--max", "1"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let rec: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(rec["partition"], 9);
    assert_eq!(rec["key"], "HOBBIES_1_001_WI_3");
    // d_1940 is 2016-05-21.
    assert_eq!(rec["timestamp"], 1_463_788_800_000i64);
    assert_eq!(rec["value"]["day"], 1940);
    assert_eq!(rec["value"]["store_id"], "WI_3");
    assert!(
        rec["value"]["sell_price"]["float"].as_f64().is_some(),
        "{rec}"
    );
}

#[test]
fn bad_arguments_fail_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let out = aisle(dir.path())
        .args([
            "replay",
            "sales",
            "--synthetic",
            "--days",
            "2",
            "--stores",
            "CA_9",
        ])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("unknown store `CA_9`"), "{stderr}");

    let missing = dir.path().join("no-such-dir");
    let out = aisle(dir.path())
        .args(["replay", "sales", "--data"])
        .arg(&missing)
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("no-such-dir"), "{stderr}");

    let out = aisle(dir.path())
        .args(["replay", "sales", "--synthetic", "--days", "3..1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).1.contains("--days `3..1`"));

    let out = aisle(dir.path()).args(["topic", "list"]).output().unwrap();
    assert!(!text(&out).0.contains("sales "), "nothing may be created");
}
