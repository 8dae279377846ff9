//! The readers against the real M5 files in `../shared/data/m5` (`aisle_testkit::m5_data_dir`:
//! skipped when they are absent, a failure when `AISLE_REQUIRE_DATA=1`).

#![allow(clippy::unwrap_used)] // a harness: a failed unwrap is a failed run, with its message

use aisle_events::topics::M5_STORES;
use aisle_m5::calendar::{parse_date_ms, wday_of};
use aisle_m5::files::{self, CALENDAR, PRICES};
use aisle_m5::prices::{PriceFilter, PriceTable};
use aisle_m5::{Calendar, Hierarchy, SalesPanel, wide};

#[test]
fn calendar_covers_every_day_with_weeks_weekdays_events_and_snap() {
    let Some(dir) = aisle_testkit::m5_data_dir() else {
        return;
    };
    let cal = Calendar::read(&files::require(&dir, "calendar", CALENDAR).unwrap()).unwrap();
    assert_eq!(cal.last_day(), 1969);
    cal.require(1, 1969).unwrap();
    let d1 = cal.day(1).unwrap();
    assert_eq!(
        (d1.date_ms, d1.wm_yr_wk, d1.wday),
        (parse_date_ms("2011-01-29").unwrap(), 11101, 1)
    );
    assert_eq!(cal.day_of(parse_date_ms("2016-04-25").unwrap()), Some(1914));
    for d in 1..=1969 {
        let c = cal.day(d).unwrap();
        assert_eq!(c.wday, wday_of(c.date_ms), "d_{d}");
    }
    // 10 SNAP days a month in each state, on fixed days of the month.
    let snap_ca = (1..=1969).filter(|&d| cal.snap(d, "CA")).count();
    assert_eq!(snap_ca, 650);
    assert!((1..=1969).any(|d| cal.day(d).unwrap().event_name == "SuperBowl"));
}

#[test]
fn wide_extract_prices_and_hierarchy_fit_together() {
    let Some(dir) = aisle_testkit::m5_data_dir() else {
        return;
    };
    let sales = files::find_sales(&dir).unwrap();
    assert!(sales.ends_with("sales_train_evaluation_d1914_d1941.csv.zst"));
    let header = wide::read_header(&sales).unwrap();
    assert_eq!((header.first_day, header.last_day), (1914, 1941));
    let (index, window) = wide::index(&header, 1914, 1941, &[true; 10], 28).unwrap();
    assert!(index.rejected.is_empty(), "{:?}", index.rejected.first());
    assert_eq!(index.items.len(), 3049);
    assert!(index.stores.iter().all(|s| s.len() == 3049));

    let panel = SalesPanel::read_wide(&sales).unwrap();
    assert_eq!(
        (panel.series.len(), panel.first_day, panel.last_day()),
        (30_490, 1914, 1941)
    );
    let rows = panel.index();
    let h = Hierarchy::m5(&panel.series);
    let sizes: Vec<usize> = h.levels.iter().map(|l| l.len()).collect();
    assert_eq!(sizes, [1, 3, 10, 3, 7, 9, 21, 30, 70, 3049, 9147, 30_490]);

    let cal = Calendar::read(&files::require(&dir, "calendar", CALENDAR).unwrap()).unwrap();
    let mut weeks: Vec<u32> = (1914..=1941)
        .map(|d| cal.day(d).unwrap().wm_yr_wk)
        .collect();
    weeks.dedup();
    let prices = PriceTable::read(
        &files::require(&dir, "prices", PRICES).unwrap(),
        &PriceFilter {
            stores: &[true; 10],
            items: &index.items,
            weeks: &weeks,
        },
    )
    .unwrap();
    assert_eq!(prices.bad_rows, 0);
    // The two readers agree, and a series sells only on days it has a price.
    for (store, series) in index.stores.iter().enumerate() {
        assert_eq!(series[0].record.store_id, M5_STORES[store]);
        for (row, s) in series.iter().enumerate() {
            let p = rows[std::str::from_utf8(&s.key).unwrap()];
            for d in 1914..=1941u32 {
                let sold = window.sold(store, series.len(), row, d);
                assert_eq!(f32::from(sold), panel.values[p][(d - 1914) as usize]);
                let week = cal.day(d).unwrap().wm_yr_wk;
                assert!(sold == 0 || prices.get(store, s.item, week).is_some());
            }
        }
    }
}
