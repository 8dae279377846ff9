//! Price elasticity per department, estimated from the monthly totals and the monthly mean sell
//! price of earlier years, for the pooled model's price factor `(price(d) / recent price) ^ β`.
//!
//! Estimate: for every series and every month before the daily history whose days all have a
//! price (the item was on sale the whole month) and that sold something, `y = ln(units per day)`
//! and `x = ln(mean price)`. Both are demeaned within the series (its own level and price), then
//! within store × department × month (what every item of the department did that month:
//! seasons, trends, calendar). `β(dept) = Σxy / Σxx` over the department's series, clamped to
//! `[-3, 0]` (a price rise never raises sales). Departments with too little price variation
//! (`Σxx` below [`MIN_VARIATION`]) get 0.

use super::Context;
use rayon::prelude::*;
use std::collections::HashMap;

/// Least `Σxx` (squared demeaned log prices) a department needs for an elasticity.
pub const MIN_VARIATION: f64 = 1.0;

/// Per department, its elasticity (≤ 0); empty without monthly totals.
pub fn elasticities(ctx: &Context<'_>) -> HashMap<String, f64> {
    let Some(monthly) = ctx.monthly else {
        return HashMap::new();
    };
    let months = monthly.months();
    let index: HashMap<&str, usize> = months
        .iter()
        .enumerate()
        .map(|(k, m)| (m.as_str(), k))
        .collect();
    // The Walmart weeks (with their day counts) of each month before the daily history.
    let mut weeks: Vec<Vec<(u32, f64)>> = vec![Vec::new(); months.len()];
    let mut days_in = vec![0.0; months.len()];
    for d in 1..ctx.first_day() {
        let Some(c) = ctx.calendar.day(d) else {
            continue;
        };
        let Some(&k) = index.get(c.month.as_str()) else {
            continue;
        };
        days_in[k] += 1.0;
        match weeks[k].last_mut() {
            Some((w, n)) if *w == c.wm_yr_wk => *n += 1.0,
            _ => weeks[k].push((c.wm_yr_wk, 1.0)),
        }
    }
    // Per series: (month, y, x) demeaned within the series.
    let obs: Vec<Vec<(usize, f64, f64)>> = ctx
        .series
        .par_iter()
        .map(|m| {
            let mut rows = Vec::new();
            for (k, wk) in weeks.iter().enumerate() {
                if days_in[k] == 0.0 {
                    continue;
                }
                let mut sum = 0.0;
                for &(w, n) in wk {
                    match ctx.prices.get(&m.id, w) {
                        Some(p) if p > 0.0 => sum += f64::from(p) * n,
                        _ => {
                            sum = f64::NAN;
                            break;
                        }
                    }
                }
                let rate = monthly.daily_rate(&m.id, &months[k]).unwrap_or(0.0);
                if sum.is_finite() && rate > 0.0 {
                    rows.push((k, rate.ln(), (sum / days_in[k]).ln()));
                }
            }
            if rows.len() < 2 {
                return Vec::new();
            }
            let n = rows.len() as f64;
            let my = rows.iter().map(|r| r.1).sum::<f64>() / n;
            let mx = rows.iter().map(|r| r.2).sum::<f64>() / n;
            rows.into_iter()
                .map(|(k, y, x)| (k, y - my, x - mx))
                .collect()
        })
        .collect();
    // Store × department × month means of the demeaned values.
    let mut cell: HashMap<(String, usize), (f64, f64, f64)> = HashMap::new();
    for (m, rows) in ctx.series.iter().zip(&obs) {
        for &(k, y, x) in rows {
            let c = cell
                .entry((format!("{}|{}", m.store_id, m.dept_id), k))
                .or_default();
            c.0 += y;
            c.1 += x;
            c.2 += 1.0;
        }
    }
    let mut acc: HashMap<String, (f64, f64)> = HashMap::new();
    for (m, rows) in ctx.series.iter().zip(&obs) {
        let a = acc.entry(m.dept_id.clone()).or_default();
        for &(k, y, x) in rows {
            let c = cell[&(format!("{}|{}", m.store_id, m.dept_id), k)];
            let (y, x) = (y - c.0 / c.2, x - c.1 / c.2);
            a.0 += x * y;
            a.1 += x * x;
        }
    }
    acc.into_iter()
        .map(|(dept, (xy, xx))| {
            let b = if xx >= MIN_VARIATION {
                (xy / xx).clamp(-3.0, 0.0)
            } else {
                0.0
            };
            (dept, b)
        })
        .collect()
}

/// Test data: 80 items in CA_1 over `days` days of 28-day months (4 weeks each); `A_1` items'
/// prices alternate between 1 and 1.2 on their own schedule (item `i` pays 1.2 in the months
/// where `(month + i) % 3 == 0`), `B_1` items' prices are constant; sales = `season(month) ·
/// price^-2`. Returns the calendar, prices, and the daily panel.
#[cfg(test)]
pub(crate) fn synthetic(
    days: usize,
) -> (aisle_m5::Calendar, aisle_m5::Prices, aisle_m5::SalesPanel) {
    use aisle_m5::{Calendar, CalendarDay, Prices, SalesPanel, SeriesMeta};
    let cal = Calendar::from_days(
        (0..days + 60)
            .map(|i| CalendarDay {
                wm_yr_wk: (i / 7) as u32 + 1,
                wday: (i % 7) as u8 + 1,
                month: format!("M{:02}", i / 28),
                ..CalendarDay::default()
            })
            .collect(),
    );
    let mut prices = Prices::default();
    let mut series = Vec::new();
    let mut values = Vec::new();
    for i in 0..80 {
        let (dept, n) = if i < 40 { ("A_1", i) } else { ("B_1", i - 40) };
        let m = SeriesMeta::from_ids(&format!("{dept}_{n:03}"), "CA_1").unwrap();
        let mut row = Vec::new();
        for d in 1..=days + 60 {
            let month = (d - 1) / 28;
            let p = if dept == "B_1" || (month + i) % 3 != 0 {
                1.0
            } else {
                1.2
            };
            prices.insert(&m.id, ((d - 1) / 7) as u32 + 1, p as f32);
            let season = 10.0 + 5.0 * (month % 4) as f64;
            if d <= days {
                row.push((season * f64::powf(p, -2.0)) as f32);
            }
        }
        series.push(m);
        values.push(row);
    }
    let panel = SalesPanel {
        series,
        first_day: 1,
        values,
    };
    (cal, prices, panel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monthly::Monthly;

    #[test]
    fn recovers_a_known_elasticity_net_of_a_shared_season() {
        // β must be -2, and the season (common to every item of a dept-month) must not leak
        // into it.
        let (cal, prices, panel) = synthetic(280);
        let monthly = Monthly::from_daily(&panel, &cal, 280);
        let history = vec![vec![1.0f32; 7]; 80];
        let ctx = Context {
            series: &panel.series,
            history: &history,
            last_day: 287,
            horizon: 7,
            calendar: &cal,
            prices: &prices,
            monthly: Some(&monthly),
        };
        let e = elasticities(&ctx);
        assert!((e["A_1"] + 2.0).abs() < 1e-3, "{e:?}");
        assert_eq!(e["B_1"], 0.0);
        let none = Context {
            monthly: None,
            ..ctx
        };
        assert!(elasticities(&none).is_empty());
    }
}
