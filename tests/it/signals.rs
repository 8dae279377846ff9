//! SIGTERM (what `kill`, systemd and `docker stop` send) stops every long-running command
//! cleanly: each is started on an embedded data dir, the test waits for the line that says it
//! is running, sends SIGTERM, and expects exit code 0 with the command's closing summary, and
//! a data dir the next writer can open (the lock released, `log verify` clean).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use crate::support::{aisle, vision};

/// How long a command may take to start or to stop: generous for a debug build on a busy
/// 2-core CI machine; a command that hangs fails here instead of hanging CI.
const PATIENCE: Duration = Duration::from_secs(120);

/// A started command whose stdout and stderr lines arrive on one channel.
struct Running {
    what: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

fn pipe(from: impl Read + Send + 'static, to: std::sync::mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if to.send(line).is_err() {
                break;
            }
        }
    });
}

impl Running {
    fn start(what: &str, mut cmd: Command) -> Running {
        let mut child = cmd
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
        let (tx, lines) = channel();
        pipe(child.stdout.take().unwrap(), tx.clone());
        pipe(child.stderr.take().unwrap(), tx);
        Running {
            what: what.into(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Blocks until a line containing `needle` was printed.
    fn wait_for(&mut self, needle: &str) {
        if self.seen.iter().any(|l| l.contains(needle)) {
            return;
        }
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no line with `{needle}` within {PATIENCE:?}:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: exited ({:?}) before printing `{needle}`:\n{}",
                    self.what,
                    self.child.wait(),
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGTERM, waits for the exit; returns the status and every line printed.
    fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            kill.is_ok_and(|s| s.success()),
            "{}: kill -TERM failed",
            self.what
        );
        // The pipes close when the process exits: drain them, bounded by PATIENCE.
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "{}: still running {PATIENCE:?} after SIGTERM:\n{}",
                        self.what,
                        self.seen.join("\n")
                    );
                }
            }
        }
        let status = self.child.wait().expect("exit status");
        (status, self.seen.join("\n"))
    }
}

/// Stops `run` with SIGTERM once it printed `ready`; asserts exit 0, `summary` in its output
/// and a data dir that verifies clean and takes a new writer.
fn stops_cleanly(data: &Path, what: &str, cmd: Command, ready: &str, summary: &str) {
    let mut run = Running::start(what, cmd);
    run.wait_for(ready);
    let (status, out) = run.terminate();
    assert_eq!(
        status.code(),
        Some(0),
        "{what}: exit {status:?} after SIGTERM:\n{out}"
    );
    assert!(
        out.contains(summary),
        "{what}: no `{summary}` after SIGTERM:\n{out}"
    );
    let verify = aisle(data).args(["log", "verify"]).output().unwrap();
    assert!(
        verify.status.success(),
        "{what}: log verify after SIGTERM: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // The lock is free: a writer can create topics now.
    standard_topics(
        data,
        &format!("{what}: the data dir is still locked after SIGTERM"),
    );
}

/// Creates Aisle's standard topics in `data` (a writer's step: fails while another holds it).
fn standard_topics(data: &Path, context: &str) {
    let out = aisle(data)
        .args(["topic", "create", "--standard"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{context}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn greenlight_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    standard_topics(dir.path(), "creating the topics");
    let mut cmd = aisle(dir.path());
    cmd.arg("greenlight");
    stops_cleanly(
        dir.path(),
        "greenlight",
        cmd,
        "greenlight started",
        "\"records_in\"",
    );
}

#[test]
fn forecast_run_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    standard_topics(dir.path(), "creating the topics");
    let mut cmd = aisle(dir.path());
    cmd.args(["forecast", "run"]);
    stops_cleanly(
        dir.path(),
        "forecast run",
        cmd,
        "forecaster started",
        "forecast:",
    );
}

#[test]
fn connect_inventory_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("store.db").display());
    let init = aisle(dir.path())
        .args(["inventory", "init", "--db", &db])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let mut cmd = aisle(dir.path());
    cmd.args(["connect", "inventory", "--db", &db]);
    stops_cleanly(
        dir.path(),
        "connect inventory",
        cmd,
        "inventory connector started",
        "rows captured",
    );
}

#[test]
fn serve_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = aisle(dir.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    stops_cleanly(
        dir.path(),
        "serve",
        cmd,
        "dashboard listening",
        "dashboard at",
    );
}

#[test]
fn camera_simulate_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = aisle(dir.path());
    cmd.args(["camera", "simulate"]);
    stops_cleanly(
        dir.path(),
        "camera simulate",
        cmd,
        "camera simulator:",
        "events written",
    );
}

#[test]
fn camera_watch_stops_on_sigterm() {
    let Some((lib, vision)) = vision(true) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("incoming");
    std::fs::create_dir(&images).unwrap();
    let mut cmd = aisle(dir.path());
    cmd.args(["camera", "run", "--watch", "--images"])
        .arg(&images)
        .arg("--ort-lib")
        .arg(&lib)
        .arg("--model")
        .arg(vision.join("deimv2_hgnetv2_femto_coco.onnx"));
    stops_cleanly(
        dir.path(),
        "camera run --watch",
        cmd,
        "camera resumes",
        "images in",
    );
}

#[test]
fn registry_serve_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = aisle(dir.path());
    cmd.args(["registry", "serve", "--listen", "127.0.0.1:0"]);
    stops_cleanly(
        dir.path(),
        "registry serve",
        cmd,
        "schema registry listening",
        "listening on http://",
    );
}

#[test]
fn demo_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = aisle(dir.path());
    cmd.args(["demo", "--registry-listen", ""])
        .env("AISLE_SERVE__LISTEN", "127.0.0.1:0");
    stops_cleanly(dir.path(), "demo", cmd, "status:", "aisle demo: stopped");
}
