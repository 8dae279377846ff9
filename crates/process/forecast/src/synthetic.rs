//! M5-shaped synthetic daily sales with a known structure, for cost measurements and tests
//! of the full-history models (`examples/gbdt_cost.rs`); never mistaken for real data (ids are
//! M5's, values are not).
//!
//! Shape: M5's hierarchy (10 stores in CA/TX/WI, 7 departments in 3 categories, 3,049 items at
//! `scale` 1.0, so 30,490 series), a calendar from d_1 = 2011-01-29 with M5's weekday
//! numbering, monthly SNAP days per state and yearly events (Christmas closes the stores), and
//! weekly prices with occasional discounts. Demand is negative binomial (Poisson with a Gamma
//! mixed rate, shape 0.3..2.3, so most series are intermittent) around
//! `level × weekday profile × yearly season × trend × SNAP × event × price effect`; about a
//! third of the items launch later than d_1 (zero sales and no price before).

use aisle_m5::calendar::{date_ms, date_of_day};
use aisle_m5::{Calendar, CalendarDay, Prices, SalesPanel, SeriesMeta};
use rayon::prelude::*;

/// M5's departments and their item counts.
pub const DEPARTMENTS: [(&str, usize); 7] = [
    ("HOBBIES_1", 416),
    ("HOBBIES_2", 149),
    ("HOUSEHOLD_1", 532),
    ("HOUSEHOLD_2", 515),
    ("FOODS_1", 216),
    ("FOODS_2", 398),
    ("FOODS_3", 823),
];

/// M5's stores.
pub const STORES: [&str; 10] = [
    "CA_1", "CA_2", "CA_3", "CA_4", "TX_1", "TX_2", "TX_3", "WI_1", "WI_2", "WI_3",
];

/// One series' daily units and its (week, price) rows.
type SeriesRows = (Vec<f32>, Vec<(u32, f32)>);

/// A synthetic data set.
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Daily sales d_1..d_days.
    pub sales: SalesPanel,
    /// Calendar d_1..d_(days + horizon).
    pub calendar: Calendar,
    /// Weekly prices through the calendar's end.
    pub prices: Prices,
}

/// A small, fast PRNG (xorshift64*), so the data needs no extra dependency.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    /// Gamma(shape, 1) by Marsaglia–Tsang.
    fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.unit().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v > 0.0 && self.unit().ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
    fn poisson(&mut self, lambda: f64) -> f64 {
        if lambda <= 0.0 {
            return 0.0;
        }
        if lambda > 30.0 {
            return (lambda + lambda.sqrt() * self.normal()).round().max(0.0);
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0.0, 1.0);
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1.0;
        }
    }
}

/// Event of a date: Christmas (stores closed), and a few holidays that lift sales.
fn event(month: u32, day: u32) -> Option<(&'static str, f64)> {
    match (month, day) {
        (12, 25) => Some(("Christmas", 0.0)),
        (1, 1) => Some(("NewYear", 0.8)),
        (2, 7) => Some(("SuperBowl", 1.15)),
        (7, 4) => Some(("IndependenceDay", 1.1)),
        (10, 31) => Some(("Halloween", 1.1)),
        (11, 24) => Some(("Thanksgiving", 0.7)),
        _ => None,
    }
}

/// SNAP days of month per state (CA 1-10; TX and WI spread over the first half).
fn snap(state: usize, day: u32) -> bool {
    match state {
        0 => day <= 10,
        1 => matches!(day, 1 | 3 | 5 | 6 | 7 | 9 | 11 | 12 | 15),
        _ => matches!(day, 2 | 3 | 5 | 6 | 8 | 9 | 11 | 12 | 14 | 15),
    }
}

/// The calendar of d_1..=d_days.
pub fn calendar(days: usize) -> Calendar {
    Calendar::from_days(
        (1..=days as i32)
            .map(|d| {
                let (y, m, md) = date_of_day(d);
                let ev = event(m, md);
                CalendarDay {
                    date_ms: date_ms(d as u32),
                    wm_yr_wk: ((d - 1) / 7) as u32 + 11_101,
                    wday: ((d - 1) % 7) as u8 + 1,
                    event: ev.is_some(),
                    event_name: ev.map_or(String::new(), |e| e.0.to_string()),
                    snap: [snap(0, md), snap(1, md), snap(2, md)],
                    month: format!("{y}-{m:02}"),
                }
            })
            .collect(),
    )
}

impl Synthetic {
    /// `scale` × M5's items per department (at least one each) in all 10 stores, `days` days of
    /// sales and `horizon` more calendar and price days.
    pub fn generate(scale: f64, days: usize, horizon: usize, seed: u64) -> Self {
        let cal = calendar(days + horizon);
        let mut items = Vec::new();
        for (dept, n) in DEPARTMENTS {
            let n = ((n as f64 * scale).round() as usize).max(1);
            items.extend((1..=n).map(|i| format!("{dept}_{i:03}")));
        }
        let series: Vec<SeriesMeta> = STORES
            .iter()
            .flat_map(|st| items.iter().map(move |it| (it.clone(), *st)))
            .filter_map(|(it, st)| SeriesMeta::from_ids(&it, st))
            .collect();
        let total = days + horizon;
        let rows: Vec<SeriesRows> = series
            .par_iter()
            .enumerate()
            .map(|(s, m)| {
                // Item-level draws shared by its stores, store-level noise on top.
                let item_seed = m.item_id.bytes().fold(seed ^ 0xA15E, |h, b| {
                    h.rotate_left(5) ^ u64::from(b).wrapping_mul(0x100_0000_01B3)
                });
                let mut ir = Rng::new(item_seed);
                let mut r = Rng::new(seed ^ (s as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
                let food = m.cat_id == "FOODS";
                let level = (ir.normal() * 1.0 - 0.6).exp() * (r.normal() * 0.3).exp();
                let shape = 0.3 + 2.0 * ir.unit();
                let weekend = if food { 1.35 } else { 1.2 } * (1.0 + 0.1 * ir.normal());
                let season_amp = 0.15 * ir.unit();
                let season_phase = ir.unit() * std::f64::consts::TAU;
                let trend = 0.0003 * ir.normal();
                let launch = if ir.unit() < 0.35 {
                    (ir.unit() * (days as f64 * 0.8)) as usize
                } else {
                    0
                };
                let base_price = (ir.normal() * 0.8 + 1.2).exp() + 0.5;
                let state = match m.state_id.as_str() {
                    "CA" => 0,
                    "TX" => 1,
                    _ => 2,
                };
                let mut prices = Vec::new();
                let mut units = Vec::with_capacity(days);
                let mut price = base_price;
                for i in 0..total {
                    let d = i as i32 + 1;
                    if i % 7 == 0 {
                        price = if r.unit() < 0.08 {
                            base_price * 0.8
                        } else {
                            base_price
                        };
                        if i >= launch.saturating_sub(launch % 7) {
                            prices.push((((d - 1) / 7) as u32 + 11_101, price as f32));
                        }
                    }
                    if i >= days {
                        continue;
                    }
                    if i < launch {
                        units.push(0.0);
                        continue;
                    }
                    let (_, month, md) = date_of_day(d);
                    let wd = (i % 7) as u8 + 1; // 1 Sat, 2 Sun
                    let week = if wd <= 2 {
                        weekend
                    } else if wd == 3 {
                        1.05
                    } else {
                        0.9
                    };
                    let year = 1.0
                        + season_amp
                            * (std::f64::consts::TAU * i as f64 / 365.25 + season_phase).sin();
                    let snap = if food && snap(state, md) { 1.12 } else { 1.0 };
                    let ev = event(month, md).map_or(1.0, |e| e.1);
                    let mu = level
                        * week
                        * year
                        * (trend * (i - launch) as f64).exp().min(3.0)
                        * snap
                        * ev
                        * (price / base_price).powf(-2.0);
                    let lambda = mu * r.gamma(shape) / shape;
                    units.push(r.poisson(lambda) as f32);
                }
                (units, prices)
            })
            .collect();
        let mut prices = Prices::default();
        let mut values = Vec::with_capacity(rows.len());
        for (m, (u, p)) in series.iter().zip(rows) {
            for (wk, price) in p {
                prices.insert(&m.id, wk, price);
            }
            values.push(u);
        }
        Self {
            sales: SalesPanel {
                series,
                first_day: 1,
                values,
            },
            calendar: cal,
            prices,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_m5_like() {
        let s = Synthetic::generate(0.01, 400, 28, 1);
        assert_eq!(s.sales.series.len(), 290); // 4+1+5+5+2+4+8 items at 1 %, 10 stores
        assert_eq!(s.sales.days(), 400);
        assert_eq!(s.calendar.last_day(), 428);
        assert_eq!(s.calendar.day(1).map(|c| c.wday), Some(1)); // d_1 is a Saturday
        let zeros = s
            .sales
            .values
            .iter()
            .flatten()
            .filter(|&&v| v == 0.0)
            .count();
        let share = zeros as f64 / (s.sales.series.len() * 400) as f64;
        assert!((0.3..0.95).contains(&share), "zero share {share}");
        // Christmas 2011 (d_331) closes every store.
        assert_eq!(date_of_day(331), (2011, 12, 25));
        assert!(s.sales.values.iter().all(|r| r[330] == 0.0));
        let m = &s.sales.series[0];
        assert!(s.prices.on_day(&s.calendar, &m.id, 420).is_some());
    }
}
