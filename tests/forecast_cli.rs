//! `aisle forecast` through the binary: `evaluate` on small hand-made files (a hand-computed
//! WRMSSE), and — when the M5 data is on this machine — `replay sales` then
//! `forecast run --once --submission` writing a valid Kaggle submission for d_1942..d_1969.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aisle(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
    cmd.arg("--data-dir").arg(data_dir).env("RUST_LOG", "warn");
    cmd
}

fn ok(mut cmd: Command) -> String {
    let out: Output = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn evaluate_matches_a_hand_computed_wrmsse() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Two series in one store and department. Training d_1..d_4: A = 1,2,1,2 (scale 1),
    // B = 2,4,2,4 (scale 4); their total 3,6,3,6 has scale 9. Truth d_5..d_6: A = 1,2, B = 2,4.
    std::fs::write(
        d.join("truth.csv"),
        "id,item_id,dept_id,cat_id,store_id,state_id,d_1,d_2,d_3,d_4,d_5,d_6\n\
         A_1_001_CA_1_evaluation,A_1_001,A_1,A,CA_1,CA,1,2,1,2,1,2\n\
         A_1_002_CA_1_evaluation,A_1_002,A_1,A,CA_1,CA,2,4,2,4,2,4\n",
    )
    .unwrap();
    // A is over by 1 every day (RMSSE 1), B is exact (0). Levels 1-9 aggregate both: error 1
    // against scale 9 → 1/3. Levels 10-12 hold A and B at weight ½ each → ½.
    std::fs::write(
        d.join("sub.csv"),
        "id,F1,F2\nA_1_001_CA_1_evaluation,2,3\nA_1_002_CA_1_evaluation,2,4\n",
    )
    .unwrap();
    let mut w = String::from("Level_id,Agg_Level_1,Agg_Level_2,Weight\n");
    for (l, a, b) in [
        (1, "Total", "X"),
        (2, "CA", "X"),
        (3, "CA_1", "X"),
        (4, "A", "X"),
        (5, "A_1", "X"),
        (6, "CA", "A"),
        (7, "CA", "A_1"),
        (8, "CA_1", "A"),
        (9, "CA_1", "A_1"),
    ] {
        w.push_str(&format!("Level{l},{a},{b},1\n"));
    }
    for item in ["A_1_001", "A_1_002"] {
        w.push_str(&format!(
            "Level10,{item},X,0.5\nLevel11,CA,{item},0.5\nLevel12,{item},CA_1,0.5\n"
        ));
    }
    std::fs::write(d.join("weights.csv"), w).unwrap();

    let mut cmd = aisle(&d.join("data"));
    cmd.args(["forecast", "evaluate", "--forecasts"])
        .arg(d.join("sub.csv"))
        .arg("--truth")
        .arg(d.join("truth.csv"))
        .arg("--weights")
        .arg(d.join("weights.csv"));
    let out = ok(cmd);
    assert!(
        out.contains("training d_1..d_4 (scale), test d_5..d_6"),
        "{out}"
    );
    let mean_line = out.lines().find(|l| l.starts_with("mean L1-12")).unwrap();
    // (9 · 1/3 + 3 · ½) / 12 = 0.375
    assert!(mean_line.contains("0.3750"), "{out}");
    let l12 = out.lines().find(|l| l.starts_with("L12")).unwrap();
    assert!(l12.contains("0.5000"), "{out}");

    let mut cmd = aisle(&d.join("data"));
    cmd.args(["forecast", "evaluate", "--levels", "1-9", "--forecasts"])
        .arg(d.join("sub.csv"))
        .arg("--truth")
        .arg(d.join("truth.csv"))
        .arg("--weights")
        .arg(d.join("weights.csv"));
    let out = ok(cmd);
    assert!(
        out.lines()
            .any(|l| l.starts_with("mean L1-9") && l.contains("0.3333")),
        "{out}"
    );
    assert!(!out.contains("L12"), "{out}");
}

fn m5_dir() -> Option<PathBuf> {
    aisle_testkit::m5_data_dir()
}

#[test]
fn replay_then_forecast_once_writes_a_valid_submission() {
    let Some(m5) = m5_dir() else {
        eprintln!("M5 data not found; skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut replay = aisle(&data);
    replay.args(["replay", "sales", "--data"]).arg(&m5);
    ok(replay);
    let sub = tmp.path().join("out.csv");
    let mut run = aisle(&data);
    run.args(["forecast", "run", "--once", "--data"])
        .arg(&m5)
        .arg("--submission")
        .arg(&sub);
    let out = ok(run);
    assert!(out.contains("30490 series through d_1941"), "{out}");
    assert!(out.contains("30490 forecasts published"), "{out}");

    // The sample submission's `_evaluation` ids, in its order.
    let sample =
        zstd::decode_all(std::fs::File::open(m5.join("sample_submission.csv.zst")).unwrap())
            .unwrap();
    let sample = String::from_utf8(sample).unwrap();
    let want: Vec<&str> = sample
        .lines()
        .filter_map(|l| l.split(',').next())
        .filter(|id| id.ends_with("_evaluation"))
        .collect();
    assert_eq!(want.len(), 30_490);
    let text = std::fs::read_to_string(&sub).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = std::iter::once("id".to_string())
        .chain((1..=28).map(|i| format!("F{i}")))
        .collect();
    assert_eq!(lines.next().unwrap(), header.join(","));
    let mut ids = Vec::new();
    for line in lines {
        let mut f = line.split(',');
        ids.push(f.next().unwrap().to_string());
        let vals: Vec<f64> = f.map(|v| v.parse().unwrap()).collect();
        assert_eq!(vals.len(), 28, "{line}");
        assert!(vals.iter().all(|v| v.is_finite() && *v >= 0.0), "{line}");
    }
    assert_eq!(ids, want);
}
