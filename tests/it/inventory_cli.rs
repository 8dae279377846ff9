//! `aisle inventory init` and `aisle connect inventory` as a user types them, on the embedded
//! defaults (SQLite in the data directory, the embedded log): the seed rows in both topics, an
//! UPDATE and a DELETE, errors with meaningful exit codes, and kill -9 mid-capture followed by a
//! rerun that leaves every row exactly once.

use crate::support::aisle;
use aisle_inventory::{Db, sqlx};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn dump(dir: &Path, topic: &str) -> Vec<serde_json::Value> {
    let (out, stdout, stderr) = run(aisle(dir).args(["topic", "dump", topic]));
    assert!(out.status.success(), "{stderr}");
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn sql(dir: &Path, stmts: &[&str]) {
    let db = Db::connect(&aisle_inventory::sqlite_url(dir))
        .await
        .unwrap();
    for s in stmts {
        sqlx::query(s).execute(&db.pool).await.unwrap();
    }
    db.pool.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn init_connect_update_delete_on_the_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (out, stdout, stderr) = run(aisle(d).args(["inventory", "init"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("7 seed rows inserted"), "{stdout}");
    let (_, stdout, _) = run(aisle(d).args(["inventory", "init"]));
    assert!(
        stdout.contains("0 seed rows inserted, 7 rows"),
        "init is idempotent: {stdout}"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (out, stdout, stderr) = run(aisle(d).args(["connect", "inventory", "--once"]));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("7 rows captured, 7 rekeyed"), "{stdout}");
    let rekeyed = dump(d, "inventory_rekeyed");
    let keys: Vec<&str> = rekeyed.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "cup",
            "bowl",
            "fork",
            "spoon",
            "sports ball",
            "tennis racket",
            "frisbee"
        ]
    );
    assert_eq!(rekeyed[4]["value"]["upsell_item"]["string"], "soccer goal");
    let jdbc = dump(d, "mysql_tables_jdbc_inventory");
    assert_eq!(jdbc.len(), 7);
    assert!(jdbc.iter().all(|r| r["key"].is_null()));
    assert_eq!(jdbc[0]["value"]["count"]["int"], 100);

    sql(
        d,
        &[
            "UPDATE inventory SET count = 3 WHERE name = 'frisbee'",
            "DELETE FROM inventory WHERE name = 'fork'",
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (out, stdout, stderr) = run(aisle(d).args(["connect", "inventory", "--once"]));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("1 rows captured, 1 rekeyed, 1 tombstones"),
        "{stdout}"
    );
    let rekeyed = dump(d, "inventory_rekeyed");
    assert_eq!(rekeyed.len(), 9);
    assert_eq!(rekeyed[7]["key"], "frisbee");
    assert_eq!(rekeyed[7]["value"]["count"]["int"], 3);
    assert_eq!(rekeyed[8]["key"], "fork");
    assert!(rekeyed[8]["value"].is_null());
}

#[test]
fn errors_name_the_input_and_exit_with_meaningful_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (out, _, stderr) = run(aisle(d).args(["connect", "inventory", "--once"]));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("inventory.db") && stderr.contains("inventory init"),
        "{stderr}"
    );
    assert!(run(aisle(d).args(["inventory", "init"])).0.status.success());
    let (out, _, stderr) =
        run(aisle(d).args(["connect", "inventory", "--once", "--table", "stock"]));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("table `stock` not found"), "{stderr}");
    let (out, _, stderr) =
        run(aisle(d).args(["connect", "inventory", "--once", "--mode", "latest"]));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("unknown mode `latest`"), "{stderr}");
    let (out, _, stderr) = run(aisle(d).args([
        "connect",
        "inventory",
        "--once",
        "--timestamp-column",
        "updated_at",
    ]));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("timestamp_column `updated_at`"), "{stderr}");
    let (out, _, stderr) = run(aisle(d).args(["connect", "inventory", "--db", "oracle://x/y"]));
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("oracle://x/y"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_capture_then_rerun_gives_every_row_once() {
    const ROWS: usize = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(run(aisle(d).args(["inventory", "init"])).0.status.success());
    let values: Vec<String> = (0..1000)
        .map(|i| format!("('bulk-{i}', 'cup', {i})"))
        .collect();
    let stmt = format!(
        "INSERT INTO inventory (name, upsell_item, count) VALUES {}",
        values.join(",")
    );
    let stmts: Vec<&str> = (0..ROWS / 1000).map(|_| stmt.as_str()).collect();
    sql(d, &stmts).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut partial = Vec::new();
    for wait_ms in [700u64, 1500] {
        let mut child = aisle(d)
            .args(["connect", "inventory", "--once"])
            .env("AISLE_INVENTORY__BATCH_ROWS", "500")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let n = dump(d, "mysql_tables_jdbc_inventory").len();
        partial.push((n, finished));
    }
    assert!(
        partial.iter().any(|(n, fin)| !fin && *n < ROWS + 7),
        "no kill landed mid-capture: {partial:?}"
    );
    let (out, _, stderr) = run(aisle(d)
        .args(["connect", "inventory", "--once"])
        .env("AISLE_INVENTORY__BATCH_ROWS", "500"));
    assert!(out.status.success(), "{stderr}");
    let jdbc = dump(d, "mysql_tables_jdbc_inventory");
    let ids: Vec<i64> = jdbc
        .iter()
        .map(|r| r["value"]["id"].as_i64().unwrap())
        .collect();
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), ROWS + 7, "after kills at {partial:?}");
    assert_eq!(unique, (1..=(ROWS as i64 + 7)).collect::<BTreeSet<_>>());
    assert_eq!(dump(d, "inventory_rekeyed").len(), ROWS + 7);
}
