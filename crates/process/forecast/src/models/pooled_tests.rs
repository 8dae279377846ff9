//! Tests of the pooled model ([`super`]).
use super::*;
use aisle_m5::{Calendar, CalendarDay, Prices};

fn calendar(days: usize) -> Calendar {
    Calendar::from_days(
        (0..days)
            .map(|i| CalendarDay {
                wm_yr_wk: 1 + (i / 7) as u32,
                wday: (i % 7) as u8 + 1,
                ..CalendarDay::default()
            })
            .collect(),
    )
}

#[test]
fn recovers_a_weekly_pattern_and_item_levels() {
    // Two items in one store-dept: item B sells twice what A sells, both with weekly shape
    // 1,1,1,1,1,2,2 (weekend peak), for 28 days.
    let shape = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0];
    let series = vec![
        SeriesMeta::from_ids("F_1_001", "CA_1").unwrap(),
        SeriesMeta::from_ids("F_1_002", "CA_1").unwrap(),
    ];
    let a: Vec<f32> = (0..28).map(|t| shape[t % 7] as f32 * 3.0).collect();
    let b: Vec<f32> = a.iter().map(|v| v * 2.0).collect();
    let history = vec![a, b];
    let cal = calendar(60);
    let prices = Prices::default();
    let ctx = Context::daily(&series, &history, 7, &cal, &prices);
    let f = Pooled::default().forecast(&ctx);
    for (w, s) in shape.iter().enumerate() {
        assert!((f64::from(f[0][w]) - s * 3.0).abs() < 1e-4, "{:?}", f[0]);
        assert!((f64::from(f[1][w]) - s * 6.0).abs() < 1e-4, "{:?}", f[1]);
    }
}

#[test]
fn price_factor_follows_known_future_prices() {
    // History d_281..d_308 (month 10), horizon d_309..d_315 (month 11); monthly totals of
    // d_1..d_280 give β = -2 for A_1 (see price::synthetic). Items with i % 3 == 1 go from
    // 1.0 to 1.2, i % 3 == 2 from 1.2 to 1.0, i % 3 == 0 stay at 1.0.
    let (cal, prices, panel) = super::price::synthetic(308);
    let monthly = crate::monthly::Monthly::from_daily(&panel, &cal, 280);
    let hist = panel.slice(281, 308);
    let ctx = Context {
        series: &hist.series,
        history: &hist.values,
        last_day: 308,
        horizon: 7,
        calendar: &cal,
        prices: &prices,
        monthly: Some(&monthly),
    };
    let with = Pooled {
        price: true,
        ..Pooled::default()
    }
    .forecast(&ctx);
    let without = Pooled::default().forecast(&ctx);
    for (i, want) in [(0, 1.0), (1, 1.2f64.powi(-2)), (2, 1.44), (41, 1.0)] {
        let r = f64::from(with[i][0]) / f64::from(without[i][0]);
        assert!((r - want).abs() < 2e-3, "item {i}: {r} vs {want}");
    }
}

#[test]
fn last_month_shrinks_item_levels_toward_their_shares() {
    // Months of 30 days. In M0 (d_1..d_30) item A sold 3 a day, item B 1; in the history
    // d_31..d_58 both sell 2. With λ = 1: A (2 + 4·¾)/2 = 2.5, B (2 + 4·¼)/2 = 1.5.
    let mut cal = calendar(90);
    cal = Calendar::from_days(
        (1..=90)
            .map(|d| CalendarDay {
                month: format!("M{}", (d - 1) / 30),
                ..cal.day(d).unwrap().clone()
            })
            .collect(),
    );
    let series = vec![
        SeriesMeta::from_ids("F_1_001", "CA_1").unwrap(),
        SeriesMeta::from_ids("F_1_002", "CA_1").unwrap(),
    ];
    let mut prices = Prices::default();
    for wk in 1..=13 {
        for m in &series {
            prices.insert(&m.id, wk, 1.0);
        }
    }
    let before = aisle_m5::SalesPanel {
        series: series.clone(),
        first_day: 1,
        values: vec![vec![3.0; 30], vec![1.0; 30]],
    };
    let monthly = crate::monthly::Monthly::from_daily(&before, &cal, 30);
    let history = vec![vec![2.0f32; 28]; 2];
    let ctx = Context {
        series: &series,
        history: &history,
        last_day: 58,
        horizon: 2,
        calendar: &cal,
        prices: &prices,
        monthly: Some(&monthly),
    };
    let f = Pooled {
        last_month: 1.0,
        ..Pooled::default()
    }
    .forecast(&ctx);
    assert!(
        (f[0][0] - 2.5).abs() < 1e-5 && (f[1][1] - 1.5).abs() < 1e-5,
        "{f:?}"
    );
    let own = Pooled::default().forecast(&ctx);
    assert!((own[0][0] - 2.0).abs() < 1e-5, "{own:?}");
}

#[test]
fn snap_per_store_dept_recovers_each_departments_own_effect() {
    // One store, two FOODS departments (one state × category). SNAP days (CA) are days 1-7,
    // 15-21 and 29-31, so every weekday has two SNAP and two other history days. FOODS_1
    // sells 1.5 × on SNAP days, FOODS_2 the same every day.
    let snap_day = |d: usize| (1..=7).contains(&d) || (15..=21).contains(&d) || d >= 29;
    let cal = Calendar::from_days(
        (1..=40)
            .map(|d: usize| CalendarDay {
                wm_yr_wk: 1 + ((d - 1) / 7) as u32,
                wday: ((d - 1) % 7) as u8 + 1,
                snap: [snap_day(d) && d <= 31, false, false],
                ..CalendarDay::default()
            })
            .collect(),
    );
    let series = vec![
        SeriesMeta::from_ids("FOODS_1_001", "CA_1").unwrap(),
        SeriesMeta::from_ids("FOODS_2_001", "CA_1").unwrap(),
    ];
    let a: Vec<f32> = (1..=28)
        .map(|d| if snap_day(d) { 6.0 } else { 4.0 })
        .collect();
    let history = vec![a, vec![4.0; 28]];
    let prices = Prices::default();
    let ctx = Context::daily(&series, &history, 7, &cal, &prices);
    let own = Pooled::default().forecast(&ctx);
    // Day 29 is a SNAP day, day 32 is not.
    assert!(
        (own[0][0] - 6.0).abs() < 1e-4 && (own[0][3] - 4.0).abs() < 1e-4,
        "{own:?}"
    );
    assert!(
        (own[1][0] - 4.0).abs() < 1e-4 && (own[1][3] - 4.0).abs() < 1e-4,
        "{own:?}"
    );
    // Pooled over the state × category, both departments get one factor of 10 / 8.
    let shared = Pooled {
        snap_pool: SnapPool::StateCat,
        ..Pooled::default()
    }
    .forecast(&ctx);
    let r = |f: &[f32]| f64::from(f[0] / f[3]);
    assert!((r(&shared[0]) - 1.25).abs() < 1e-4, "{shared:?}");
    assert!((r(&shared[1]) - 1.25).abs() < 1e-4, "{shared:?}");
}

#[test]
fn backcast_ignores_the_held_out_week_and_recovers_it() {
    // Four weeks of shape 1,1,1,1,1,2,2 × 3, except that week 2 (d_8..d_14) holds garbage; with
    // week 2 held out the model sees only the clean weeks and predicts the shape there.
    let shape = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0];
    let series = vec![SeriesMeta::from_ids("F_1_001", "CA_1").unwrap()];
    let row: Vec<f32> = (0..28)
        .map(|t| {
            if (7..14).contains(&t) {
                100.0 * (t % 3) as f32
            } else {
                shape[t % 7] as f32 * 3.0
            }
        })
        .collect();
    let history = vec![row];
    let cal = calendar(40);
    let prices = Prices::default();
    let ctx = Context::daily(&series, &history, 0, &cal, &prices);
    let f = Pooled::default().backcast(&ctx, 8..=14);
    assert_eq!(f[0].len(), 7);
    for (k, v) in f[0].iter().enumerate() {
        assert!(
            (f64::from(*v) - shape[(7 + k) % 7] * 3.0).abs() < 1e-4,
            "{f:?}"
        );
    }
    // Without holding it out, the garbage week moves the fit.
    let fitted = Pooled::default().forecast(&Context { horizon: 7, ..ctx });
    assert!((fitted[0][0] - 3.0).abs() > 0.1, "{fitted:?}");
}

#[test]
fn a_holiday_that_empties_a_store_does_not_lower_its_weekday() {
    // Two items in one store, four weeks, shape 1,1,1,1,1,2,2 with a little noise; the second
    // Sunday (index 8 from a Saturday start: wday 2) sells 30 % less in both items.
    let shape = [2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    let series = vec![
        SeriesMeta::from_ids("F_1_001", "CA_1").unwrap(),
        SeriesMeta::from_ids("F_1_002", "CA_1").unwrap(),
    ];
    let row = |scale: f32| -> Vec<f32> {
        (0..28)
            .map(|t| {
                let noise = 1.0 + 0.04 * ((t * 3 % 5) as f32 - 2.0) / 2.0;
                let dip = if t == 8 { 0.7 } else { 1.0 };
                shape[t % 7] as f32 * scale * 100.0 * noise * dip
            })
            .collect()
    };
    let history = vec![row(1.0), row(2.0)];
    let cal = calendar(60);
    let prices = Prices::default();
    let ctx = Context::daily(&series, &history, 7, &cal, &prices);
    let kept = Pooled {
        outlier_z: 0.0,
        ..Pooled::default()
    }
    .forecast(&ctx);
    let left_out = Pooled::default().forecast(&ctx);
    // The horizon starts on a Saturday: day 1 is the Sunday.
    let sunday_to_monday = |f: &[Vec<f32>]| f64::from(f[0][1] / f[0][2]);
    assert!(
        (sunday_to_monday(&left_out) - 2.0).abs() < 0.08,
        "{left_out:?}"
    );
    assert!(sunday_to_monday(&kept) < 1.9, "{kept:?}");
}
