//! Monthly unit sales of earlier years (`sales_monthly_d1_d1913.csv`), the long history this
//! project has in place of Kaggle's daily d_1..d_1913.
//!
//! The pooled model uses them for year-over-year seasonality: how the daily sales rate of the
//! months a year before the forecast days compares with the rate a year before the history days.

use crate::data::{Calendar, csv_err, csv_reader, series_key};
use crate::error::{ForecastError, Result};
use std::collections::HashMap;
use std::path::Path;

/// Monthly totals per series, with the number of days each month covers.
#[derive(Debug, Clone, Default)]
pub struct Monthly {
    months: HashMap<String, usize>,
    days_in: Vec<f64>,
    by_series: HashMap<String, Vec<f32>>,
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
        let mut days_in = vec![0.0; cols.len()];
        for d in 1..=last_day.min(calendar.last_day()) {
            if let Some(&k) = calendar.day(d).and_then(|c| months.get(&c.month)) {
                days_in[k] += 1.0;
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
            days_in,
            by_series,
        })
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.by_series.len()
    }

    /// Whether no series was read.
    pub fn is_empty(&self) -> bool {
        self.by_series.is_empty()
    }

    /// Units per day of `series_id` in `month` (`YYYY-MM`), when the file covers it.
    pub fn daily_rate(&self, series_id: &str, month: &str) -> Option<f64> {
        let &k = self.months.get(month)?;
        let days = self.days_in[k];
        let total = *self.by_series.get(series_id)?.get(k)?;
        (days > 0.0).then(|| f64::from(total) / days)
    }
}
