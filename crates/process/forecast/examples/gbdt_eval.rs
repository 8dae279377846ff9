//! Accuracy of the full-history GBDT against the statistical models on the real series with a
//! full daily history (the ten of `sales_train_validation_10series.csv`, or every series of
//! Kaggle's `sales_train_validation.csv` when it is there):
//!
//! ```sh
//! cargo run --release -p aisle-forecast --example gbdt_eval -- ../shared/data/m5
//! cargo run --release -p aisle-forecast --features perpetual --example gbdt_eval -- ../shared/data/m5 --variants
//! ```
//!
//! Four rolling origins 28 days apart ending 28 days before the last day (d_1801, d_1829,
//! d_1857, d_1885 for d_1913), horizon 28, RMSSE per series and origin. The statistical
//! models see the whole daily history (`[full]`); the pooled default also as it runs today
//! (28 daily days and monthly totals). `--variants` adds other learners and settings (the
//! crate comparison in BENCHMARKS.md).

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use aisle_forecast::dataset::Inputs;
use aisle_forecast::fullhistory::{self, Shown};
use aisle_forecast::models::gbdt::Gbdt;
use aisle_forecast::models::learner::Learner;
#[cfg(feature = "perpetual")]
use aisle_forecast::models::learner::Loss;
use aisle_forecast::models::{self, Model};
use aisle_forecast::rolling;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(args.first().map_or("../shared/data/m5", String::as_str));
    let variants = args.iter().any(|a| a == "--variants");
    let full = rolling::load_full(&dir)?
        .ok_or_else(|| anyhow::anyhow!("no full daily history in {}", dir.display()))?;
    let inputs = Inputs::load(&dir)?;
    let last = full.last_day();
    let origins: Vec<i32> = (0..4).rev().map(|k| last - 28 - 28 * k).collect();
    println!(
        "{} series, d_{}..d_{}; origins {origins:?}, horizon 28",
        full.series.len(),
        full.first_day,
        last
    );
    let mut ms: Vec<(Box<dyn Model>, Shown)> = Vec::new();
    for name in ["sNaive", "MA", "SES", "Croston", "TSB"] {
        ms.push((models::by_name(name).expect("baseline"), Shown::Full));
    }
    ms.push((models::by_name("pooled").expect("pooled"), Shown::Days(28)));
    ms.push((models::by_name("pooled").expect("pooled"), Shown::Full));
    ms.push((Box::new(Gbdt::default()), Shown::Full));
    if variants {
        #[cfg(feature = "perpetual")]
        for (budget, loss) in [
            (0.5, Loss::Squared),
            (1.0, Loss::Squared),
            (0.5, Loss::Tweedie(1.1)),
            (0.5, Loss::Poisson),
        ] {
            let learner = Learner::Perpetual {
                budget,
                loss,
                iteration_limit: None,
            };
            ms.push((
                Box::new(Gbdt {
                    learner,
                    ..Gbdt::default()
                }),
                Shown::Full,
            ));
        }
        for (iterations, learning_rate, max_depth) in [(150, 0.05, 5), (600, 0.03, 8)] {
            let learner = Learner::Forust {
                iterations,
                learning_rate,
                max_depth,
                subsample: 0.8,
            };
            ms.push((
                Box::new(Gbdt {
                    learner,
                    ..Gbdt::default()
                }),
                Shown::Full,
            ));
        }
    }
    let mut r = fullhistory::run(&full, &inputs, &origins, 28, &ms)?;
    for m in &mut r.models {
        if let (true, Some(i)) = (m.starts_with("Pooled("), m.find(" [")) {
            // The default settings; the full name is in `aisle forecast backtest`.
            *m = format!("Pooled{}", &m[i..]);
        }
    }
    println!("\nmean RMSSE over series per origin\n");
    print!("{}", r.table());
    Ok(())
}
