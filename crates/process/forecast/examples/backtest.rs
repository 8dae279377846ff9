//! Prints every backtest table on an M5 directory: `cargo run --release -p aisle-forecast
//! --example backtest -- DIR` (set `TUNE=1` to add the pooled model's variants).
//!
//! * the scale bias: median training-window scale / full-history scale per level;
//! * split A (train d_1914..d_1927, score 14 days) and split B (train to d_1934, score 7 days),
//!   each with training-window and full-history (published) scales;
//! * the model selection ([`aisle_forecast::selection`]): every candidate at every origin of
//!   `selection::SPLITS`, WRMSSE L1-9 / L1-12 and WSPL per split, the mean over splits, the
//!   winner; then the quantile model's `inflate` compared the same way;
//! * rolling 28-day splits over the series with a full daily history: every 28th origin, and the
//!   four origins 52, 104, 156, 208 weeks before d_1941 (same season as the real target).

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use aisle_forecast::backtest::backtest;
use aisle_forecast::dataset::M5Data;
use aisle_forecast::levelcheck::{self, Predictor};
use aisle_forecast::models::yearly::{YearlyPool, YearlySpec};
use aisle_forecast::models::{self, Model, pooled::Pooled};
use aisle_forecast::rolling::{self, RollingRow};
use aisle_forecast::scales::{self, ScaleSource};
use aisle_forecast::selection;
use aisle_forecast::wrmsse::Wrmsse;
use aisle_forecast::wspl::{self, QuantileModel};
use aisle_m5::hierarchy::Hierarchy;
use std::path::Path;

fn levels(l: &[f64]) -> String {
    l.iter()
        .map(|v| format!("{v:.3}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn variants() -> Vec<Box<dyn Model>> {
    let mut ms: Vec<Box<dyn Model>> = models::all();
    if std::env::var_os("TUNE").is_some() {
        let base = Pooled::default();
        for p in [
            Pooled {
                yearly: None,
                ..base
            },
            Pooled {
                price: true,
                ..base
            },
            Pooled {
                last_month: 0.5,
                ..base
            },
            Pooled {
                last_month: 1.0,
                ..base
            },
            Pooled {
                last_month: 2.0,
                ..base
            },
            Pooled {
                snap: false,
                ..base
            },
            Pooled {
                halflife: 7.0,
                ..base
            },
            Pooled {
                halflife: f64::INFINITY,
                ..base
            },
            Pooled {
                store_share: 0.0,
                ..base
            },
            Pooled {
                skip_events: true,
                ..base
            },
            Pooled {
                yearly: Some(YearlySpec {
                    pool: YearlyPool::StoreDept,
                    shrink: 1.0,
                    ..YearlySpec::ISSUE_7
                }),
                ..base
            },
            Pooled {
                yearly: Some(YearlySpec {
                    pool: YearlyPool::StoreDept,
                    ..YearlySpec::ISSUE_7
                }),
                ..base
            },
            Pooled {
                yearly: Some(YearlySpec {
                    shrink: 1.0,
                    ..YearlySpec::ISSUE_7
                }),
                ..base
            },
        ] {
            ms.push(Box::new(p));
        }
    }
    ms
}

fn print_rolling(title: &str, rows: &[RollingRow]) {
    println!(
        "\n{title} ({} origins)",
        rows.first().map_or(0, |r| r.origins)
    );
    println!("| model | L1-9 | L1-12 | L1 .. L12 |");
    for r in rows {
        println!(
            "| {} | {:.4} | {:.4} | {} |",
            r.model,
            r.mean(1..=9),
            r.mean(1..=12),
            levels(&r.levels)
        );
    }
}

/// Month-to-month change of each store × department's daily rate (monthly totals), predicted
/// by: no change; last year's change; the mean log change of all earlier years; half of last
/// year's. Dollar-free: each group weighted by its volume. Prints the mean |log error| for all
/// transitions since 2013 and for those into June (the target window is mostly June).
fn yearly_check(data: &M5Data) {
    let Some(monthly) = &data.inputs.monthly else {
        return;
    };
    let months = monthly.months();
    let mut groups: std::collections::HashMap<String, Vec<f64>> = Default::default();
    for m in &data.sales.series {
        let g = groups
            .entry(format!("{}|{}", m.store_id, m.dept_id))
            .or_insert_with(|| vec![0.0; months.len()]);
        for (k, mo) in months.iter().enumerate() {
            g[k] += monthly.daily_rate(&m.id, mo).unwrap_or(0.0);
        }
    }
    let mut depts: std::collections::HashMap<String, Vec<f64>> = Default::default();
    for (g, r) in &groups {
        let d = depts
            .entry(g.split('|').nth(1).unwrap_or("").to_string())
            .or_insert_with(|| vec![0.0; months.len()]);
        d.iter_mut().zip(r).for_each(|(a, b)| *a += b);
    }
    let names = [
        "no change",
        "last year",
        "mean of earlier years",
        "half last year",
        "half last year of the dept (all stores)",
        "half mean of earlier years",
        "0.3 × last year",
        "last year of the dept",
        "0.75 × last year of the dept",
        "0.3 × last year of the dept",
        "mean of earlier years of the dept",
        "half mean of earlier years of the dept",
        "half mean of the last two years of the dept",
    ];
    const N: usize = 13;
    let (mut err_all, mut err_jun, mut w_all, mut w_jun) = ([0.0; N], [0.0; N], 0.0, 0.0);
    for (gname, rates) in &groups {
        let dept = &depts[gname.split('|').nth(1).unwrap_or("")];
        let lr = |k: usize| (rates[k] / rates[k - 1]).ln();
        // Months 1 (2011-02) .. last full month (the last one is partial).
        for k in 26..months.len() - 1 {
            if rates[k - 1] <= 0.0 || rates[k] <= 0.0 || rates[k - 13] <= 0.0 {
                continue;
            }
            let earlier: Vec<f64> = (1..)
                .map(|y| k as i64 - 12 * y)
                .take_while(|&j| j >= 2)
                .map(|j| lr(j as usize))
                .filter(|v| v.is_finite())
                .collect();
            let dept_earlier: Vec<f64> = (1..)
                .map(|y| k as i64 - 12 * y)
                .take_while(|&j| j >= 2)
                .map(|j| (dept[j as usize] / dept[j as usize - 1]).ln())
                .filter(|v| v.is_finite())
                .collect();
            let preds = [
                0.0,
                lr(k - 12),
                earlier.iter().sum::<f64>() / earlier.len().max(1) as f64,
                0.5 * lr(k - 12),
                0.5 * (dept[k - 12] / dept[k - 13]).ln(),
                0.5 * earlier.iter().sum::<f64>() / earlier.len().max(1) as f64,
                0.3 * lr(k - 12),
                (dept[k - 12] / dept[k - 13]).ln(),
                0.75 * (dept[k - 12] / dept[k - 13]).ln(),
                0.3 * (dept[k - 12] / dept[k - 13]).ln(),
                dept_earlier.iter().sum::<f64>() / dept_earlier.len().max(1) as f64,
                0.5 * dept_earlier.iter().sum::<f64>() / dept_earlier.len().max(1) as f64,
                0.5 * dept_earlier.iter().take(2).sum::<f64>()
                    / dept_earlier.len().clamp(1, 2) as f64,
            ];
            let w = rates[k];
            for (i, p) in preds.iter().enumerate() {
                let e = (lr(k) - p).abs() * w;
                err_all[i] += e;
                if months[k].ends_with("-06") {
                    err_jun[i] += e;
                }
            }
            w_all += w;
            if months[k].ends_with("-06") {
                w_jun += w;
            }
        }
    }
    println!(
        "\nyearly factor check: store × dept monthly rate change, volume-weighted mean |log error|"
    );
    println!("| predictor | all months 2013-03..2016-03 | into June 2013-2015 |");
    for i in 0..N {
        println!(
            "| {} | {:.4} | {:.4} |",
            names[i],
            err_all[i] / w_all,
            err_jun[i] / w_jun
        );
    }
}

fn per_split(v: &[f64]) -> String {
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    format!("{} | **{mean:.4}**", levels(v))
}

/// The level check ([`levelcheck`]): every predictor of next month's rate, per origin month,
/// scored on levels 1–9 with the published scales (else the daily history's) and the dollar
/// weights of the daily history. Returns the mean per predictor, in `predictors` order.
fn level_tables(
    data: &M5Data,
    published: Option<&Vec<Vec<Option<f64>>>>,
    predictors: &[Predictor],
) -> anyhow::Result<Vec<f64>> {
    let Some(monthly) = &data.inputs.monthly else {
        return Ok(vec![0.0; predictors.len()]);
    };
    let sales = &data.sales;
    let e = held_out_scoring(data, published)?;
    let wdays: Vec<usize> = (sales.first_day..=sales.last_day())
        .map(|d| {
            data.inputs
                .calendar
                .day(d)
                .map_or(0, |c| usize::from(c.wday.clamp(1, 7)) - 1)
        })
        .collect();
    let profiles = levelcheck::group_profiles(&sales.series, &sales.values, &wdays);
    let rows = levelcheck::run(
        monthly,
        &sales.series,
        &profiles,
        e.weights(),
        e.scales(),
        predictors,
    );
    println!(
        "\nlevel check: next month's weekday-balanced rate, {} origins (targets {}..{}), mean over levels 1-9 of the weighted |error|/sqrt(scale)",
        rows.first().map_or(0, |r| r.per_origin.len()),
        rows.first()
            .and_then(|r| r.targets.first())
            .map_or("", String::as_str),
        rows.first()
            .and_then(|r| r.targets.last())
            .map_or("", String::as_str),
    );
    println!("| predictor | all origins | last 24 | into May | into June |");
    for r in &rows {
        let n = r.per_origin.len();
        let last: f64 =
            r.per_origin[n.saturating_sub(24)..].iter().sum::<f64>() / 24f64.min(n as f64).max(1.0);
        println!(
            "| {} | **{:.4}** | {last:.4} | {:.4} | {:.4} |",
            r.name,
            r.mean(),
            r.mean_into("-05"),
            r.mean_into("-06")
        );
    }
    Ok(rows.iter().map(levelcheck::LevelRow::mean).collect())
}

fn selection_tables(
    dir: &Path,
    data: &M5Data,
    published: Option<&Vec<Vec<Option<f64>>>>,
) -> anyhow::Result<()> {
    let src = published.map_or(ScaleSource::Training, |p| ScaleSource::Published(p.clone()));
    let cands = selection::candidates();
    let mut ms: Vec<Box<dyn Model>> = cands.iter().map(selection::Candidate::model).collect();
    ms.push(Box::new(models::PerSeries::new(
        "sNaive",
        |y: &[f64], h: usize| models::baselines::seasonal_naive(y, h, 7),
    )));
    let mut predictors: Vec<Predictor> = cands.iter().map(|c| c.level_predictor()).collect();
    predictors.push(Predictor {
        name: "no change".into(),
        spec: None,
        per_store: true,
    });
    predictors.push(Predictor {
        name: "issue 7's model fitted on all series at once (department over all stores)".into(),
        spec: Some(YearlySpec::ISSUE_7),
        per_store: false,
    });
    predictors.push(Predictor {
        name: "weekday-adjusted, 2 years, department over all stores".into(),
        spec: Some(YearlySpec {
            years: 2,
            adjust: true,
            ..YearlySpec::ISSUE_7
        }),
        per_store: false,
    });
    let mut level = level_tables(data, published, &predictors)?;
    level.truncate(cands.len());
    let mut rows = selection::run(&data.sales, &data.inputs, &src, &ms)?;
    let splits: Vec<String> = selection::SPLITS
        .iter()
        .map(|(o, h)| format!("..d_{o} +{h}"))
        .collect();
    for (title, pick) in [
        ("WRMSSE L1-9", 0usize),
        ("WRMSSE L1-12", 1),
        ("WSPL L1-12 (training-day scales)", 2),
    ] {
        println!("\nselection, {title}, per split (train d_1914..o, score o+1..d_1941) and mean");
        println!("| model | {} | mean |", splits.join(" | "));
        for r in &rows {
            let v = [&r.l1_9, &r.l1_12, &r.wspl][pick];
            println!("| {} | {} |", r.model, per_split(v));
        }
    }
    if let Some(b) = selection::best(&rows) {
        println!("\nbest by mean WRMSSE L1-9 over splits: {}", b.model);
    }
    let weeks = selection::lowo(&data.sales, &data.inputs, &src, &cands)?;
    for (r, w) in rows.iter_mut().zip(&weeks) {
        r.weeks.clone_from(w);
    }
    let cand_rows = &rows[..cands.len()];
    let heads: Vec<String> = selection::WEEKS
        .iter()
        .map(|(a, b)| format!("d_{a}..d_{b} out"))
        .collect();
    println!(
        "\nleave-one-week-out (selection::lowo): WRMSSE L1-9 of the held-out week, fitted per store on the other three"
    );
    println!("| model | {} | mean |", heads.join(" | "));
    for r in cand_rows {
        println!("| {} | {} |", r.model, per_split(&r.weeks));
    }
    println!("\nrule (selection::choose) against the default (first row):");
    println!("| model | mean L1-9 | mean L1-12 | level check | leave-one-week-out | verdict |");
    for (i, r) in cand_rows.iter().enumerate().skip(1) {
        let w = &r.weeks;
        println!(
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} (lower in {} of 4) | {} |",
            r.model,
            r.mean_l1_9(),
            r.mean_l1_12(),
            level[i],
            w.iter().sum::<f64>() / 4.0,
            w.iter()
                .zip(&cand_rows[0].weeks)
                .filter(|(a, b)| a < b)
                .count(),
            selection::verdict(cand_rows, &level, i)
        );
    }
    if let Some(full) = rolling::load_full(dir)? {
        let every = rolling::origins(full.last_day(), 28, 28, 420);
        let season: Vec<i32> = (1..=4).map(|k| 1941 - 364 * k).collect();
        for (title, o) in [
            ("every 28th origin", &every),
            ("origins d_1941 - 52k weeks", &season),
        ] {
            let r = rolling::rolling(&full, &data.inputs, o, 28, 28, &ms)?;
            print_rolling(
                &format!("candidates, rolling 28-day splits (not in the rule), {title}"),
                &r,
            );
        }
    }
    let chosen = selection::choose(cand_rows, &level);
    println!(
        "\nchosen (selection::choose): {}{}",
        cand_rows[chosen].model,
        if chosen == 0 {
            " (the default: nothing passes)"
        } else {
            ""
        }
    );
    let t = tokio::time::Instant::now();
    let h = aisle_m5::hierarchy::Hierarchy::m5(&data.sales.series);
    let ctx = data.inputs.context(&data.sales, 28);
    let q = QuantileModel::default().forecast(&Pooled::default(), &ctx, &h);
    let phi: Vec<String> = q.phi.iter().map(|p| format!("{p:.4}")).collect();
    println!(
        "\nquantiles of the real 28-day forecast (d_1914..d_1941 → d_1942..d_1969): {} rows in {:.2?}; φ per level {}",
        9 * h.series_count(),
        t.elapsed(),
        phi.join(" ")
    );
    println!("\nquantile model inflate, default point model: WSPL L1-12 per split and mean");
    let point: Vec<Box<dyn Model>> = vec![Box::new(Pooled::default())];
    for inflate in [0.25, 0.5, 0.75, 1.0, 1.5] {
        let qm = QuantileModel {
            inflate,
            ..QuantileModel::default()
        };
        let v: Vec<f64> = selection::SPLITS
            .iter()
            .map(|&(o, h)| {
                wspl::backtest(&data.sales, &data.inputs, o, h, &point, &qm)
                    .map(|s| s[0].mean(1..=12))
            })
            .collect::<Result<_, _>>()?;
        println!("| inflate {inflate} | {} |", per_split(&v));
    }
    Ok(())
}

/// The real forecast (d_1914..d_1941 → d_1942..d_1969) of the previous and the current
/// default and of other variants, fitted per store as `forecast run` does: the total per day,
/// the mean over the history's, and the WRMSSE L1–9 of each against the default's.
/// No truth is read: this shows what the held-out scoring will see, not how it scores.
fn real_forecast(data: &M5Data, published: Option<&Vec<Vec<Option<f64>>>>) -> anyhow::Result<()> {
    let ctx = data.inputs.context(&data.sales, 28);
    let skip = Pooled {
        skip_events: true,
        min_weekday_days: 2,
        ..Pooled::default()
    };
    // (name, model, fitted per store)
    let models: Vec<(&str, Pooled, bool)> = vec![
        ("default", Pooled::default(), true),
        (
            "baseline of this selection (the default before it)",
            selection::BASELINE,
            true,
        ),
        (
            "issue 7's model (the default before 2026-12-07), fitted per store",
            selection::PREVIOUS_DEFAULT,
            true,
        ),
        (
            "issue 7's model fitted on all series at once (before issue 15; the 0.578)",
            selection::PREVIOUS_DEFAULT,
            false,
        ),
        (
            "baseline, low days > 3.5 sd left out",
            Pooled {
                outlier_z: 3.5,
                ..selection::BASELINE
            },
            true,
        ),
        ("default, calendar event days skipped", skip, true),
        (
            "default, yearly weekday-adjusted over 2 years (failed the rule)",
            Pooled {
                yearly: Some(YearlySpec {
                    years: 2,
                    adjust: true,
                    ..YearlySpec::ISSUE_7
                }),
                ..Pooled::default()
            },
            true,
        ),
    ];
    let hist: f64 = data
        .sales
        .values
        .iter()
        .flatten()
        .map(|&v| f64::from(v))
        .sum::<f64>()
        / 28.0;
    let eval = held_out_scoring(data, published)?;
    let mut base: Option<Vec<Vec<f32>>> = None;
    println!(
        "\nreal forecast d_1942..d_1969: mean / mean of d_1914..d_1941; WRMSSE L1-9 of this forecast scored against the default's (a bound on how far the held-out L1-9 can move: |RMSSE(a) - RMSSE(b)| <= RMSSE of a against b, per series); total units per day in thousands"
    );
    println!("| forecast | mean / history | L1-9 against the default | total per day |");
    for (name, p, per_store) in models {
        let f = if per_store {
            models::partitioned::Partitioned::by_store(p).forecast(&ctx)
        } else {
            p.forecast(&ctx)
        };
        let total: Vec<f64> = (0..28)
            .map(|t| f.iter().map(|r| f64::from(r[t])).sum())
            .collect();
        let bound = match &base {
            Some(b) => eval.score(&f, b)?.mean(1..=9),
            None => 0.0,
        };
        let days: Vec<String> = total.iter().map(|v| format!("{:.1}", v / 1000.0)).collect();
        println!(
            "| {name} | {:.4} | {bound:.4} | {} |",
            total.iter().sum::<f64>() / 28.0 / hist,
            days.join(" ")
        );
        base.get_or_insert(f);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map_or("../shared/data/m5", String::as_str));
    let t = tokio::time::Instant::now();
    let data = M5Data::load(dir)?;
    eprintln!("loaded in {:?}", t.elapsed());
    yearly_check(&data);
    let mut e: Vec<_> =
        aisle_forecast::models::price::elasticities(&data.inputs.context(&data.sales, 28))
            .into_iter()
            .collect();
    e.sort_by(|a, b| a.0.cmp(&b.0));
    println!("\nprice elasticities per department (monthly totals before d_1914): {e:?}");
    let ms = variants();
    let h = Hierarchy::m5(&data.sales.series);
    let published = match aisle_m5::files::find(dir, scales::PUBLISHED_FILE) {
        Some(p) => Some(scales::read_published(&p, &h)?),
        None => None,
    };
    for (train_last, horizon) in [(1927, 14), (1934, 7)] {
        let mut sources = vec![("training-window scales", ScaleSource::Training)];
        if let Some(p) = &published {
            let train = data.sales.slice(data.sales.first_day, train_last);
            let e = Wrmsse::m5(
                &train.series,
                &train.values,
                train_last,
                &data.inputs.calendar,
                &data.inputs.prices,
            )?;
            println!(
                "\nscale bias, training d_1914..d_{train_last} vs d_1..d_1913, median ratio per level: {}",
                levels(&scales::ratio_by_level(e.scales(), p))
            );
            sources.push(("full-history scales", ScaleSource::Published(p.clone())));
        }
        for (name, src) in &sources {
            let rows = backtest(&data.sales, &data.inputs, train_last, horizon, src, &ms)?;
            println!("\nsplit: train to d_{train_last}, score {horizon} days, {name}");
            println!("| model | L1-9 | L1-12 | L1 .. L12 | time |");
            for r in rows {
                println!(
                    "| {} | {:.4} | {:.4} | {} | {:.2?} |",
                    r.model,
                    r.score.mean(1..=9),
                    r.score.mean(1..=12),
                    levels(&r.score.levels),
                    r.elapsed
                );
            }
        }
    }
    real_forecast(&data, published.as_ref())?;
    selection_tables(dir, &data, published.as_ref())?;
    if let Some(full) = rolling::load_full(dir)? {
        let every = rolling::origins(full.last_day(), 28, 28, 420);
        let rows = rolling::rolling(&full, &data.inputs, &every, 28, 28, &ms)?;
        print_rolling("rolling 28-day splits, every 28th origin", &rows);
        let season: Vec<i32> = (1..=4).map(|k| 1941 - 364 * k).collect();
        let rows = rolling::rolling(&full, &data.inputs, &season, 28, 28, &ms)?;
        print_rolling("rolling 28-day splits, origins d_1941 - 52k weeks", &rows);
    }
    Ok(())
}

/// The held-out scoring's WRMSSE: weights from the dollar sales of the daily days
/// (d_1914..d_1941), scales the published ones when given.
fn held_out_scoring(
    data: &M5Data,
    published: Option<&Vec<Vec<Option<f64>>>>,
) -> anyhow::Result<Wrmsse> {
    let sales = &data.sales;
    let mut e = Wrmsse::m5(
        &sales.series,
        &sales.values,
        sales.last_day(),
        &data.inputs.calendar,
        &data.inputs.prices,
    )?;
    if let Some(p) = published {
        e.replace_scales(p);
    }
    Ok(e)
}
