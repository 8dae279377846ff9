//! Prints the backtest table on an M5 directory: `cargo run -p aisle-forecast --example backtest
//! -- DIR [TRAIN_LAST] [HORIZON]` (defaults: d_1927, 14 days).

use aisle_forecast::backtest::backtest;
use aisle_forecast::dataset::M5Data;
use aisle_forecast::models::{self, Model, pooled::Pooled};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).map_or("../shared/data/m5", String::as_str);
    let train_last: i32 = args.get(2).map_or(Ok(1927), |s| s.parse())?;
    let horizon: usize = args.get(3).map_or(Ok(14), |s| s.parse())?;
    let t = std::time::Instant::now();
    let data = M5Data::load(std::path::Path::new(dir))?;
    eprintln!("loaded in {:?}", t.elapsed());
    let mut ms: Vec<Box<dyn Model>> = models::all();
    if std::env::var_os("TUNE").is_some() {
        for halflife in [7.0, 14.0, f64::INFINITY] {
            for store_share in [0.5] {
                for skip_events in [false, true] {
                    ms.push(Box::new(Pooled {
                        halflife,
                        store_share,
                        snap: true,
                        yearly: true,
                        skip_events,
                    }));
                }
            }
        }
    }
    let rows = backtest(&data.sales, &data.inputs, train_last, horizon, &ms)?;
    println!(
        "| model | L1-9 | L1-12 | L1 | L2 | L3 | L4 | L5 | L6 | L7 | L8 | L9 | L10 | L11 | L12 | time |"
    );
    for r in rows {
        let l: Vec<String> = r.score.levels.iter().map(|v| format!("{v:.3}")).collect();
        println!(
            "| {} | {:.4} | {:.4} | {} | {:.2?} |",
            r.model,
            r.score.mean(1..=9),
            r.score.mean(1..=12),
            l.join(" | "),
            r.elapsed
        );
    }
    Ok(())
}
