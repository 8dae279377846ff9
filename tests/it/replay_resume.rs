//! `aisle replay sales` killed with SIGKILL mid-run, three times, then run to the end: the topic
//! holds every (series, day) exactly once, in day order per store. Synthetic data, so it needs
//! no data files; the resume logic is the same for real data.

use aisle_events::{Event, SalesRecord};
use aisle_log_embedded::{EmbeddedConfig, EmbeddedLog};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const DAYS: i32 = 8;
const SERIES_PER_STORE: usize = 3049;

fn replay_cmd(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(["--log", "info", "replay", "sales", "--synthetic", "--days"])
        .arg(DAYS.to_string())
        .env_remove("AISLE_KAFKA")
        .env_remove("AISLE_REGISTRY");
    cmd
}

/// Starts a replay and SIGKILLs it once it has reported `progress_lines` progress lines (so it
/// is mid-run), plus `extra` more time.
fn start_and_kill(data_dir: &Path, progress_lines: usize, extra: Duration) -> bool {
    let mut child = replay_cmd(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = 0;
    let mut finished = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if line.contains("replay progress") {
            seen += 1;
            if seen >= progress_lines {
                break;
            }
        }
        if line.contains("replay finished") {
            finished = true;
            break;
        }
    }
    std::thread::sleep(extra);
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    !finished && !status.success()
}

fn records(data_dir: &Path) -> Vec<(i32, SalesRecord)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let log = EmbeddedLog::open(data_dir, EmbeddedConfig::default()).unwrap();
        let recs = aisle_testkit::read_all(&log, "sales").await.unwrap();
        recs.iter()
            .map(|r| {
                let (_, datum) = aisle_events::wire::split(r.value.as_ref().unwrap()).unwrap();
                assert_eq!(
                    r.header("aisle.synthetic").map(|v| v.to_vec()),
                    Some(b"true".to_vec())
                );
                (r.partition, SalesRecord::decode(datum).unwrap())
            })
            .collect()
    })
}

#[test]
fn kill_9_at_any_moment_then_rerun_gives_every_series_day_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let total = 10 * SERIES_PER_STORE * DAYS as usize;
    let mut partial_counts = Vec::new();
    for (lines, extra_ms) in [(3, 0), (5, 37), (10, 113)] {
        // On a fast machine a later kill may come after the end; the check below needs only one
        // to land mid-run.
        let killed = start_and_kill(dir.path(), lines, Duration::from_millis(extra_ms));
        let n = records(dir.path()).len();
        partial_counts.push(if killed { n } else { total });
    }
    assert!(
        partial_counts.iter().any(|n| *n > 0 && *n < total),
        "no kill landed mid-run: {partial_counts:?}"
    );
    let out = replay_cmd(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("synthetic"), "{stdout}");

    let recs = records(dir.path());
    assert_eq!(recs.len(), total, "after kills at {partial_counts:?}");
    let mut seen = HashSet::new();
    let mut per_store = [0usize; 10];
    let mut last_day = [0i32; 10];
    for (p, s) in &recs {
        assert_eq!(aisle_events::topics::store_partition(&s.store_id), Some(*p));
        assert!(
            seen.insert((s.key(), s.day)),
            "duplicate {} d_{}",
            s.key(),
            s.day
        );
        assert!(
            s.day >= last_day[*p as usize],
            "days out of order in partition {p}"
        );
        last_day[*p as usize] = s.day;
        per_store[*p as usize] += 1;
    }
    assert_eq!(per_store, [SERIES_PER_STORE * DAYS as usize; 10]);
    println!("killed at {partial_counts:?} of {total}");
}

/// SIGTERM (what a supervisor sends) stops a paced replay cleanly: every store finishes the day
/// it is sending, the process exits 130 saying how to resume, the log holds whole days only, and
/// running the same command again completes it exactly once.
#[test]
fn sigterm_stops_at_a_day_end_and_the_rerun_completes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let paced = |cmd: &mut Command| {
        cmd.args(["--speed", "4"]);
    };
    let mut cmd = replay_cmd(dir.path());
    paced(&mut cmd);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut progress = 0;
    for line in lines.by_ref() {
        if line.unwrap().contains("replay progress") {
            progress += 1;
            if progress == 10 {
                break;
            }
        }
    }
    assert_eq!(progress, 10, "the replay ended before it could be stopped");
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let out = child.wait_with_output().unwrap();
    let stderr = drain.join().unwrap().join("\n");
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");

    let partial = records(dir.path());
    let total = 10 * SERIES_PER_STORE * DAYS as usize;
    assert!(
        !partial.is_empty() && partial.len() < total,
        "{} of {total} records: the stop did not land mid-run",
        partial.len()
    );
    assert_eq!(
        partial.len() % SERIES_PER_STORE,
        0,
        "a store stopped in the middle of a day"
    );

    let out = replay_cmd(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(dir.path());
    let unique: HashSet<_> = recs.iter().map(|(_, s)| (s.key(), s.day)).collect();
    assert_eq!((recs.len(), unique.len()), (total, total));
}
