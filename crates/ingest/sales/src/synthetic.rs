//! Synthetic M5-shaped data for load tests of any size: the ten stores, M5's seven departments
//! with their item counts (3,049 items, 30,490 series), weekly prices with launches, and
//! intermittent demand (many zero days, weekend peaks).
//!
//! Every value is a pure function of (series, day), so a resumed replay regenerates exactly what an
//! interrupted one would have sent.

use aisle_events::SalesRecord;
use aisle_events::topics::M5_STORES;
use aisle_m5::wide::Series;
use bytes::Bytes;

/// M5's departments and their item counts.
pub const DEPTS: [(&str, &str, u32); 7] = [
    ("HOBBIES_1", "HOBBIES", 416),
    ("HOBBIES_2", "HOBBIES", 149),
    ("HOUSEHOLD_1", "HOUSEHOLD", 532),
    ("HOUSEHOLD_2", "HOUSEHOLD", 515),
    ("FOODS_1", "FOODS", 216),
    ("FOODS_2", "FOODS", 398),
    ("FOODS_3", "FOODS", 823),
];

/// The series of one store, in Kaggle order (department, then item number).
pub fn store_series(store: usize) -> Vec<Series> {
    let store_id = M5_STORES[store];
    let state = &store_id[..2];
    let mut out = Vec::with_capacity(3049);
    let mut item_idx = 0u16;
    for (dept, cat, n) in DEPTS {
        for i in 1..=n {
            let item_id = format!("{dept}_{i:03}");
            let key = aisle_events::series_id(&item_id, store_id);
            out.push(Series {
                record: SalesRecord {
                    item_id,
                    dept_id: dept.into(),
                    cat_id: cat.into(),
                    store_id: store_id.into(),
                    state_id: state.into(),
                    day: 0,
                    sold: 0,
                    sell_price: None,
                },
                key: Bytes::from(key),
                item: item_idx,
            });
            item_idx += 1;
        }
    }
    out
}

/// splitmix64: a fast, well-mixed hash of one word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn series_hash(store: usize, item: u16, salt: u64) -> u64 {
    mix(((store as u64) << 32) ^ ((item as u64) << 8) ^ salt)
}

/// The day the item launched in the store: most items from d_1, a fifth later.
fn launch_day(store: usize, item: u16) -> u32 {
    let h = unit(series_hash(store, item, 1));
    if h < 0.8 {
        1
    } else {
        1 + ((h - 0.8) / 0.2 * 1500.0) as u32
    }
}

/// Price of an item in a store on `day` (weekly, Saturday to Friday like `wm_yr_wk`), `None`
/// before launch.
pub fn price(store: usize, item: u16, cat: &str, day: u32) -> Option<f32> {
    if day < launch_day(store, item) {
        return None;
    }
    let (lo, hi) = match cat {
        "HOBBIES" => (0.5, 30.0),
        "HOUSEHOLD" => (1.0, 20.0),
        _ => (0.5, 10.0),
    };
    // The base price is per item (the same in every store); stores and weeks move it a little.
    let base = lo + unit(mix(item as u64 ^ 0xfeed)) * (hi - lo);
    let week = (day as u64 - 1) / 7;
    let wobble = 1.0 + (unit(mix(series_hash(store, item, 2) ^ (week / 13))) - 0.5) * 0.1;
    Some(((base * wobble * 100.0).round() / 100.0) as f32)
}

/// Units sold: zero-inflated Poisson with a per-series rate, weekend lift, nothing before launch.
pub fn sold(store: usize, item: u16, cat: &str, day: u32) -> u16 {
    if day < launch_day(store, item) {
        return 0;
    }
    let scale = match cat {
        "FOODS" => 3.0,
        "HOUSEHOLD" => 1.2,
        _ => 0.8,
    };
    let rate = scale * (-(1.0 - unit(series_hash(store, item, 3))).ln()) * 1.5;
    let zero_prob = 0.2 + 0.5 * unit(series_hash(store, item, 4));
    // d_1 is a Saturday: days 1 and 2 of each week are the weekend.
    let lambda = if (day - 1) % 7 < 2 { rate * 1.3 } else { rate };
    let h = mix(series_hash(store, item, 5) ^ ((day as u64) << 20));
    if unit(h) < zero_prob {
        return 0;
    }
    // Poisson by inversion; lambda is small (tens at most), so the loop is short.
    let u = unit(mix(h));
    let (mut k, mut p) = (0u32, (-lambda).exp());
    let mut cdf = p;
    while u > cdf && k < 1000 {
        k += 1;
        p *= lambda / k as f64;
        cdf += p;
    }
    k as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m5_shaped_and_deterministic() {
        let s = store_series(5);
        assert_eq!(s.len(), 3049);
        assert_eq!(&s[0].key[..], b"HOBBIES_1_001_TX_2");
        assert_eq!(s[3048].record.item_id, "FOODS_3_823");
        let days = 1..=400u32;
        let total: Vec<u16> = days.clone().map(|d| sold(5, 3000, "FOODS", d)).collect();
        let again: Vec<u16> = days.map(|d| sold(5, 3000, "FOODS", d)).collect();
        assert_eq!(total, again);
        // Intermittent: across a store, a good share of zero days and some positive ones.
        let mut zeros = 0;
        let mut n = 0;
        for item in 0..3049u16 {
            for d in 1..=28 {
                n += 1;
                zeros += (sold(0, item, "FOODS", d) == 0) as u32;
            }
        }
        let share = zeros as f64 / n as f64;
        assert!((0.3..0.9).contains(&share), "zero share {share}");
        let launched = (0..3049u16)
            .filter(|i| price(0, *i, "FOODS", 1).is_some())
            .count();
        assert!((2000..3049).contains(&launched), "{launched}");
    }
}
