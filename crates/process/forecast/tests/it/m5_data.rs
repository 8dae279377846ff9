//! Checks against the real M5 files in `../shared/data/m5` (skipped when they are absent, e.g.
//! on a fresh CI machine without the data).

use aisle_forecast::data::require;
use aisle_forecast::wrmsse::{dollar_sales, read_weights, weights_from_dollars};
use aisle_m5::hierarchy::Hierarchy;
use aisle_m5::{Calendar, Prices, SalesPanel};
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    aisle_testkit::m5_data_dir()
}

#[test]
fn dollar_weights_match_official_evaluation_weights() -> anyhow::Result<()> {
    let Some(dir) = data_dir() else {
        eprintln!("M5 data not found; skipped");
        return Ok(());
    };
    let sales = SalesPanel::read_wide(&require(&dir, "sales_train_evaluation_d1914_d1941.csv")?)?;
    assert_eq!(
        (sales.series.len(), sales.first_day, sales.last_day()),
        (30_490, 1914, 1941)
    );
    let cal = Calendar::read(&require(&dir, "calendar.csv")?)?;
    let prices = Prices::read(&require(&dir, "sell_prices.csv")?)?;
    let h = Hierarchy::m5(&sales.series);
    assert_eq!(h.series_count(), 42_840);
    let dollars = dollar_sales(&sales.series, &sales.values, 1941, 28, &cal, &prices);
    let ours = weights_from_dollars(&h, &dollars);
    let official = read_weights(&require(&dir, "weights_evaluation.csv")?, &h)?;
    let mut worst = 0.0f64;
    for (a, b) in ours.iter().flatten().zip(official.iter().flatten()) {
        worst = worst.max((a - b).abs());
    }
    assert!(worst < 1e-6, "largest weight difference {worst}");
    for l in &ours {
        assert!((l.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
    Ok(())
}

#[test]
fn published_full_history_scales_cover_every_series() -> anyhow::Result<()> {
    let Some(dir) = data_dir() else {
        eprintln!("M5 data not found; skipped");
        return Ok(());
    };
    let sales = SalesPanel::read_wide(&require(&dir, "sales_train_evaluation_d1914_d1941.csv")?)?;
    let h = Hierarchy::m5(&sales.series);
    let published = aisle_forecast::scales::read_published(
        &require(&dir, aisle_forecast::scales::PUBLISHED_FILE)?,
        &h,
    )?;
    for (l, level) in published.iter().enumerate() {
        let missing = level.iter().filter(|s| s.is_none()).count();
        assert_eq!(
            missing,
            0,
            "level {}: {missing} series without a scale",
            l + 1
        );
        if l < 9 {
            assert!(
                level.iter().all(|s| s.is_some_and(|s| s > 0.0)),
                "level {}",
                l + 1
            );
        }
    }
    // The total's full-history scale is far above any single store's.
    let largest_store = published[2].iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    assert!(published[0][0].unwrap_or(0.0) > largest_store);
    Ok(())
}
