//! The pooled model's year-over-year factor, from the monthly totals of earlier years.
//!
//! For a pool of series (a department across all stores, or one store × department) it is the
//! daily sales rate of the months 364 days (52 weeks, same weekdays) before the forecast days
//! over the rate 364 days before the last (up to) 28 history days, raised to a shrinkage power:
//! `factor = (future / past) ^ shrink`. Only the recent history days are compared, not a
//! multi-year history, whose year-ago months would mix in the trend.
//!
//! Two refinements ([`YearlySpec`]): `years` > 1 averages the log change of the same weeks 2, 3,
//! … years before (one year's change is noisy); `adjust` divides each month's daily rate by its
//! weekday mix (the month's mean of the group's weekday profile: a May with five Saturdays sells
//! more per day than one with four, which says nothing about the next 28 days, always four
//! weeks).
//!
//! Why pool by department and shrink by ½: over the monthly totals of d_1..d_1913, predicting a
//! store × department's month-to-month change by last year's change is *worse* than predicting
//! no change (volume-weighted mean |log error| 0.076 vs 0.063; into June 0.101 vs 0.076), while
//! half of last year's change of the whole department beats both (0.059; into June 0.061).
//! BENCHMARKS.md has the table (`--example backtest` prints it, and [`crate::levelcheck`]
//! scores these predictors at levels 1–9).

use super::Context;
use aisle_m5::SeriesMeta;
use std::collections::HashMap;

/// Which series share one yearly factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearlyPool {
    /// One factor per store × department (noisy: a year-ago month of one store).
    StoreDept,
    /// One factor per department, over the stores the model is shown (one store when fitted
    /// per `sales` partition).
    Dept,
    /// One factor per department over every store of the monthly totals, whichever series the
    /// model is shown: the same factor per partition as for the whole chain.
    DeptAllStores,
}

impl YearlyPool {
    /// The pool key of a series.
    pub fn key(self, m: &SeriesMeta) -> String {
        match self {
            Self::StoreDept => format!("{}|{}", m.store_id, m.dept_id),
            Self::Dept | Self::DeptAllStores => m.dept_id.clone(),
        }
    }
}

/// The department of a series id (`FOODS_3_090_CA_1` → `FOODS_3`).
fn dept_of_id(id: &str) -> Option<&str> {
    let item = id.rsplitn(3, '_').nth(2)?;
    Some(item.rsplit_once('_')?.0)
}

/// How a yearly factor is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YearlySpec {
    /// Which series share one factor.
    pub pool: YearlyPool,
    /// Power of the measured change (1 = as measured, 0 = none).
    pub shrink: f64,
    /// Years averaged (mean log change of the same weeks 1..=`years` years before); 1 = last
    /// year only.
    pub years: usize,
    /// Divide each month's daily rate by its weekday mix under the group's weekday profile.
    pub adjust: bool,
}

impl YearlySpec {
    /// Issue 7's factor: half of last year's department change, unadjusted.
    pub const ISSUE_7: Self = Self {
        pool: YearlyPool::Dept,
        shrink: 0.5,
        years: 1,
        adjust: false,
    };
}

/// The weekday-mix factor of `month` under `profile` (mean 1 over the week): the month's mean
/// of the profile over its days; 1 when the month is unknown.
pub fn composition(monthly: &crate::monthly::Monthly, month: &str, profile: &[f64; 7]) -> f64 {
    monthly.weekday_mix(month).map_or(1.0, |mix| {
        let c: f64 = mix.iter().zip(profile).map(|(m, p)| m * p).sum();
        if c > 0.0 { c } else { 1.0 }
    })
}

/// The factor of each series' store × department group (`groups[s]` in `0..n_groups`, with
/// weekday profiles `profiles[g]`, index `wday - 1`); 1 without monthly totals or where a pool
/// has no year-ago sales.
pub fn factors(
    ctx: &Context<'_>,
    groups: &[usize],
    n_groups: usize,
    spec: &YearlySpec,
    profiles: &[[f64; 7]],
) -> Vec<f64> {
    let Some(monthly) = ctx.monthly else {
        return vec![1.0; n_groups];
    };
    let first = ctx.first_day();
    let recent = (ctx.last_day - 27).max(first);
    let mut pool_of_group = vec![String::new(); n_groups];
    let mut group_of_dept: HashMap<&str, usize> = HashMap::new();
    for (m, &g) in ctx.series.iter().zip(groups) {
        pool_of_group[g] = spec.pool.key(m);
        group_of_dept.entry(m.dept_id.as_str()).or_insert(g);
    }
    const FLAT: [f64; 7] = [1.0; 7];
    // The series whose monthly totals enter the pools: (id, pool, weekday profile).
    let members: Vec<(&str, String, &[f64; 7])> = match spec.pool {
        YearlyPool::DeptAllStores => monthly
            .series_ids()
            .into_iter()
            .filter_map(|id| {
                let dept = dept_of_id(id)?;
                let profile = group_of_dept.get(dept).map_or(&FLAT, |&g| &profiles[g]);
                Some((id, dept.to_string(), profile))
            })
            .collect(),
        _ => ctx
            .series
            .iter()
            .zip(groups)
            .map(|(m, &g)| (m.id.as_str(), pool_of_group[g].clone(), &profiles[g]))
            .collect(),
    };
    // Per pool, the sum of the log changes over the years measured and their count.
    let mut logs: HashMap<String, (f64, f64)> = HashMap::new();
    for y in 1..=spec.years.max(1) as i32 {
        // The days' year-ago months, with how many days fall in each.
        let months_of = |days: &mut dyn Iterator<Item = i32>| {
            let mut n: Vec<(&str, f64)> = Vec::new();
            for d in days {
                let Some(c) = ctx.calendar.day(d - 364 * y) else {
                    continue;
                };
                match n.iter_mut().find(|(m, _)| *m == c.month) {
                    Some(e) => e.1 += 1.0,
                    None => n.push((c.month.as_str(), 1.0)),
                }
            }
            n
        };
        let hist = months_of(&mut (recent..=ctx.last_day));
        let fut = months_of(&mut (1..=ctx.horizon as i32).map(|k| ctx.last_day + k));
        let mut pools: HashMap<&str, (f64, f64)> = HashMap::new();
        for (id, pool, profile) in &members {
            let mean = |months: &[(&str, f64)]| {
                let (mut sum, mut n) = (0.0, 0.0);
                for &(mo, k) in months {
                    let r = monthly.daily_rate(id, mo)?;
                    let c = if spec.adjust {
                        composition(monthly, mo, profile)
                    } else {
                        1.0
                    };
                    sum += k * r / c;
                    n += k;
                }
                (n > 0.0).then(|| sum / n)
            };
            if let (Some(p), Some(f)) = (mean(&hist), mean(&fut)) {
                let acc = pools.entry(pool.as_str()).or_default();
                acc.0 += p;
                acc.1 += f;
            }
        }
        for (k, (p, f)) in pools {
            if p > 0.0 && f > 0.0 {
                let acc = logs.entry(k.to_string()).or_default();
                acc.0 += (f / p).ln();
                acc.1 += 1.0;
            }
        }
    }
    pool_of_group
        .iter()
        .map(|k| match logs.get(k) {
            Some(&(sum, n)) if n > 0.0 => (spec.shrink * sum / n).exp(),
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
        let spec = |pool, shrink| YearlySpec {
            pool,
            shrink,
            ..YearlySpec::ISSUE_7
        };
        let flat = [[1.0; 7]; 2];
        let per = factors(&ctx, &groups, 2, &spec(YearlyPool::StoreDept, 1.0), &flat);
        assert!((per[0] - (2.0 + 26.0 * 2.0) / 28.0).abs() < 1e-9, "{per:?}");
        assert!((per[1] - 1.0).abs() < 1e-9, "{per:?}");
        let dept = factors(&ctx, &groups, 2, &spec(YearlyPool::Dept, 0.5), &flat);
        assert!((dept[0] - (fut / 2.0).sqrt()).abs() < 1e-9, "{dept:?}");
        assert_eq!(dept[0], dept[1]);
        // Shown only CA_1 (one partition): the department pool shrinks to CA_1's own change,
        // the all-stores pool still reads CA_2 from the monthly totals.
        let one = Context {
            series: &series[..1],
            history: &history[..1],
            ..ctx
        };
        let own = factors(&one, &[0], 1, &spec(YearlyPool::Dept, 0.5), &flat[..1]);
        assert!((own[0] - per[0].sqrt()).abs() < 1e-9, "{own:?}");
        let all = factors(
            &one,
            &[0],
            1,
            &spec(YearlyPool::DeptAllStores, 0.5),
            &flat[..1],
        );
        assert!((all[0] - dept[0]).abs() < 1e-9, "{all:?} vs {dept:?}");
        assert_eq!(dept_of_id("FOODS_3_090_CA_1"), Some("FOODS_3"));
        let none = Context {
            monthly: None,
            ..ctx
        };
        assert_eq!(
            factors(&none, &groups, 2, &YearlySpec::ISSUE_7, &flat),
            vec![1.0; 2]
        );
    }

    fn ctx_over<'a>(
        series: &'a [SeriesMeta],
        history: &'a [Vec<f32>],
        last_day: i32,
        cal: &'a Calendar,
        prices: &'a Prices,
        monthly: &'a Monthly,
    ) -> Context<'a> {
        Context {
            series,
            history,
            last_day,
            horizon: 28,
            calendar: cal,
            prices,
            monthly: Some(monthly),
        }
    }

    #[test]
    fn weekday_adjustment_removes_a_change_that_is_only_the_weekday_mix() {
        // Month A = d_1..d_28 (four of each weekday), month B = d_29..d_59 (31 days: one more
        // Saturday, Sunday, Monday). Sales are 20 on Saturdays and 10 on other days all along,
        // so B's raw daily rate is higher only because of its extra Saturday.
        let cal = Calendar::from_days(
            (1..=460)
                .map(|d: usize| CalendarDay {
                    month: match d {
                        1..=28 => "A".to_string(),
                        29..=59 => "B".to_string(),
                        _ => format!("M{}", d / 30),
                    },
                    wday: ((d - 1) % 7) as u8 + 1,
                    ..CalendarDay::default()
                })
                .collect(),
        );
        let series = vec![SeriesMeta::from_ids("A_1_001", "CA_1").unwrap()];
        let row: Vec<f32> = (0..364)
            .map(|t| if t % 7 == 0 { 20.0 } else { 10.0 })
            .collect();
        let panel = SalesPanel {
            series: series.clone(),
            first_day: 1,
            values: vec![row],
        };
        let monthly = Monthly::from_daily(&panel, &cal, 364);
        let history = vec![vec![10.0f32; 28]];
        let prices = Prices::default();
        // History d_365..d_392 (a year after A), horizon d_393..d_420 (a year after B's start).
        let ctx = ctx_over(&series, &history, 392, &cal, &prices, &monthly);
        let profile = [[2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0].map(|v| v * 7.0 / 8.0)];
        let raw = YearlySpec {
            shrink: 1.0,
            ..YearlySpec::ISSUE_7
        };
        let f_raw = factors(&ctx, &[0], 1, &raw, &profile)[0];
        // Raw rates: A = (4·20 + 24·10)/28, B = (5·20 + 26·10)/31.
        let want = ((5.0 * 20.0 + 26.0 * 10.0) / 31.0) / ((4.0 * 20.0 + 24.0 * 10.0) / 28.0);
        assert!(
            (f_raw - want).abs() < 1e-9 && f_raw > 1.0,
            "{f_raw} vs {want}"
        );
        let adjusted = YearlySpec {
            adjust: true,
            ..raw
        };
        let f_adj = factors(&ctx, &[0], 1, &adjusted, &profile)[0];
        assert!((f_adj - 1.0).abs() < 1e-9, "{f_adj}");
    }

    #[test]
    fn two_years_average_their_log_changes() {
        // Months of 28 days, so d − 364 and d − 728 keep month boundaries. Two years before
        // the forecast the rate doubled from the history's weeks to the horizon's, a year
        // before it halved: one year says ½, two years say 1.
        let cal = Calendar::from_days(
            (0..800)
                .map(|i| CalendarDay {
                    month: format!("M{}", i / 28),
                    wday: (i % 7) as u8 + 1,
                    ..CalendarDay::default()
                })
                .collect(),
        );
        let series = vec![SeriesMeta::from_ids("A_1_001", "CA_1").unwrap()];
        let row: Vec<f32> = (1..=728)
            .map(|d| match d {
                29..=56 | 365..=392 => 2.0,
                _ => 1.0,
            })
            .collect();
        let panel = SalesPanel {
            series: series.clone(),
            first_day: 1,
            values: vec![row],
        };
        let monthly = Monthly::from_daily(&panel, &cal, 728);
        let history = vec![vec![1.0f32; 28]];
        let prices = Prices::default();
        let ctx = ctx_over(&series, &history, 756, &cal, &prices, &monthly);
        let flat = [[1.0; 7]];
        let spec = |years| YearlySpec {
            shrink: 1.0,
            years,
            ..YearlySpec::ISSUE_7
        };
        let one = factors(&ctx, &[0], 1, &spec(1), &flat)[0];
        let two = factors(&ctx, &[0], 1, &spec(2), &flat)[0];
        assert!((one - 0.5).abs() < 1e-9, "{one}");
        assert!((two - 1.0).abs() < 1e-9, "{two}");
    }
}
