//! The real M5 data (../shared/data/m5) replayed into the embedded runtime: counts per store and
//! a sample of values checked against the CSV files, read here independently of the library.

use crate::common;

use aisle_events::{Event, SalesRecord, topics};
use aisle_sales::{Quiet, ReplayOptions, Source, replay};
use common::{m5_dir, read_csv_zst};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_real_replay_matches_the_csv() {
    let Some(dir) = m5_dir() else { return };
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn aisle_log::Log> = Arc::new(tmp.log.clone());
    let registry = aisle_testkit::local_registry(log.clone()).await.unwrap();
    let summary = replay(
        log.clone(),
        registry.clone(),
        ReplayOptions::new(Source::M5 { dir: dir.clone() }),
        Arc::new(Quiet),
        std::future::pending(),
    )
    .await
    .unwrap();
    assert_eq!(summary.sent, 853_720);
    assert_eq!(summary.rejected, 0);
    assert!(!summary.synthetic);

    // The replay registered its schema; registering it again is idempotent and says the id.
    let schema_id = registry
        .register(
            &topics::value_subject(topics::SALES),
            SalesRecord::SCHEMA_JSON,
        )
        .await
        .unwrap();
    let records = aisle_testkit::read_all(log.as_ref(), topics::SALES)
        .await
        .unwrap();
    assert_eq!(records.len(), 853_720);
    let mut per_partition = [0u64; 10];
    let mut seen = HashSet::new();
    let mut by_key_day: HashMap<(String, i32), (SalesRecord, i64, i32)> = HashMap::new();
    let mut last_day = [0i32; 10];
    for r in &records {
        per_partition[r.partition as usize] += 1;
        let (id, datum) = aisle_events::wire::split(r.value.as_ref().unwrap()).unwrap();
        assert_eq!(id, schema_id);
        let sale = SalesRecord::decode(datum).unwrap();
        let key = String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap();
        assert_eq!(key, sale.key());
        assert_eq!(topics::store_partition(&sale.store_id), Some(r.partition));
        // Days go out in order within a store.
        assert!(
            sale.day >= last_day[r.partition as usize],
            "{key} d_{} after d_{}",
            sale.day,
            last_day[r.partition as usize]
        );
        last_day[r.partition as usize] = sale.day;
        assert!(
            seen.insert((key.clone(), sale.day)),
            "duplicate {key} d_{}",
            sale.day
        );
        by_key_day.insert((key, sale.day), (sale, r.timestamp, r.partition));
    }
    assert_eq!(
        per_partition, [85_372; 10],
        "3,049 items × 28 days per store"
    );

    // Sample: every 997th row of the sales file, all 28 days, against the CSV.
    let calendar: HashMap<String, (String, String)> = read_csv_zst(&dir.join("calendar.csv.zst"))
        .into_iter()
        .map(|r| (r[6].clone(), (r[0].clone(), r[1].clone())))
        .collect();
    let sales = read_csv_zst(&dir.join("sales_train_evaluation_d1914_d1941.csv.zst"));
    let sample: Vec<&Vec<String>> = sales.iter().step_by(997).collect();
    let wanted: HashSet<(String, String)> = sample
        .iter()
        .map(|r| (r[4].clone(), r[1].clone()))
        .collect();
    let mut prices: HashMap<(String, String, String), f32> = HashMap::new();
    common::for_each_csv_zst(&dir.join("sell_prices.csv.zst"), |r| {
        if wanted.contains(&(r[0].to_string(), r[1].to_string())) {
            prices.insert(
                (r[0].to_string(), r[1].to_string(), r[2].to_string()),
                r[3].parse().unwrap(),
            );
        }
    });
    let mut checked = 0;
    let mut nulls = 0;
    for row in sample {
        let key = format!("{}_{}", row[1], row[4]);
        for (i, sold) in row[6..].iter().enumerate() {
            let day = 1914 + i as i32;
            let (sale, ts, partition) = &by_key_day[&(key.clone(), day)];
            assert_eq!(sale.sold.to_string(), *sold, "{key} d_{day}");
            let (date, week) = &calendar[&format!("d_{day}")];
            let want_ts = aisle_m5::calendar::parse_date_ms(date).unwrap();
            assert_eq!(*ts, want_ts, "{key} d_{day} timestamp");
            assert_eq!(*partition, topics::store_partition(&row[4]).unwrap());
            let want_price = prices
                .get(&(row[4].clone(), row[1].clone(), week.clone()))
                .copied();
            assert_eq!(
                sale.sell_price, want_price,
                "{key} d_{day} price (week {week})"
            );
            nulls += want_price.is_none() as u32;
            checked += 1;
        }
    }
    assert_eq!(checked, 31 * 28);
    println!("checked {checked} values ({nulls} null prices)");
}
