//! What fitting each `sales` partition on its own costs in accuracy: the default pooled model on
//! all series at once against the same model per store (what the streaming forecaster does, so
//! that instances splitting the partitions publish what one instance would). Prints WRMSSE
//! levels 1–9 and 1–12 at every origin of `selection::SPLITS`:
//! `cargo run --release -p aisle-forecast --example partitioned -- DIR`.

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use aisle_forecast::dataset::M5Data;
use aisle_forecast::models::{Model, partitioned::Partitioned, pooled::Pooled};
use aisle_forecast::scales::ScaleSource;
use aisle_forecast::selection;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/m5".into());
    let data = M5Data::load(Path::new(&dir))?;
    let ms: Vec<Box<dyn Model>> = vec![
        Box::new(Pooled::default()),
        Box::new(Partitioned::by_store(Pooled::default())),
    ];
    let rows = selection::run(&data.sales, &data.inputs, &ScaleSource::Training, &ms)?;
    let splits: Vec<String> = selection::SPLITS
        .iter()
        .map(|(o, h)| format!("..d_{o} +{h}"))
        .collect();
    println!("| model | metric | {} | mean |", splits.join(" | "));
    for r in &rows {
        for (metric, v) in [("WRMSSE L1-9", &r.l1_9), ("WRMSSE L1-12", &r.l1_12)] {
            let cells: Vec<String> = v.iter().map(|x| format!("{x:.4}")).collect();
            let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
            println!(
                "| {} | {metric} | {} | {mean:.4} |",
                r.model,
                cells.join(" | ")
            );
        }
    }
    Ok(())
}
