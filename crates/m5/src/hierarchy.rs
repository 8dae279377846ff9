//! The twelve M5 aggregation levels and summing bottom series into them.
//!
//! Keys follow the official weight files (`weights_evaluation.csv`): level 1 `(Total, X)`,
//! 2 `(state, X)`, 3 `(store, X)`, 4 `(cat, X)`, 5 `(dept, X)`, 6 `(state, cat)`, 7 `(state, dept)`,
//! 8 `(store, cat)`, 9 `(store, dept)`, 10 `(item, X)`, 11 `(state, item)`, 12 `(item, store)`.
//! With the full M5 set that is 1+3+10+3+7+9+21+30+70+3049+9147+30490 = 42,840 series.

use crate::series::SeriesMeta;
use std::collections::HashMap;

/// Number of M5 levels.
pub const LEVELS: usize = 12;

/// Names of the levels, for tables.
pub const LEVEL_NAMES: [&str; LEVELS] = [
    "total",
    "state",
    "store",
    "category",
    "department",
    "state×category",
    "state×department",
    "store×category",
    "store×department",
    "item",
    "item×state",
    "item×store",
];

/// The `(Agg_Level_1, Agg_Level_2)` key of a bottom series at `level` (1-based).
pub fn level_key(level: usize, m: &SeriesMeta) -> (String, String) {
    let x = || "X".to_string();
    match level {
        1 => ("Total".into(), x()),
        2 => (m.state_id.clone(), x()),
        3 => (m.store_id.clone(), x()),
        4 => (m.cat_id.clone(), x()),
        5 => (m.dept_id.clone(), x()),
        6 => (m.state_id.clone(), m.cat_id.clone()),
        7 => (m.state_id.clone(), m.dept_id.clone()),
        8 => (m.store_id.clone(), m.cat_id.clone()),
        9 => (m.store_id.clone(), m.dept_id.clone()),
        10 => (m.item_id.clone(), x()),
        11 => (m.state_id.clone(), m.item_id.clone()),
        _ => (m.item_id.clone(), m.store_id.clone()),
    }
}

/// One aggregation level: its series' keys and which of them each bottom series adds into.
#[derive(Debug, Clone)]
pub struct Level {
    /// `(Agg_Level_1, Agg_Level_2)` per aggregated series, in order of first appearance.
    pub keys: Vec<(String, String)>,
    /// For each bottom series, the index of its aggregated series.
    pub group_of: Vec<u32>,
}

impl Level {
    /// Builds a level from each bottom series' key.
    pub fn from_keys(keys_per_series: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut index: HashMap<(String, String), u32> = HashMap::new();
        let mut keys = Vec::new();
        let group_of = keys_per_series
            .into_iter()
            .map(|k| {
                *index.entry(k.clone()).or_insert_with(|| {
                    keys.push(k);
                    keys.len() as u32 - 1
                })
            })
            .collect();
        Self { keys, group_of }
    }

    /// Number of aggregated series.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the level has no series.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Sums bottom rows (all of one length) into this level's series.
    pub fn aggregate<T: Copy + Into<f64>>(&self, rows: &[Vec<T>]) -> Vec<Vec<f64>> {
        let n = rows.first().map_or(0, Vec::len);
        let mut out = vec![vec![0.0; n]; self.len()];
        for (row, &g) in rows.iter().zip(&self.group_of) {
            for (o, &v) in out[g as usize].iter_mut().zip(row) {
                *o += v.into();
            }
        }
        out
    }

    /// Sums one value per bottom series into this level.
    pub fn aggregate_scalar(&self, values: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.len()];
        for (&v, &g) in values.iter().zip(&self.group_of) {
            out[g as usize] += v;
        }
        out
    }
}

/// Levels over a set of bottom series: the M5 twelve, or any custom list (tests, other data).
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// The levels, level 1 first.
    pub levels: Vec<Level>,
}

impl Hierarchy {
    /// The twelve M5 levels over `series`.
    pub fn m5(series: &[SeriesMeta]) -> Self {
        let levels = (1..=LEVELS)
            .map(|l| Level::from_keys(series.iter().map(|m| level_key(l, m))))
            .collect();
        Self { levels }
    }

    /// Total number of series over all levels.
    pub fn series_count(&self) -> usize {
        self.levels.iter().map(Level::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_and_sums() {
        let s: Vec<SeriesMeta> = [
            ("A_1_001", "CA_1"),
            ("A_1_002", "CA_1"),
            ("A_1_001", "TX_1"),
        ]
        .iter()
        .map(|(i, s)| SeriesMeta::from_ids(i, s).unwrap())
        .collect();
        let h = Hierarchy::m5(&s);
        let counts: Vec<usize> = h.levels.iter().map(Level::len).collect();
        assert_eq!(counts, vec![1, 2, 2, 1, 1, 2, 2, 2, 2, 2, 3, 3]);
        let rows = vec![vec![1.0f32, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]];
        assert_eq!(h.levels[0].aggregate(&rows), vec![vec![9.0, 12.0]]);
        assert_eq!(h.levels[9].keys[0], ("A_1_001".into(), "X".into()));
        assert_eq!(
            h.levels[9].aggregate(&rows),
            vec![vec![6.0, 8.0], vec![3.0, 4.0]]
        );
        assert_eq!(h.levels[10].keys[2], ("TX".into(), "A_1_001".into()));
    }
}
