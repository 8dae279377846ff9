//! Cost of the full-history GBDT on full-size M5-shaped synthetic data
//! ([`aisle_forecast::synthetic`]): 30,490 series × 1,941 days at `--scale 1`.
//!
//! ```sh
//! /usr/bin/time -v cargo run --release -p aisle-forecast --example gbdt_cost -- \
//!     --scale 1 --days 1941 --holdout 0 --max-rows 3000000
//! ```
//!
//! Options: `--scale X` (share of M5's 3,049 items, all 10 stores), `--days N` of sales,
//! `--holdout H` (fit on the first `N - H` days and score the next 28 with RMSSE beside
//! seasonal naive; 0 = fit on all days and forecast past them, the production case),
//! `--max-rows R` (training rows kept, uniform subsample), `--window D` (training origins in the
//! last D days only), `--step S` (days between training origins), `--rounds N`, `--lr`,
//! `--depth` (forust), `--perpetual BUDGET` (the perpetual learner instead; needs
//! `--features perpetual`), `--seed`.
//! Prints each phase's wall time and the peak resident memory (`VmHWM`).

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use aisle_forecast::features::TrainRows;
use aisle_forecast::fullhistory::rmsse;
use aisle_forecast::models::Context;
use aisle_forecast::models::baselines::seasonal_naive;
use aisle_forecast::models::gbdt::Gbdt;
use aisle_forecast::models::learner::Learner;
use aisle_forecast::synthetic::Synthetic;
use tokio::time::Instant;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale: f64 = arg(&args, "--scale", 1.0);
    let days: usize = arg(&args, "--days", 1941);
    let holdout: usize = arg(&args, "--holdout", 0);
    let horizon = 28;
    let seed: u64 = arg(&args, "--seed", 7);
    let window: usize = arg(&args, "--window", 0);
    let rows = TrainRows {
        step: arg(&args, "--step", 7),
        window: (window > 0).then_some(window),
        max_rows: arg(&args, "--max-rows", 3_000_000),
        seed,
        ..TrainRows::default()
    };
    let budget: f32 = arg(&args, "--perpetual", 0.0);
    let learner = if budget > 0.0 {
        #[cfg(feature = "perpetual")]
        {
            Learner::Perpetual {
                budget,
                loss: aisle_forecast::models::learner::Loss::Squared,
                iteration_limit: None,
            }
        }
        #[cfg(not(feature = "perpetual"))]
        anyhow::bail!("--perpetual needs `--features perpetual`")
    } else {
        Learner::Forust {
            iterations: arg(&args, "--rounds", 300),
            learning_rate: arg(&args, "--lr", 0.05),
            max_depth: arg(&args, "--depth", 6),
            subsample: 0.8,
        }
    };
    let model = Gbdt {
        learner,
        rows,
        ..Gbdt::default()
    };

    let t = Instant::now();
    let data = Synthetic::generate(scale, days, horizon, seed);
    println!(
        "synthetic: {} series x {} days (+{horizon} calendar days) in {:.1} s, peak {:.0} MiB",
        data.sales.series.len(),
        days,
        t.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
    let seen = data.sales.slice(1, (days - holdout) as i32);
    let ctx = Context {
        series: &seen.series,
        history: &seen.values,
        last_day: seen.last_day(),
        horizon,
        calendar: &data.calendar,
        prices: &data.prices,
        monthly: None,
    };
    let t = Instant::now();
    let mut fitted = model.fit(&ctx)?;
    let fit_wall = t.elapsed().as_secs_f64();
    let forecasts = fitted.forecast(&ctx);
    let total = t.elapsed().as_secs_f64();
    let r = &fitted.report;
    println!("model: {}", model.learner.name());
    println!(
        "training rows: {} of {} candidates ({:.1} %), {} features, {} trees",
        r.rows,
        r.candidates,
        100.0 * r.rows as f64 / r.candidates.max(1) as f64,
        r.features,
        r.trees
    );
    println!(
        "build rows {:.1} s + fit {:.1} s = {fit_wall:.1} s; forecast {} x {horizon} in {:.1} s; \
         train + forecast {total:.1} s; peak {:.0} MiB",
        r.build_s,
        r.fit_s,
        forecasts.len(),
        r.predict_s,
        peak_rss_mib()
    );
    if holdout >= horizon {
        let truth = data
            .sales
            .slice(seen.last_day() + 1, seen.last_day() + horizon as i32);
        let (mut g, mut s, mut n) = (0.0, 0.0, 0usize);
        for (i, train) in seen.values.iter().enumerate() {
            let y: Vec<f64> = train.iter().map(|&v| f64::from(v)).collect();
            let sn: Vec<f32> = seasonal_naive(&y, horizon, 7)
                .into_iter()
                .map(|v| v as f32)
                .collect();
            if let (Some(a), Some(b)) = (
                rmsse(train, &truth.values[i], &forecasts[i]),
                rmsse(train, &truth.values[i], &sn),
            ) {
                g += a;
                s += b;
                n += 1;
            }
        }
        println!(
            "holdout d_{}..d_{}: mean RMSSE GBDT {:.4}, sNaive {:.4} over {n} series",
            seen.last_day() + 1,
            seen.last_day() + horizon as i32,
            g / n.max(1) as f64,
            s / n.max(1) as f64
        );
    }
    Ok(())
}
