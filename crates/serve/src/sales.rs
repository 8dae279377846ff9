//! The `sales` and `sales_forecasts` views: units per store per day, the latest forecast per
//! series beside its recent actuals, and a live WRMSSE table.
//!
//! # The live WRMSSE
//! The forecaster writes no scores to a topic (`aisle forecast evaluate` prints its table), and
//! `sales_forecasts` is compacted: only the newest forecast per series survives, and it starts
//! the day after the last day sold. So this view scores as days arrive (a *rolling origin*):
//! when the actual of series *i* for day *d* is read, it is compared with the forecast held for
//! *i* at that moment if that forecast covers *d*. During a live replay that is the forecast made
//! the day before, so the table measures short-horizon accuracy, not the M5 competition's fixed
//! 28-day origin. Per level, RMSSE = sqrt(mean squared error / scale), the scale being the mean
//! squared day-to-day change since the series' first sale (M5's definition, over every day read
//! so far); weights are each series' dollar sales over its last 28 days read. Levels shown: 1
//! (total), 2 (state), 3 (store), from per-store daily sums of the scored series, and 12 (series).
//! The table says how many series and days it rests on.

use aisle_events::{SalesForecast, SalesRecord};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Days of actuals kept per series for the forecast-vs-actual chart.
pub const RECENT_DAYS: usize = 56;
/// Days of dollar sales behind each series' weight (as in M5).
const WEIGHT_DAYS: usize = 28;

/// Mean squared day-to-day change from the first non-zero day on, accumulated in day order.
#[derive(Debug, Default, Clone, Copy)]
struct ScaleAcc {
    last: Option<f64>,
    sum_sq: f64,
    n: u64,
}

impl ScaleAcc {
    fn push(&mut self, x: f64) {
        match self.last {
            None if x > 0.0 => self.last = Some(x),
            None => {}
            Some(prev) => {
                self.sum_sq += (x - prev) * (x - prev);
                self.n += 1;
                self.last = Some(x);
            }
        }
    }
    fn scale(&self) -> Option<f64> {
        (self.n > 0 && self.sum_sq > 0.0).then(|| self.sum_sq / self.n as f64)
    }
}

#[derive(Debug, Default)]
struct Series {
    store_id: String,
    recent: VecDeque<(i32, i32)>,
    dollars: VecDeque<f64>,
    dollars_sum: f64,
    scale: ScaleAcc,
    sse: f64,
    scored: u32,
    last_day: i32,
    forecast: Option<SalesForecast>,
}

/// Per store and day: sums over the scored series of forecast and actual units.
type Scored = BTreeMap<String, BTreeMap<i32, (f64, f64)>>;

/// Everything the `sales` and `sales_forecasts` topics say.
#[derive(Debug, Default)]
pub struct Sales {
    by_store: BTreeMap<String, BTreeMap<i32, i64>>,
    series: HashMap<String, Series>,
    with_forecast: BTreeSet<String>,
    scored: Scored,
    records: u64,
}

impl Sales {
    /// Adds one day of one series (records of a series must come in day order, as on `sales`).
    pub fn apply_sale(&mut self, r: &SalesRecord) {
        self.records += 1;
        let s = self.series.entry(r.key()).or_default();
        if s.store_id.is_empty() {
            s.store_id = r.store_id.clone();
        }
        if r.day <= s.last_day {
            return; // a day already read for this series is not counted twice
        }
        s.last_day = r.day;
        *self
            .by_store
            .entry(r.store_id.clone())
            .or_default()
            .entry(r.day)
            .or_default() += i64::from(r.sold);
        let sold = f64::from(r.sold);
        if let Some(f) = &s.forecast
            && let Some(k) = usize::try_from(r.day - f.first_day).ok()
            && let Some(&fc) = f.forecast.get(k)
        {
            let e = f64::from(fc) - sold;
            s.sse += e * e;
            s.scored += 1;
            let cell = self
                .scored
                .entry(s.store_id.clone())
                .or_default()
                .entry(r.day)
                .or_default();
            cell.0 += f64::from(fc);
            cell.1 += sold;
        }
        s.scale.push(sold);
        s.recent.push_back((r.day, r.sold));
        if s.recent.len() > RECENT_DAYS {
            s.recent.pop_front();
        }
        let dollars = sold * f64::from(r.sell_price.unwrap_or(0.0));
        s.dollars.push_back(dollars);
        s.dollars_sum += dollars;
        if s.dollars.len() > WEIGHT_DAYS {
            s.dollars_sum -= s.dollars.pop_front().unwrap_or(0.0);
        }
    }

    /// Holds the newest forecast of its series.
    pub fn apply_forecast(&mut self, f: SalesForecast) {
        self.with_forecast.insert(f.id.clone());
        let s = self.series.entry(f.id.clone()).or_default();
        if s.store_id.is_empty() {
            s.store_id = f.store_id.clone();
        }
        s.forecast = Some(f);
    }

    /// A tombstone on `sales_forecasts`.
    pub fn delete_forecast(&mut self, id: &str) {
        self.with_forecast.remove(id);
        if let Some(s) = self.series.get_mut(id) {
            s.forecast = None;
        }
    }

    /// Number of series with a forecast.
    pub fn forecast_count(&self) -> usize {
        self.with_forecast.len()
    }

    /// `{"last_day", "stores": [{"store_id", "points": [{"day", "units"}]}]}` for the last
    /// `last` days sold.
    pub fn sales_json(&self, last: usize) -> serde_json::Value {
        let last_day = self
            .by_store
            .values()
            .filter_map(|d| d.keys().next_back())
            .max()
            .copied();
        let from = last_day.map_or(0, |d| d - i32::try_from(last).unwrap_or(i32::MAX) + 1);
        let stores: Vec<_> = self
            .by_store
            .iter()
            .map(|(store, days)| {
                let points: Vec<_> = days
                    .range(from..)
                    .map(|(d, u)| serde_json::json!({"day": d, "units": u}))
                    .collect();
                serde_json::json!({"store_id": store, "points": points})
            })
            .collect();
        let mut out = serde_json::json!({"records": self.records, "stores": stores});
        if let Some(d) = last_day {
            out["last_day"] = d.into();
        }
        out
    }

    /// Series ids with a forecast starting with `prefix`, at most `limit`.
    pub fn forecast_list_json(&self, prefix: &str, limit: usize) -> serde_json::Value {
        let series: Vec<&String> = self
            .with_forecast
            .range(prefix.to_string()..)
            .take_while(|id| id.starts_with(prefix))
            .take(limit)
            .collect();
        serde_json::json!({"count": self.with_forecast.len(), "series": series})
    }

    /// The forecast of one series beside its recent actuals; `None` if the series is unknown.
    pub fn series_json(&self, id: &str) -> Option<serde_json::Value> {
        let s = self.series.get(id)?;
        let actual: Vec<_> = s
            .recent
            .iter()
            .map(|(d, u)| serde_json::json!({"day": d, "sold": u}))
            .collect();
        let mut out = serde_json::json!({"series": id, "store_id": s.store_id, "actual": actual});
        if let Some(f) = &s.forecast {
            out["forecast"] = forecast_json(f);
        }
        if let (Some(scale), true) = (s.scale.scale(), s.scored > 0) {
            out["rmsse"] = ((s.sse / f64::from(s.scored)) / scale).sqrt().into();
            out["scored_days"] = s.scored.into();
        }
        Some(out)
    }

    /// The live WRMSSE table (see the module docs).
    pub fn scores_json(&self) -> serde_json::Value {
        let mut store_weight: BTreeMap<&str, f64> = BTreeMap::new();
        let (mut num, mut den, mut n12) = (0.0, 0.0, 0u64);
        for s in self.series.values() {
            *store_weight.entry(&s.store_id).or_default() += s.dollars_sum;
            if let (Some(scale), true) = (s.scale.scale(), s.scored > 0) {
                let rmsse = ((s.sse / f64::from(s.scored)) / scale).sqrt();
                num += s.dollars_sum * rmsse;
                den += s.dollars_sum;
                n12 += 1;
            }
        }
        let days: BTreeSet<i32> = self
            .scored
            .values()
            .flat_map(|d| d.keys())
            .copied()
            .collect();
        let mut levels = Vec::new();
        let groups = |level: u8| -> BTreeMap<String, Vec<&str>> {
            let mut g: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for store in self.scored.keys() {
                let name = match level {
                    1 => "Total".to_string(),
                    2 => store.split('_').next().unwrap_or(store).to_string(),
                    _ => store.clone(),
                };
                g.entry(name).or_default().push(store);
            }
            g
        };
        for (level, label) in [(1u8, "total"), (2, "state"), (3, "store")] {
            let (mut lnum, mut lden) = (0.0, 0.0);
            let groups = groups(level);
            for stores in groups.values() {
                let w: f64 = stores
                    .iter()
                    .map(|s| store_weight.get(s).copied().unwrap_or(0.0))
                    .sum();
                if let Some(r) = self.group_rmsse(stores) {
                    lnum += w * r;
                    lden += w;
                }
            }
            levels.push(Level {
                level,
                label,
                series: groups.len() as u64,
                wrmsse: (lden > 0.0).then(|| lnum / lden),
            });
        }
        levels.push(Level {
            level: 12,
            label: "item x store",
            series: n12,
            wrmsse: (den > 0.0).then(|| num / den),
        });
        let scored: Vec<f64> = levels.iter().filter_map(|l| l.wrmsse).collect();
        let mut out = serde_json::json!({
            "method": "rolling origin: each day's actual against the newest forecast read before it",
            "scored_days": days.len(),
            "levels": levels,
        });
        if !scored.is_empty() {
            out["mean"] = (scored.iter().sum::<f64>() / scored.len() as f64).into();
        }
        out
    }

    /// RMSSE of the sum of `stores`, over the scored days, scaled by the stores' total sales.
    fn group_rmsse(&self, stores: &[&str]) -> Option<f64> {
        let mut errs: BTreeMap<i32, (f64, f64)> = BTreeMap::new();
        let mut totals: BTreeMap<i32, f64> = BTreeMap::new();
        for store in stores {
            for (d, (f, a)) in self.scored.get(*store)? {
                let e = errs.entry(*d).or_default();
                e.0 += f;
                e.1 += a;
            }
            for (d, u) in self.by_store.get(*store)? {
                *totals.entry(*d).or_default() += *u as f64;
            }
        }
        let mut acc = ScaleAcc::default();
        totals.values().for_each(|x| acc.push(*x));
        let mse = errs.values().map(|(f, a)| (f - a) * (f - a)).sum::<f64>() / errs.len() as f64;
        Some((mse / acc.scale()?).sqrt())
    }
}

/// One row of the WRMSSE table.
#[derive(Debug, Serialize)]
struct Level {
    level: u8,
    label: &'static str,
    series: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrmsse: Option<f64>,
}

/// A `SalesForecast` as JSON with its `f32`s written as their shortest decimal (`0.975`, not
/// `0.9750000238418579` as widening to `f64` gives).
fn forecast_json(f: &SalesForecast) -> serde_json::Value {
    let short = |v: f32| -> serde_json::Value {
        v.to_string()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)
    };
    let days = |v: &[f32]| -> serde_json::Value { v.iter().map(|&x| short(x)).collect() };
    let mut out = serde_json::to_value(f).unwrap_or_default();
    out["forecast"] = days(&f.forecast);
    out["quantiles"] = f
        .quantiles
        .iter()
        .map(|q| serde_json::json!({"q": short(q.q), "values": days(&q.values)}))
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(item: &str, store: &str, day: i32, sold: i32) -> SalesRecord {
        SalesRecord {
            item_id: item.into(),
            dept_id: "FOODS_3".into(),
            cat_id: "FOODS".into(),
            store_id: store.into(),
            state_id: store[..2].into(),
            day,
            sold,
            sell_price: Some(2.0),
        }
    }

    fn forecast(item: &str, store: &str, first_day: i32, values: Vec<f32>) -> SalesForecast {
        SalesForecast {
            id: format!("{item}_{store}"),
            item_id: item.into(),
            store_id: store.into(),
            first_day,
            forecast: values,
            model: "test".into(),
            generated_at: 0,
            quantiles: vec![],
        }
    }

    #[test]
    fn store_totals_and_recent_actuals() {
        let mut s = Sales::default();
        for d in 1..=100 {
            s.apply_sale(&sale("FOODS_3_001", "CA_1", d, d % 3));
            s.apply_sale(&sale("FOODS_3_002", "CA_1", d, 1));
        }
        let j = s.sales_json(10);
        let pts = j["stores"][0]["points"].as_array().unwrap();
        assert_eq!(pts.len(), 10);
        assert_eq!(pts[9], serde_json::json!({"day": 100, "units": 1 + 1}));
        assert_eq!(j["last_day"], 100);
        let series = s.series_json("FOODS_3_001_CA_1").unwrap();
        assert_eq!(series["actual"].as_array().unwrap().len(), RECENT_DAYS);
        assert!(series.get("forecast").is_none());
        assert!(s.series_json("NOPE").is_none());
    }

    #[test]
    fn live_wrmsse_scores_actuals_against_the_held_forecast() {
        let mut s = Sales::default();
        // History alternating 0, 2: scale = mean of 2² = 4 (from the first non-zero day).
        for d in 1..=20 {
            s.apply_sale(&sale(
                "FOODS_3_001",
                "CA_1",
                d,
                if d % 2 == 0 { 2 } else { 0 },
            ));
        }
        s.apply_forecast(forecast("FOODS_3_001", "CA_1", 21, vec![3.0, 3.0]));
        assert_eq!(s.forecast_count(), 1);
        // Before any actual of the forecast days, nothing is scored.
        assert!(s.scores_json()["levels"][3].get("wrmsse").is_none());
        s.apply_sale(&sale("FOODS_3_001", "CA_1", 21, 1)); // error 2
        s.apply_sale(&sale("FOODS_3_001", "CA_1", 22, 5)); // error -2
        let j = s.series_json("FOODS_3_001_CA_1").unwrap();
        assert_eq!(j["scored_days"], 2);
        // MSE 4 over a scale that now includes days 21, 22: diffs 2²×18 + 1 + 4²  over 20.
        let scale = (4.0 * 18.0 + 1.0 + 16.0) / 20.0;
        let want = (4.0f64 / scale).sqrt();
        assert!((j["rmsse"].as_f64().unwrap() - want).abs() < 1e-9, "{j}");
        let t = s.scores_json();
        assert_eq!(t["scored_days"], 2);
        let l12 = &t["levels"][3];
        assert_eq!(
            (l12["level"].as_u64(), l12["series"].as_u64()),
            (Some(12), Some(1))
        );
        assert!((l12["wrmsse"].as_f64().unwrap() - want).abs() < 1e-9);
        // One series: the store, state and total levels are the same sum.
        assert!((t["levels"][0]["wrmsse"].as_f64().unwrap() - want).abs() < 1e-9);
        assert_eq!(
            s.forecast_list_json("FOODS", 10)["series"][0],
            "FOODS_3_001_CA_1"
        );
        s.delete_forecast("FOODS_3_001_CA_1");
        assert_eq!(s.forecast_count(), 0);
    }

    #[test]
    fn series_json_carries_the_quantile_band() {
        let mut s = Sales::default();
        s.apply_sale(&sale("FOODS_3_001", "CA_1", 1, 2));
        let mut f = forecast("FOODS_3_001", "CA_1", 2, vec![1.0, 2.0]);
        f.quantiles = SalesForecast::M5_QUANTILES
            .iter()
            .map(|&q| aisle_events::types::ForecastQuantile {
                q,
                values: vec![q * 4.0, q * 8.0],
            })
            .collect();
        s.apply_forecast(f);
        let j = s.series_json("FOODS_3_001_CA_1").unwrap();
        let q = j["forecast"]["quantiles"].as_array().unwrap();
        assert_eq!(q.len(), 9);
        assert_eq!(q[7]["q"], 0.975);
        assert_eq!(q[7]["values"][1].as_f64().unwrap() as f32, 0.975 * 8.0);
        assert_eq!(q[0]["values"], serde_json::json!([0.02, 0.04]));
        // A v1 forecast (no quantiles) shows an empty list, not a missing field.
        s.apply_forecast(forecast("FOODS_3_001", "CA_1", 2, vec![1.0, 2.0]));
        let j = s.series_json("FOODS_3_001_CA_1").unwrap();
        assert_eq!(j["forecast"]["quantiles"], serde_json::json!([]));
    }
}
