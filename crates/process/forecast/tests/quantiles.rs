//! End to end: an uncertainty file written by the library and scored by
//! `evaluate::evaluate_quantiles` gives the WSPL computed by hand.

use aisle_forecast::evaluate::{EvalFiles, evaluate_quantiles};
use aisle_forecast::hierarchy::Hierarchy;
use aisle_forecast::quantiles::{LevelQuantiles, QUANTILES};
use aisle_forecast::submission::write_quantiles;
use aisle_forecast::wrmsse::keys_of;
use std::fmt::Write;

#[test]
fn evaluate_quantiles_matches_a_hand_computed_wspl() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Two items in one store; training d_1..d_4, test d_5..d_6.
    //   A: 0 2 4 3 | 5 1   (scale: |4-2|, |3-4| → 1.5)
    //   B: 1 1 1 3 | 2 2   (scale: 0, 0, 2 → 2/3)
    let truth = dir.path().join("truth.csv");
    std::fs::write(
        &truth,
        "id,item_id,dept_id,cat_id,store_id,state_id,d_1,d_2,d_3,d_4,d_5,d_6\n\
         F_1_001_CA_1_evaluation,F_1_001,F_1,F,CA_1,CA,0,2,4,3,5,1\n\
         F_1_002_CA_1_evaluation,F_1_002,F_1,F,CA_1,CA,1,1,1,3,2,2\n",
    )?;
    let panel = aisle_forecast::data::SalesPanel::read_wide(&truth)?;
    let h = Hierarchy::m5(&panel.series);
    // Weights: A ¼, B ¾ at the levels that separate items (10-12); 1 elsewhere.
    let weights = dir.path().join("weights.csv");
    let mut w = String::from("Level_id,Agg_Level_1,Agg_Level_2,Weight\n");
    for level in 1..=12 {
        for (i, m) in panel.series.iter().enumerate() {
            let (a, b) = keys_of(level, m);
            let weight = match (level >= 10, i) {
                (false, _) => 1.0,
                (true, 0) => 0.25,
                (true, _) => 0.75,
            };
            if level >= 10 || i == 0 {
                writeln!(w, "Level{level},{a},{b},{weight}")?;
            }
        }
    }
    std::fs::write(&weights, w)?;
    // Every quantile forecasts 3 for every series and day.
    let q: Vec<LevelQuantiles> = h
        .levels
        .iter()
        .map(|l| vec![vec![vec![3.0f32; 2]; QUANTILES.len()]; l.len()])
        .collect();
    let sub = dir.path().join("q.csv");
    write_quantiles(&sub, &h, &q, 2, "evaluation")?;
    let e = evaluate_quantiles(&EvalFiles {
        forecasts: sub,
        truth,
        history: None,
        weights: Some(weights),
        data: None,
    })?;
    assert_eq!((e.train, e.test), ((1, 4), (5, 6)));
    // By hand. Mean over the nine u of pinball(q = 3) for two days:
    //   A (y 5, 1): (5−3)u + (3−1)(1−u) = 2 for every u → 2 / 2 days / 1.5 = 2/3.
    //   B (y 2, 2): 2 · (3−2)(1−u), mean over u of (1−u) = ½ → 1 / 2 / (2/3) = 3/4.
    //   Total (y 7, 3; forecast 3): (7−3)u + 0 → mean 4·½ = 2 → 2 / 2 / scale; the total's
    //   training 1 3 5 6 has scale (2 + 2 + 1)/3 = 5/3 → 0.6.
    let (a, b, total) = (2.0 / 3.0, 0.75, 0.6);
    let item_level = 0.25 * a + 0.75 * b;
    for l in 0..9 {
        assert!(
            (e.score.levels[l] - total).abs() < 1e-6,
            "L{}: {:?}",
            l + 1,
            e.score
        );
    }
    for l in 9..12 {
        assert!(
            (e.score.levels[l] - item_level).abs() < 1e-6,
            "L{}: {:?}",
            l + 1,
            e.score
        );
    }
    Ok(())
}
