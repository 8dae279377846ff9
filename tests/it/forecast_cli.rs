//! `aisle forecast` through the binary: `evaluate` on small hand-made files (a hand-computed
//! WRMSSE), and — when the M5 data is on this machine — `replay sales` then
//! `forecast run --once --submission` writing a valid Kaggle submission for d_1942..d_1969.

use crate::support::aisle;
use std::path::Path;
use std::process::{Command, Output};

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

#[test]
fn replay_then_forecast_once_writes_a_valid_submission() {
    let Some(m5) = aisle_testkit::m5_data_dir() else {
        eprintln!("M5 data not found; skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut replay = aisle(&data);
    replay.args(["replay", "sales", "--data"]).arg(&m5);
    ok(replay);
    let sub = tmp.path().join("out.csv");
    let quantiles = tmp.path().join("quantiles.csv");
    let mut run = aisle(&data);
    run.args(["forecast", "run", "--once", "--data"])
        .arg(&m5)
        .arg("--submission")
        .arg(&sub)
        .arg("--quantiles")
        .arg(&quantiles);
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

    // The uncertainty file: nine quantiles of each of the 42,840 series, monotone per day.
    let text = std::fs::read_to_string(&quantiles).unwrap();
    let mut by_series: std::collections::HashMap<String, Vec<(f64, Vec<f64>)>> =
        std::collections::HashMap::new();
    for line in text.lines().skip(1) {
        let mut f = line.split(',');
        let id = f.next().unwrap();
        let stem = id.strip_suffix("_evaluation").unwrap_or(id);
        let (series, q) = stem.rsplit_once('_').unwrap();
        let vals: Vec<f64> = f.map(|v| v.parse().unwrap()).collect();
        assert_eq!(vals.len(), 28, "{line}");
        by_series
            .entry(series.to_owned())
            .or_default()
            .push((q.parse().unwrap(), vals));
    }
    assert_eq!(by_series.len(), 42_840);
    for (series, mut qs) in by_series {
        assert_eq!(qs.len(), 9, "{series}");
        qs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in qs.windows(2) {
            for d in 0..28 {
                assert!(
                    pair[0].1[d] <= pair[1].1[d],
                    "{series} day {d}: not monotone"
                );
            }
        }
    }
}

/// A tiny synthetic M5 directory: two items in CA_1 over d_1..d_8 (the calendar starts on
/// Saturday 2011-02-05), one price each.
fn synthetic_m5(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut cal = String::from(
        "date,wm_yr_wk,weekday,wday,month,year,d,event_name_1,event_type_1,event_name_2,\
         event_type_2,snap_CA,snap_TX,snap_WI\n",
    );
    for d in 1..=8 {
        cal.push_str(&format!(
            "2011-02-{:02},{},x,{},2,2011,d_{d},,,,,0,0,0\n",
            d + 4,
            11101 + (d - 1) / 7,
            (d - 1) % 7 + 1
        ));
    }
    std::fs::write(dir.join("calendar.csv"), cal).unwrap();
    std::fs::write(
        dir.join("sell_prices.csv"),
        "store_id,item_id,wm_yr_wk,sell_price\nCA_1,A_1_001,11101,1.0\nCA_1,A_1_001,11102,1.0\n\
         CA_1,A_1_002,11101,2.0\nCA_1,A_1_002,11102,2.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sales_train_evaluation_d1914_d1941.csv"),
        "id,item_id,dept_id,cat_id,store_id,state_id,d_1,d_2,d_3,d_4,d_5,d_6,d_7,d_8\n\
         A_1_001_CA_1_evaluation,A_1_001,A_1,A,CA_1,CA,1,2,1,2,1,2,1,2\n\
         A_1_002_CA_1_evaluation,A_1_002,A_1,A,CA_1,CA,2,4,2,4,2,4,2,4\n",
    )
    .unwrap();
}

#[test]
fn backtest_uses_full_history_scales_when_the_file_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let m5 = tmp.path().join("m5");
    synthetic_m5(&m5);
    let backtest = |extra: &[&str]| {
        let mut cmd = aisle(&tmp.path().join("data"));
        cmd.args([
            "forecast",
            "backtest",
            "--train-last",
            "6",
            "--horizon",
            "2",
        ])
        .arg("--data")
        .arg(&m5)
        .args(extra);
        cmd
    };
    let out = ok(backtest(&[]));
    assert!(out.contains("scales: training days"), "{out}");
    let naive = |out: &str| -> f64 {
        let row = out.lines().find(|l| l.starts_with("| Naive |")).unwrap();
        row.split('|').nth(2).unwrap().trim().parse().unwrap()
    };
    // Naive repeats d_6 (2 and 4) against truth 1,2 and 2,4: errors 1,0 and 2,0. Training
    // scales are 1 and 4 (bottom), 9 (levels 1-9): level 1-9 RMSSE sqrt(4.5 / 9) each.
    let train = naive(&out);
    assert!((train - (0.5f64).sqrt()).abs() < 1e-4, "{out}");

    let err = backtest(&["--scales", "published"]).output().unwrap();
    assert!(!err.status.success());
    assert!(
        String::from_utf8_lossy(&err.stderr).contains("validation_all_levels_d1914_d1941.csv"),
        "{err:?}"
    );

    // Full-history scales 4× the training ones halve every RMSSE.
    let mut levels = String::from("level,key1,key2,weight_in_level,scale_mse_pkg\n");
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
        levels.push_str(&format!("{l},{a},{b},1,36\n"));
    }
    std::fs::write(m5.join("validation_all_levels_d1914_d1941.csv"), levels).unwrap();
    let out = ok(backtest(&[]));
    assert!(out.contains("scales: full history d_1..d_1913"), "{out}");
    assert!((naive(&out) - train / 2.0).abs() < 1e-4, "{out}");
    let out = ok(backtest(&["--scales", "training"]));
    assert!((naive(&out) - train).abs() < 1e-4, "{out}");
}
