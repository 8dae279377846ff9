//! Tests of [`super`]: hand-computed window features, training origins.

use super::*;
use crate::synthetic;
use aisle_m5::{Prices, SeriesMeta};

fn ctx_of<'a>(
    series: &'a [SeriesMeta],
    history: &'a [Vec<f32>],
    calendar: &'a aisle_m5::Calendar,
    prices: &'a Prices,
) -> Context<'a> {
    Context {
        series,
        history,
        last_day: history[0].len() as i32,
        horizon: 28,
        calendar,
        prices,
        monthly: None,
    }
}

#[test]
fn window_features_by_hand() {
    let cal = synthetic::calendar(500);
    let mut prices = Prices::default();
    let series = vec![SeriesMeta::from_ids("FOODS_3_001", "CA_1").unwrap()];
    for wk in 0..80 {
        prices.insert(&series[0].id, 11_101 + wk, 2.0);
    }
    // Zero until d_10, then the day number modulo 7 (d_14 is the last sale of its week).
    let y: Vec<f32> = (1..=400)
        .map(|d| if d < 10 { 0.0 } else { (d % 7) as f32 })
        .collect();
    let history = vec![y.clone()];
    let ctx = ctx_of(&series, &history, &cal, &prices);
    let f = Features::new(&ctx);
    let x = f.forecast_rows(&ctx);
    assert_eq!((x.rows, x.cols), (28, COLS));
    let col = |name: &str| NAMES.iter().position(|n| *n == name).unwrap();
    let o = 400; // origin; y[d] = d % 7
    let mean = |a: i32, b: i32| (a..=b).map(|d| (d % 7) as f64).sum::<f64>() / f64::from(b - a + 1);
    assert_eq!(x.get(0, col("h")), 1.0);
    assert_eq!(x.get(0, col("last")), f64::from(o % 7));
    assert!((x.get(0, col("mean7")) - mean(o - 6, o)).abs() < 1e-5);
    // Target d_401 (h=1): same weekday one week back and earlier: 401 % 7 = 2.
    assert_eq!(x.get(0, col("wday_mean4")), 2.0);
    assert_eq!(x.get(0, col("lag364")), f64::from(37 % 7));
    assert_eq!(x.get(0, col("price")), 2.0);
    assert_eq!(x.get(0, col("price_rel_origin")), 1.0);
    // d_399 % 7 = 0 is the last zero; d_400 sold 1.
    assert_eq!(x.get(0, col("since_sale")), 0.0);
    assert_eq!(x.get(0, col("age")), f64::from(o - 10));
    assert!((x.get(0, col("zero_share28")) - 4.0 / 28.0).abs() < 1e-6);
    // h=8 targets d_408 (% 7 = 2): the latest known same weekday is two weeks back.
    assert_eq!(x.get(7, col("wday_mean4")), 2.0);
    // mean364 is clipped to the days since the first sale (d_10..d_400).
    assert!((x.get(0, col("mean364")) - mean(37, 400)).abs() < 1e-4);
}

#[test]
fn training_origins_share_the_forecast_weekday_and_subsample() {
    let data = synthetic::Synthetic::generate(0.01, 500, 28, 3);
    let ctx = Context {
        series: &data.sales.series,
        history: &data.sales.values,
        last_day: 500,
        horizon: 28,
        calendar: &data.calendar,
        prices: &data.prices,
        monthly: None,
    };
    let rows = TrainRows::default();
    let o = Features::origins(&ctx, &rows);
    assert_eq!(o.last(), Some(&472));
    assert!(o.iter().all(|d| (500 - d) % 7 == 0));
    assert!(o[0] > 28);
    let f = Features::new(&ctx);
    let all = f.train(&ctx, &rows);
    assert_eq!(all.x.rows, all.candidates);
    assert_eq!(all.y.len(), all.x.rows);
    let sub = f.train(
        &ctx,
        &TrainRows {
            max_rows: all.candidates / 4,
            ..rows
        },
    );
    let share = sub.x.rows as f64 / all.candidates as f64;
    assert!((0.2..0.3).contains(&share), "{share}");
    // No training target lies past the history.
    assert!(
        all.x.data[..all.x.rows]
            .iter()
            .all(|&h| (1.0..=28.0).contains(&h))
    );
}
