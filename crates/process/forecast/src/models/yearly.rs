//! The pooled model's year-over-year factor, from the monthly totals of earlier years.
//!
//! For a pool of series (a department across all stores, or one store × department) it is the
//! daily sales rate of the months 364 days (52 weeks, same weekdays) before the forecast days
//! over the rate 364 days before the last (up to) 28 history days, raised to a shrinkage power:
//! `factor = (future / past) ^ shrink`. Only the recent history days are compared, not a
//! multi-year history, whose year-ago months would mix in the trend.
//!
//! Why pool by department and shrink by ½: over the monthly totals of d_1..d_1913, predicting a
//! store × department's month-to-month change by last year's change is *worse* than predicting
//! no change (volume-weighted mean |log error| 0.076 vs 0.063; into June 0.101 vs 0.076), while
//! half of last year's change of the whole department beats both (0.059; into June 0.061).
//! BENCHMARKS.md has the table (`--example backtest` prints it).

use super::Context;
use aisle_m5::SeriesMeta;
use std::collections::HashMap;

/// Which series share one yearly factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearlyPool {
    /// One factor per store × department (noisy: a year-ago month of one store).
    StoreDept,
    /// One factor per department, over all stores.
    Dept,
}

impl YearlyPool {
    fn key(self, m: &SeriesMeta) -> String {
        match self {
            Self::StoreDept => format!("{}|{}", m.store_id, m.dept_id),
            Self::Dept => m.dept_id.clone(),
        }
    }
}

/// The factor of each series' store × department group (`groups[s]` in `0..n_groups`); 1
/// without monthly totals or where a pool has no year-ago sales.
pub fn factors(
    ctx: &Context<'_>,
    groups: &[usize],
    n_groups: usize,
    pool: YearlyPool,
    shrink: f64,
) -> Vec<f64> {
    let Some(monthly) = ctx.monthly else {
        return vec![1.0; n_groups];
    };
    let first = ctx.first_day();
    let month_of = |d: i32| ctx.calendar.day(d - 364).map(|c| c.month.as_str());
    let recent = (ctx.last_day - 27).max(first);
    let hist_days: Vec<&str> = (recent..=ctx.last_day).filter_map(month_of).collect();
    let fut_days: Vec<&str> = (1..=ctx.horizon as i32)
        .filter_map(|k| month_of(ctx.last_day + k))
        .collect();
    let mut pools: HashMap<String, (f64, f64)> = HashMap::new();
    let mut pool_of_group = vec![String::new(); n_groups];
    for (m, &g) in ctx.series.iter().zip(groups) {
        let key = pool.key(m);
        pool_of_group[g] = key.clone();
        let mean = |days: &[&str]| {
            let rates: Vec<f64> = days
                .iter()
                .filter_map(|mo| monthly.daily_rate(&m.id, mo))
                .collect();
            (rates.len() == days.len() && !rates.is_empty())
                .then(|| rates.iter().sum::<f64>() / rates.len() as f64)
        };
        if let (Some(p), Some(f)) = (mean(&hist_days), mean(&fut_days)) {
            let acc = pools.entry(key).or_default();
            acc.0 += p;
            acc.1 += f;
        }
    }
    pool_of_group
        .iter()
        .map(|k| match pools.get(k) {
            Some(&(p, f)) if p > 0.0 && f > 0.0 => (f / p).powf(shrink),
            _ => 1.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monthly::Monthly;
    use aisle_m5::{Calendar, CalendarDay, Prices, SalesPanel};

    #[test]
    fn dept_pool_shares_one_shrunk_factor() {
        // Months of 30 days ("M0", "M1", ...). A year before the forecast, store CA_1 doubled
        // its rate from M0 to M1; CA_2 stayed flat. History d_365..d_392, horizon d_393..d_420.
        let cal = Calendar::from_days(
            (0..460)
                .map(|i| CalendarDay {
                    month: format!("M{}", i / 30),
                    ..CalendarDay::default()
                })
                .collect(),
        );
        let series = vec![
            SeriesMeta::from_ids("A_1_001", "CA_1").unwrap(),
            SeriesMeta::from_ids("A_1_001", "CA_2").unwrap(),
        ];
        // Year-ago history days d_1..d_28 are in M0 (days 1-30), year-ago horizon d_29..d_56
        // mostly in M1 (days 31-60).
        let a: Vec<f32> = (1..=420).map(|d| if d <= 30 { 1.0 } else { 2.0 }).collect();
        let b: Vec<f32> = vec![1.0; 420];
        let panel = SalesPanel {
            series: series.clone(),
            first_day: 1,
            values: vec![a, b],
        };
        let monthly = Monthly::from_daily(&panel, &cal, 364);
        let history = vec![vec![1.0f32; 28]; 2];
        let prices = Prices::default();
        let ctx = Context {
            series: &series,
            history: &history,
            last_day: 392,
            horizon: 28,
            calendar: &cal,
            prices: &prices,
            monthly: Some(&monthly),
        };
        let groups = [0, 1];
        // Past rate (both series): mean over d_1..d_28 → 1 + 1 = 2 per day. Future: days
        // d_29, d_30 in M0 (rates 1+1), d_31..d_56 in M1 (rates 2+1): mean (2·2 + 26·3)/28.
        let fut: f64 = (2.0 * 2.0 + 26.0 * 3.0) / 28.0;
        let per = factors(&ctx, &groups, 2, YearlyPool::StoreDept, 1.0);
        assert!((per[0] - (2.0 + 26.0 * 2.0) / 28.0).abs() < 1e-9, "{per:?}");
        assert!((per[1] - 1.0).abs() < 1e-9, "{per:?}");
        let dept = factors(&ctx, &groups, 2, YearlyPool::Dept, 0.5);
        assert!((dept[0] - (fut / 2.0).sqrt()).abs() < 1e-9, "{dept:?}");
        assert_eq!(dept[0], dept[1]);
        let none = Context {
            monthly: None,
            ..ctx
        };
        assert_eq!(
            factors(&none, &groups, 2, YearlyPool::Dept, 0.5),
            vec![1.0; 2]
        );
    }
}
