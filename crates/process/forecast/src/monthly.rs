//! Monthly unit sales of earlier years (`sales_monthly_d1_d1913.csv`), the long history this
//! project has in place of Kaggle's daily d_1..d_1913.
//!
//! The pooled model uses them for year-over-year seasonality: how the daily sales rate of the
//! months a year before the forecast days compares with the rate a year before the history days.

use crate::data::{csv_err, csv_reader};
use crate::error::{ForecastError, Result};
use aisle_m5::{Calendar, SalesPanel, series_key};
use std::collections::HashMap;
use std::path::Path;

/// Monthly totals per series, with the number of days each month covers.
#[derive(Debug, Clone, Default)]
pub struct Monthly {
    months: HashMap<String, usize>,
    /// Days of each weekday (`wday - 1`, 0 = Saturday) each month covers.
    wdays_in: Vec<[f64; 7]>,
    by_series: HashMap<String, Vec<f32>>,
}

fn wday_index(c: &aisle_m5::CalendarDay) -> usize {
    usize::from(c.wday.clamp(1, 7)) - 1
}

impl Monthly {
    /// Reads the monthly file (`id,item_id,..,state_id,YYYY-MM...`). The days each month covers
    /// are counted from `calendar` up to `last_day` (d_1913 for the M5 file: its first and last
    /// months are partial).
    pub fn read(path: &Path, calendar: &Calendar, last_day: i32) -> Result<Self> {
        let mut rdr = csv_reader(path)?;
        let err = csv_err(path);
        let headers = rdr.headers().map_err(&err)?.clone();
        let cols: Vec<(usize, String)> = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.len() == 7 && h.as_bytes()[4] == b'-')
            .map(|(i, h)| (i, h.to_string()))
            .collect();
        if cols.is_empty() {
            return Err(ForecastError::bad(path, "no YYYY-MM columns"));
        }
        let months: HashMap<String, usize> = cols
            .iter()
            .enumerate()
            .map(|(k, (_, m))| (m.clone(), k))
            .collect();
        let mut wdays_in = vec![[0.0; 7]; cols.len()];
        for d in 1..=last_day.min(calendar.last_day()) {
            if let Some(c) = calendar.day(d)
                && let Some(&k) = months.get(&c.month)
            {
                wdays_in[k][wday_index(c)] += 1.0;
            }
        }
        let mut by_series = HashMap::new();
        for rec in rdr.records() {
            let rec = rec.map_err(&err)?;
            let line = rec.position().map_or(0, |p| p.line());
            let row = cols
                .iter()
                .map(|(i, m)| {
                    rec.get(*i)
                        .and_then(|v| v.trim().parse::<f32>().ok())
                        .ok_or_else(|| {
                            ForecastError::bad(path, format!("line {line}: bad value for {m}"))
                        })
                })
                .collect::<Result<Vec<f32>>>()?;
            by_series.insert(series_key(&rec[0]).to_string(), row);
        }
        Ok(Self {
            months,
            wdays_in,
            by_series,
        })
    }

    /// Monthly totals of a daily panel over its days up to `last_day` (the months are those of
    /// `calendar`; a month partly after `last_day` counts only its days up to it, like the M5
    /// file's April 2016). Rolling backtests rebuild the file this way for any cut-off.
    pub fn from_daily(panel: &SalesPanel, calendar: &Calendar, last_day: i32) -> Self {
        let mut months: HashMap<String, usize> = HashMap::new();
        let mut month_of_day = Vec::new();
        let mut wdays_in: Vec<[f64; 7]> = Vec::new();
        for d in panel.first_day..=last_day.min(panel.last_day()) {
            let k = calendar.day(d).map(|c| {
                let n = months.len();
                (*months.entry(c.month.clone()).or_insert(n), wday_index(c))
            });
            if let Some((k, w)) = k {
                wdays_in.resize(months.len(), [0.0; 7]);
                wdays_in[k][w] += 1.0;
            }
            let k = k.map(|(k, _)| k);
            month_of_day.push(k);
        }
        let by_series = panel
            .series
            .iter()
            .zip(&panel.values)
            .map(|(m, row)| {
                let mut tot = vec![0.0f32; months.len()];
                for (v, k) in row.iter().zip(&month_of_day) {
                    if let Some(k) = k {
                        tot[*k] += v;
                    }
                }
                (m.id.clone(), tot)
            })
            .collect();
        Self {
            months,
            wdays_in,
            by_series,
        }
    }

    /// Monthly totals of aggregates: each `(new id, member ids)` sums its members (missing
    /// members count 0). Month coverage is this one's.
    pub fn aggregated(&self, groups: &[(String, Vec<String>)]) -> Self {
        let n = self.wdays_in.len();
        let by_series = groups
            .iter()
            .map(|(id, members)| {
                let mut tot = vec![0.0f32; n];
                for row in members.iter().filter_map(|m| self.by_series.get(m)) {
                    tot.iter_mut().zip(row).for_each(|(t, v)| *t += v);
                }
                (id.clone(), tot)
            })
            .collect();
        Self {
            months: self.months.clone(),
            wdays_in: self.wdays_in.clone(),
            by_series,
        }
    }

    /// The months covered, `YYYY-MM`, in calendar order.
    pub fn months(&self) -> Vec<String> {
        let mut m: Vec<(usize, String)> =
            self.months.iter().map(|(k, &i)| (i, k.clone())).collect();
        m.sort();
        m.into_iter().map(|(_, k)| k).collect()
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.by_series.len()
    }

    /// Whether no series was read.
    pub fn is_empty(&self) -> bool {
        self.by_series.is_empty()
    }

    /// Ids of every series the totals hold, sorted.
    pub fn series_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.by_series.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// The share of each weekday (index `wday - 1`, 0 = Saturday) among the days `month` covers.
    pub fn weekday_mix(&self, month: &str) -> Option<[f64; 7]> {
        let &k = self.months.get(month)?;
        let days = self.days_in(k);
        (days > 0.0).then(|| self.wdays_in[k].map(|n| n / days))
    }

    /// Days month `k` covers.
    fn days_in(&self, k: usize) -> f64 {
        self.wdays_in[k].iter().sum()
    }

    /// Units per day of `series_id` in `month` (`YYYY-MM`), when the file covers it.
    pub fn daily_rate(&self, series_id: &str, month: &str) -> Option<f64> {
        let &k = self.months.get(month)?;
        let days = self.days_in(k);
        let total = *self.by_series.get(series_id)?.get(k)?;
        (days > 0.0).then(|| f64::from(total) / days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_m5::{CalendarDay, SeriesMeta};

    #[test]
    fn from_daily_counts_only_days_up_to_the_cut_off() {
        // Days 1-3 in 2011-01, 4-6 in 2011-02.
        let cal = Calendar::from_days(
            (0..6)
                .map(|i| CalendarDay {
                    month: if i < 3 { "2011-01" } else { "2011-02" }.into(),
                    ..CalendarDay::default()
                })
                .collect(),
        );
        let panel = SalesPanel {
            series: vec![SeriesMeta::from_ids("A_1_001", "CA_1").unwrap()],
            first_day: 1,
            values: vec![vec![1.0, 2.0, 3.0, 4.0, 8.0, 100.0]],
        };
        let m = Monthly::from_daily(&panel, &cal, 5);
        assert_eq!(m.daily_rate("A_1_001_CA_1", "2011-01"), Some(2.0));
        assert_eq!(m.daily_rate("A_1_001_CA_1", "2011-02"), Some(6.0));
        assert_eq!(m.daily_rate("A_1_001_CA_1", "2011-03"), None);
        // Days 1-3 have wday 1 (Saturday), the default; 4-5 too.
        assert_eq!(m.weekday_mix("2011-02").map(|w| w[0]), Some(1.0));
        assert_eq!(m.series_ids(), ["A_1_001_CA_1"]);
        assert_eq!(
            Monthly::from_daily(&panel, &cal, 3).daily_rate("A_1_001_CA_1", "2011-02"),
            None
        );
    }
}
