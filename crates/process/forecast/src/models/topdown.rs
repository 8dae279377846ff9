//! Middle-out reconciliation: forecast aggregates directly, then split them over their items.
//!
//! [`TopDown`] sums the history into one series per aggregate (a store, or a store ×
//! category), forecasts those with the pooled model as if each were one item (its own weekday
//! profile, SNAP per state × category, yearly factor from the aggregated monthly totals), and
//! scales the bottom-up forecasts of the items of each aggregate, day by day, so they add up
//! to it: `ŷ_i(t) = f_i(t) · F_a(t) / Σ_{j∈a} f_j(t)`. Levels at or above the aggregate come
//! from the direct forecasts, the levels below from the bottom-up proportions.

use super::pooled::Pooled;
use super::{Context, Model};
use aisle_m5::SeriesMeta;
use std::collections::HashMap;

/// The aggregate forecast directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Middle {
    /// One series per store (level 3).
    Store,
    /// One series per store × category (level 8).
    StoreCat,
}

/// Middle-out model over a pooled model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopDown {
    /// The bottom-up model (proportions) and the model of the aggregates.
    pub inner: Pooled,
    /// Which aggregate is forecast directly.
    pub middle: Middle,
}

impl TopDown {
    /// The aggregate of a series, as a pseudo item of its store (`ALL_X_001` for a store,
    /// `FOODS_X_001` for its FOODS category), so the pooled model's grouping applies.
    fn pseudo(&self, m: &SeriesMeta) -> Option<SeriesMeta> {
        let item = match self.middle {
            Middle::Store => "ALL_X_001".to_string(),
            Middle::StoreCat => format!("{}_X_001", m.cat_id),
        };
        SeriesMeta::from_ids(&item, &m.store_id)
    }
}

impl Model for TopDown {
    fn name(&self) -> String {
        format!("TopDown({:?}, {})", self.middle, self.inner.name())
    }

    fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
        let bottom = self.inner.forecast(ctx);
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut metas: Vec<SeriesMeta> = Vec::new();
        let mut members: Vec<Vec<String>> = Vec::new();
        let mut agg_of = Vec::with_capacity(ctx.series.len());
        for m in ctx.series {
            let Some(p) = self.pseudo(m) else {
                agg_of.push(None);
                continue;
            };
            let a = *index.entry(p.id.clone()).or_insert_with(|| {
                metas.push(p);
                members.push(Vec::new());
                metas.len() - 1
            });
            members[a].push(m.id.clone());
            agg_of.push(Some(a));
        }
        let days = ctx.history.first().map_or(0, Vec::len);
        let mut hist = vec![vec![0.0f32; days]; metas.len()];
        let mut sum_f = vec![vec![0.0f64; ctx.horizon]; metas.len()];
        for ((row, f), a) in ctx.history.iter().zip(&bottom).zip(&agg_of) {
            if let Some(a) = *a {
                hist[a].iter_mut().zip(row).for_each(|(h, v)| *h += v);
                sum_f[a]
                    .iter_mut()
                    .zip(f)
                    .for_each(|(s, v)| *s += f64::from(*v));
            }
        }
        let monthly = ctx.monthly.map(|mo| {
            let groups: Vec<(String, Vec<String>)> = metas
                .iter()
                .zip(&members)
                .map(|(m, ids)| (m.id.clone(), ids.clone()))
                .collect();
            mo.aggregated(&groups)
        });
        let actx = Context {
            series: &metas,
            history: &hist,
            monthly: monthly.as_ref(),
            ..*ctx
        };
        let direct = self.inner.forecast(&actx);
        bottom
            .into_iter()
            .zip(&agg_of)
            .map(|(f, a)| match *a {
                Some(a) => f
                    .iter()
                    .enumerate()
                    .map(|(t, &v)| {
                        let s = sum_f[a][t];
                        if s > 0.0 {
                            (f64::from(v) * f64::from(direct[a][t]) / s) as f32
                        } else {
                            v
                        }
                    })
                    .collect(),
                None => f,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisle_m5::{Calendar, CalendarDay, Prices};

    #[test]
    fn items_add_up_to_the_direct_store_forecast() {
        let cal = Calendar::from_days(
            (0..40)
                .map(|i| CalendarDay {
                    wm_yr_wk: 1 + (i / 7) as u32,
                    wday: (i % 7) as u8 + 1,
                    ..CalendarDay::default()
                })
                .collect(),
        );
        let series = vec![
            SeriesMeta::from_ids("F_1_001", "CA_1").unwrap(),
            SeriesMeta::from_ids("H_1_001", "CA_1").unwrap(),
        ];
        // Two departments with different weekly shapes; the store total is smooth.
        let a: Vec<f32> = (0..28).map(|t| [4.0, 1.0][t % 2]).collect();
        let b: Vec<f32> = (0..28).map(|t| [1.0, 4.0][t % 2]).collect();
        let history = vec![a, b];
        let prices = Prices::default();
        let ctx = Context::daily(&series, &history, 7, &cal, &prices);
        let td = TopDown {
            inner: Pooled::default(),
            middle: Middle::Store,
        };
        let f = td.forecast(&ctx);
        let store_hist = vec![(0..28).map(|_| 5.0f32).collect::<Vec<_>>()];
        let store = [SeriesMeta::from_ids("ALL_X_001", "CA_1").unwrap()];
        let direct = Pooled::default().forecast(&Context {
            series: &store,
            history: &store_hist,
            ..ctx
        });
        for t in 0..7 {
            assert!(
                (f[0][t] + f[1][t] - direct[0][t]).abs() < 1e-4,
                "{f:?} {direct:?}"
            );
        }
        assert!(f[0][0] > 0.0 && f[1][0] > 0.0);
    }
}
