//! [`Partitioned`]: a model fitted on each group of series separately, as the streaming
//! forecaster does with each `sales` partition (one store per partition for M5).
//!
//! The pooled model shares estimates between series (weekday profiles per store × department,
//! SNAP factors per state × category, yearly factors per department). When instances of the
//! forecaster split the partitions among themselves, each sees only its partitions' series, so
//! the forecasts of a partition can depend only on that partition's history: that is what makes
//! two instances publish the same forecasts as one. This wrapper computes exactly those forecasts
//! in one process, so backtests measure what the split costs (BENCHMARKS.md).

use super::{Context, Model};
use aisle_m5::SeriesMeta;
use std::collections::BTreeMap;

/// Which group a series belongs to.
pub type GroupFn = fn(&SeriesMeta) -> String;

/// Groups by store (M5: one store per `sales` partition).
pub fn by_store(m: &SeriesMeta) -> String {
    m.store_id.clone()
}

/// `inner` fitted on each group of series on its own.
#[derive(Debug, Clone)]
pub struct Partitioned<M> {
    /// The model fitted per group.
    pub inner: M,
    /// The grouping.
    pub group: GroupFn,
}

impl<M: Model> Partitioned<M> {
    /// `inner` per store.
    pub fn by_store(inner: M) -> Self {
        Self {
            inner,
            group: by_store,
        }
    }
}

impl<M: Model> Model for Partitioned<M> {
    fn name(&self) -> String {
        format!("{} per partition", self.inner.name())
    }

    fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
        per_group(ctx, self.group, |sub| self.inner.forecast(sub))
    }
}

/// `f` applied to each group of series (`group` of each) on its own, with only that group's
/// series and history in its context; the rows come back in `ctx.series` order.
pub fn per_group(
    ctx: &Context<'_>,
    group: GroupFn,
    f: impl Fn(&Context<'_>) -> Vec<Vec<f32>>,
) -> Vec<Vec<f32>> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, m) in ctx.series.iter().enumerate() {
        groups.entry(group(m)).or_default().push(i);
    }
    let mut out = vec![Vec::new(); ctx.series.len()];
    for rows in groups.values() {
        let series: Vec<SeriesMeta> = rows.iter().map(|&i| ctx.series[i].clone()).collect();
        let history: Vec<Vec<f32>> = rows.iter().map(|&i| ctx.history[i].clone()).collect();
        let sub = Context {
            series: &series,
            history: &history,
            ..*ctx
        };
        for (&i, r) in rows.iter().zip(f(&sub)) {
            out[i] = r;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::PerSeries;
    use aisle_m5::Calendar;

    /// A model whose forecast is the mean over every series it is shown: it pools completely.
    struct MeanOfAll;
    impl Model for MeanOfAll {
        fn name(&self) -> String {
            "mean".into()
        }
        fn forecast(&self, ctx: &Context<'_>) -> Vec<Vec<f32>> {
            let all: Vec<f32> = ctx.history.iter().flatten().copied().collect();
            let mean = all.iter().sum::<f32>() / all.len().max(1) as f32;
            vec![vec![mean; ctx.horizon]; ctx.series.len()]
        }
    }

    fn ctx_of<'a>(
        series: &'a [SeriesMeta],
        history: &'a [Vec<f32>],
        calendar: &'a Calendar,
        prices: &'a aisle_m5::Prices,
    ) -> Context<'a> {
        Context {
            series,
            history,
            last_day: 2,
            horizon: 1,
            calendar,
            prices,
            monthly: None,
        }
    }

    #[test]
    fn each_group_sees_only_its_own_series() {
        let series: Vec<SeriesMeta> = [("FOODS_1_001", "CA_1"), ("FOODS_1_001", "TX_1")]
            .iter()
            .map(|(i, s)| SeriesMeta::from_ids(i, s).unwrap())
            .collect();
        let history = vec![vec![2.0, 2.0], vec![6.0, 6.0]];
        let (cal, prices) = (Calendar::default(), aisle_m5::Prices::default());
        let ctx = ctx_of(&series, &history, &cal, &prices);
        assert_eq!(MeanOfAll.forecast(&ctx), [vec![4.0], vec![4.0]]);
        let split = Partitioned::by_store(MeanOfAll);
        assert_eq!(split.forecast(&ctx), [vec![2.0], vec![6.0]]);
        assert_eq!(split.name(), "mean per partition");
        // A per-series model is unchanged by the split.
        let naive = PerSeries::new("naive", |y, h| vec![y[y.len() - 1]; h]);
        assert_eq!(
            Partitioned::by_store(naive.clone()).forecast(&ctx),
            naive.forecast(&ctx)
        );
    }
}
