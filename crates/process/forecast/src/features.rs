//! Feature rows for the full-history GBDT ([`crate::models::gbdt`]): one row per (series,
//! origin, horizon), the way the M5 winners fed LightGBM, but *direct*: every feature is known
//! at the forecast origin `o` (the last day with sales), and the row's target is the sale on
//! `t = o + h`, `h = 1..=horizon`. One model serves all 28 horizons (`h` is a feature), nothing
//! is fed back, so errors do not compound and a forecast is one prediction pass.
//!
//! Features ([`NAMES`], in column order):
//! * horizon and target-day calendar: `h`, weekday, month, day of month, event (any and which
//!   one, as a code), SNAP in the series' state;
//! * price on the target day, relative to the mean price of the year before the origin, and
//!   relative to the price on the origin;
//! * hierarchy codes (item, department, category, store, state; sorted-name order);
//! * demand up to the origin: the last day, means of the last 7/14/28/56/112/364 days, the
//!   target weekday's mean over the last 4 and 12 weeks and its ratio to the 84-day mean,
//!   last year's sale around the target day (`t - 364`, and the week centred on it), last
//!   year's growth from the 28 days before the origin to the 28 after, the share of zero days
//!   and the standard deviation of the last 28 days, days since the last sale and since the
//!   first one.
//!
//! Windows are clipped to the days since the series' first sale (M5's convention for scales);
//! a feature with no days is `NaN` (missing, which both tree learners split on).
//! Training rows come from origins every `step` days back from `last - horizon` (a multiple of
//! 7, so the training origins fall on the forecast origin's weekday), optionally subsampled to
//! `max_rows` with a fixed hash of (series, origin, horizon) so runs are reproducible.

use crate::models::Context;
use aisle_m5::calendar::date_of_day;
use rayon::prelude::*;
use std::collections::BTreeSet;

/// Column names, in order.
pub const NAMES: [&str; 36] = [
    "h",
    "wday",
    "month",
    "mday",
    "event",
    "event_code",
    "snap",
    "price",
    "price_rel_year",
    "price_rel_origin",
    "item",
    "dept",
    "cat",
    "store",
    "state",
    "last",
    "mean7",
    "mean14",
    "mean28",
    "mean56",
    "mean112",
    "mean364",
    "wday_mean4",
    "wday_mean12",
    "wday_ratio",
    "lag364",
    "ly_week",
    "ly_next28",
    "ly_prev28",
    "ly_growth",
    "zero_share28",
    "std28",
    "since_sale",
    "age",
    "trend28_112",
    "origin_wday",
];

/// Number of columns.
pub const COLS: usize = NAMES.len();

/// A dense feature matrix, column-major (`data[col * rows + row]`), as the learners take it.
#[derive(Debug, Clone, Default)]
pub struct FeatureMatrix {
    /// Rows.
    pub rows: usize,
    /// Columns ([`COLS`]).
    pub cols: usize,
    /// Values, column after column.
    pub data: Vec<f64>,
}

impl FeatureMatrix {
    /// Transposes row-major chunks of `cols` values a row into one column-major matrix.
    fn from_row_chunks(chunks: &[Vec<f32>], cols: usize) -> Self {
        let rows: usize = chunks.iter().map(|c| c.len() / cols).sum();
        let mut data = vec![0.0f64; rows * cols];
        data.par_chunks_mut(rows.max(1))
            .enumerate()
            .for_each(|(c, column)| {
                let mut r = 0;
                for chunk in chunks {
                    for row in chunk.chunks_exact(cols) {
                        column[r] = f64::from(row[c]);
                        r += 1;
                    }
                }
            });
        Self { rows, cols, data }
    }

    /// One value.
    pub fn get(&self, row: usize, col: usize) -> f64 {
        self.data[col * self.rows + row]
    }
}

/// Training rows and their targets.
#[derive(Debug, Clone, Default)]
pub struct TrainSet {
    /// Features.
    pub x: FeatureMatrix,
    /// Sales on the target days.
    pub y: Vec<f64>,
    /// Candidate rows before subsampling.
    pub candidates: usize,
}

/// Which training rows to build.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainRows {
    /// Days between training origins (a multiple of 7 keeps them on the forecast weekday).
    pub step: usize,
    /// Origins no older than this many days before the last day (`None`: all).
    pub window: Option<usize>,
    /// Training origins need this many days of history before them.
    pub min_history: usize,
    /// Keep at most about this many rows (uniform subsample by hash).
    pub max_rows: usize,
    /// Seed of the subsample.
    pub seed: u64,
}

impl Default for TrainRows {
    fn default() -> Self {
        Self {
            step: 7,
            window: None,
            min_history: 28,
            max_rows: 3_000_000,
            seed: 0,
        }
    }
}

/// Codes that do not depend on the day: hierarchy ids and the calendar's event names.
#[derive(Debug, Clone)]
pub struct Features {
    /// Per series: item, dept, cat, store, state codes.
    codes: Vec<[f32; 5]>,
    /// Sorted event names; code = index + 1.
    events: Vec<String>,
}

fn code_of<'a>(values: impl Iterator<Item = &'a str> + Clone) -> impl Fn(&str) -> f32 {
    let sorted: Vec<&str> = values.collect::<BTreeSet<_>>().into_iter().collect();
    let owned: Vec<String> = sorted.iter().map(|s| s.to_string()).collect();
    move |v: &str| {
        owned
            .binary_search_by(|x| x.as_str().cmp(v))
            .map_or(-1.0, |i| i as f32)
    }
}

impl Features {
    /// Codes for the series and calendar of `ctx`.
    pub fn new(ctx: &Context<'_>) -> Self {
        let s = ctx.series;
        let item = code_of(s.iter().map(|m| m.item_id.as_str()));
        let dept = code_of(s.iter().map(|m| m.dept_id.as_str()));
        let cat = code_of(s.iter().map(|m| m.cat_id.as_str()));
        let store = code_of(s.iter().map(|m| m.store_id.as_str()));
        let state = code_of(s.iter().map(|m| m.state_id.as_str()));
        let codes = s
            .iter()
            .map(|m| {
                [
                    item(&m.item_id),
                    dept(&m.dept_id),
                    cat(&m.cat_id),
                    store(&m.store_id),
                    state(&m.state_id),
                ]
            })
            .collect();
        let events: BTreeSet<String> = (1..=ctx.calendar.last_day())
            .filter_map(|d| ctx.calendar.day(d))
            .filter(|c| !c.event_name.is_empty())
            .map(|c| c.event_name.clone())
            .collect();
        Self {
            codes,
            events: events.into_iter().collect(),
        }
    }

    /// Training origins of `ctx` (oldest first).
    pub fn origins(ctx: &Context<'_>, rows: &TrainRows) -> Vec<i32> {
        let first = ctx.first_day() + rows.min_history as i32;
        let oldest = rows
            .window
            .map_or(first, |w| first.max(ctx.last_day - w as i32));
        let mut o: Vec<i32> = (0..)
            .map(|k| ctx.last_day - ctx.horizon as i32 - (k * rows.step.max(1)) as i32)
            .take_while(|&o| o >= oldest)
            .collect();
        o.reverse();
        o
    }

    /// Training rows of every series (see the module docs).
    pub fn train(&self, ctx: &Context<'_>, rows: &TrainRows) -> TrainSet {
        let origins = Self::origins(ctx, rows);
        let h = ctx.horizon;
        let candidates: usize = ctx
            .history
            .par_iter()
            .map(|y| {
                let launch = launch(y, ctx.first_day());
                origins.iter().filter(|&&o| o >= launch).count() * h
            })
            .sum();
        let keep = (rows.max_rows as f64 / candidates.max(1) as f64).min(1.0);
        let threshold = (keep * u64::MAX as f64) as u64;
        let parts: Vec<(Vec<f32>, Vec<f64>)> = (0..ctx.series.len())
            .into_par_iter()
            .map(|s| {
                let view = SeriesView::new(ctx, s);
                let mut x = Vec::new();
                let mut y = Vec::new();
                for &o in origins.iter().filter(|&&o| o >= view.launch_day) {
                    for hh in 1..=h {
                        let key = ((s as u64) << 32) ^ ((o as u64) << 8) ^ hh as u64;
                        if keep < 1.0 && mix(key ^ rows.seed) > threshold {
                            continue;
                        }
                        view.row(self, ctx, s, o, hh, &mut x);
                        y.push(f64::from(view.at(o + hh as i32)));
                    }
                }
                (x, y)
            })
            .collect();
        let (xs, ys): (Vec<Vec<f32>>, Vec<Vec<f64>>) = parts.into_iter().unzip();
        let x = FeatureMatrix::from_row_chunks(&xs, COLS);
        drop(xs);
        TrainSet {
            x,
            y: ys.concat(),
            candidates,
        }
    }

    /// Rows to forecast: series `s`, horizon `h` is row `s * ctx.horizon + h - 1`.
    pub fn forecast_rows(&self, ctx: &Context<'_>) -> FeatureMatrix {
        let parts: Vec<Vec<f32>> = (0..ctx.series.len())
            .into_par_iter()
            .map(|s| {
                let view = SeriesView::new(ctx, s);
                let mut x = Vec::with_capacity(ctx.horizon * COLS);
                for hh in 1..=ctx.horizon {
                    view.row(self, ctx, s, ctx.last_day, hh, &mut x);
                }
                x
            })
            .collect();
        FeatureMatrix::from_row_chunks(&parts, COLS)
    }
}

/// splitmix64.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The day of the first sale (past the end when none).
fn launch(y: &[f32], first_day: i32) -> i32 {
    first_day + y.iter().position(|&v| v != 0.0).unwrap_or(y.len()) as i32
}

/// One series with prefix sums for O(1) window features.
struct SeriesView<'a> {
    y: &'a [f32],
    first_day: i32,
    launch_day: i32,
    /// `sum[i]` = Σ y[..i]; `sq` of squares; `zeros` counts zero days.
    sum: Vec<f64>,
    sq: Vec<f64>,
    zeros: Vec<u32>,
    /// Index of the last sale at or before each day (-1: none).
    last_sale: Vec<i32>,
    /// Daily price from `first_day` through the horizon (NaN: none); prefix sums of known ones.
    price: Vec<f32>,
    price_sum: Vec<f64>,
    price_n: Vec<u32>,
    state: &'a str,
}

impl<'a> SeriesView<'a> {
    fn new(ctx: &Context<'a>, s: usize) -> Self {
        let y = ctx.history[s].as_slice();
        let first_day = ctx.first_day();
        let n = y.len();
        let mut sum = Vec::with_capacity(n + 1);
        let mut sq = Vec::with_capacity(n + 1);
        let mut zeros = Vec::with_capacity(n + 1);
        let mut last_sale = Vec::with_capacity(n);
        let (mut a, mut b, mut z, mut l) = (0.0f64, 0.0f64, 0u32, -1i32);
        sum.push(a);
        sq.push(b);
        zeros.push(z);
        for (i, &v) in y.iter().enumerate() {
            a += f64::from(v);
            b += f64::from(v) * f64::from(v);
            z += u32::from(v == 0.0);
            if v != 0.0 {
                l = i as i32;
            }
            sum.push(a);
            sq.push(b);
            zeros.push(z);
            last_sale.push(l);
        }
        let id = ctx.series[s].id.as_str();
        let days = n + ctx.horizon;
        let mut price = Vec::with_capacity(days);
        let mut price_sum = Vec::with_capacity(days + 1);
        let mut price_n = Vec::with_capacity(days + 1);
        let (mut ps, mut pn) = (0.0f64, 0u32);
        price_sum.push(ps);
        price_n.push(pn);
        let mut week = (u32::MAX, f32::NAN);
        for i in 0..days {
            let d = first_day + i as i32;
            let p = match ctx.calendar.day(d) {
                Some(c) if c.wm_yr_wk == week.0 => week.1,
                Some(c) => {
                    let p = ctx.prices.get(id, c.wm_yr_wk).unwrap_or(f32::NAN);
                    week = (c.wm_yr_wk, p);
                    p
                }
                None => f32::NAN,
            };
            if p.is_finite() {
                ps += f64::from(p);
                pn += 1;
            }
            price.push(p);
            price_sum.push(ps);
            price_n.push(pn);
        }
        Self {
            y,
            first_day,
            launch_day: launch(y, first_day),
            sum,
            sq,
            zeros,
            last_sale,
            price,
            price_sum,
            price_n,
            state: ctx.series[s].state_id.as_str(),
        }
    }

    /// Sale on day `d` (0 outside the history).
    fn at(&self, d: i32) -> f32 {
        let i = d - self.first_day;
        if i < 0 {
            return 0.0;
        }
        self.y.get(i as usize).copied().unwrap_or(0.0)
    }

    /// Sale on day `d`, NaN before the first sale.
    fn active_at(&self, d: i32) -> f32 {
        if d < self.launch_day {
            f32::NAN
        } else {
            self.at(d)
        }
    }

    /// Index range `[a, b)` of days `from..=to` clipped to the launch and the history.
    fn range(&self, from: i32, to: i32) -> (usize, usize) {
        let lo = from.max(self.launch_day).max(self.first_day) - self.first_day;
        let hi = (to - self.first_day + 1).min(self.y.len() as i32);
        if hi <= lo {
            (0, 0)
        } else {
            (lo as usize, hi as usize)
        }
    }

    /// Mean of days `from..=to` (clipped); NaN when no day is left.
    fn mean(&self, from: i32, to: i32) -> f32 {
        let (a, b) = self.range(from, to);
        if b == a {
            return f32::NAN;
        }
        ((self.sum[b] - self.sum[a]) / (b - a) as f64) as f32
    }

    /// Mean of the sales on `t - 7k`, `k = first..first + weeks`, that are known.
    fn weekday_mean(&self, t: i32, first: i32, weeks: i32) -> f32 {
        let (mut s, mut n) = (0.0f32, 0);
        for k in first..first + weeks {
            let v = self.active_at(t - 7 * k);
            if v.is_finite() && t - 7 * k < self.first_day + self.y.len() as i32 {
                s += v;
                n += 1;
            }
        }
        if n == 0 { f32::NAN } else { s / n as f32 }
    }

    fn price_at(&self, d: i32) -> f32 {
        let i = d - self.first_day;
        if i < 0 {
            return f32::NAN;
        }
        self.price.get(i as usize).copied().unwrap_or(f32::NAN)
    }

    /// Appends the [`COLS`] features of (origin `o`, horizon `h`) to `out`.
    fn row(&self, f: &Features, ctx: &Context<'_>, s: usize, o: i32, h: usize, out: &mut Vec<f32>) {
        let start = out.len();
        let t = o + h as i32;
        let io = (o - self.first_day) as usize;
        let cal = ctx.calendar.day(t);
        let (_, month, mday) = date_of_day(t);
        out.push(h as f32);
        out.push(cal.map_or(f32::NAN, |c| f32::from(c.wday)));
        out.push(month as f32);
        out.push(mday as f32);
        out.push(cal.map_or(f32::NAN, |c| f32::from(u8::from(c.event))));
        out.push(cal.map_or(f32::NAN, |c| {
            f.events
                .binary_search(&c.event_name)
                .map_or(0.0, |i| i as f32 + 1.0)
        }));
        out.push(f32::from(u8::from(ctx.calendar.snap(t, self.state))));
        // Price: target day, relative to the year before the origin and to the origin day.
        let p = self.price_at(t);
        let a = (o - 363 - self.first_day).max(0) as usize;
        let b = io + 1;
        let pn = self.price_n[b] - self.price_n[a];
        let p_year = if pn == 0 {
            f32::NAN
        } else {
            ((self.price_sum[b] - self.price_sum[a]) / f64::from(pn)) as f32
        };
        out.push(p);
        out.push(p / p_year);
        out.push(p / self.price_at(o));
        out.extend_from_slice(&f.codes[s]);
        // Demand up to the origin.
        out.push(self.active_at(o));
        for w in [7, 14, 28, 56, 112, 364] {
            out.push(self.mean(o - w + 1, o));
        }
        let c = (h as i32 + 6) / 7; // weeks back to the latest known same weekday
        let wd4 = self.weekday_mean(t, c, 4);
        let wd12 = self.weekday_mean(t, c, 12);
        out.push(wd4);
        out.push(wd12);
        out.push(wd12 / self.mean(o - 83, o));
        out.push(self.active_at(t - 364));
        out.push(self.mean(t - 367, t - 361));
        let next = self.mean(o - 363, o - 336);
        let prev = self.mean(o - 391, o - 364);
        out.push(next);
        out.push(prev);
        out.push(next / prev);
        let (za, zb) = self.range(o - 27, o);
        out.push(if zb == za {
            f32::NAN
        } else {
            (self.zeros[zb] - self.zeros[za]) as f32 / (zb - za) as f32
        });
        out.push(if zb == za {
            f32::NAN
        } else {
            let n = (zb - za) as f64;
            let m = (self.sum[zb] - self.sum[za]) / n;
            (((self.sq[zb] - self.sq[za]) / n - m * m).max(0.0).sqrt()) as f32
        });
        let ls = self.last_sale[io];
        out.push(if ls < 0 {
            f32::NAN
        } else {
            (io as i32 - ls).min(365) as f32
        });
        out.push(if o < self.launch_day {
            f32::NAN
        } else {
            (o - self.launch_day) as f32
        });
        out.push(self.mean(o - 27, o) / self.mean(o - 111, o));
        out.push(ctx.calendar.day(o).map_or(f32::NAN, |c| f32::from(c.wday)));
        for v in &mut out[start..] {
            if !v.is_finite() {
                *v = f32::NAN; // ratios over empty or zero windows: missing
            }
        }
        debug_assert_eq!(out.len() - start, COLS);
    }
}

#[cfg(test)]
#[path = "features_tests.rs"]
mod tests;
