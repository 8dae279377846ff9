use super::*;

fn sale(item: &str, store: &str, day: i32, sold: i32) -> SalesRecord {
    let m = SeriesMeta::from_ids(item, store).unwrap();
    SalesRecord {
        item_id: m.item_id,
        dept_id: m.dept_id,
        cat_id: m.cat_id,
        store_id: m.store_id,
        state_id: m.state_id,
        day,
        sold,
        sell_price: Some(2.5),
    }
}

fn history() -> PartitionHistory {
    PartitionHistory::new(TopicPartition::new("cl", 3))
}

#[test]
fn a_day_closes_when_every_started_series_has_it() {
    let mut h = history();
    // Two stores share the partition; CA_1 runs ahead of TX_1.
    for d in 1..=3 {
        h.record(&sale("FOODS_1_001", "CA_1", d, d)).unwrap();
    }
    h.record(&sale("FOODS_1_001", "TX_1", 1, 5)).unwrap();
    assert_eq!(h.advance(), []);
    assert_eq!(h.closed(), 1, "day 2 waits for TX_1");
    h.record(&sale("FOODS_1_001", "TX_1", 2, 5)).unwrap();
    h.record(&sale("FOODS_1_001", "TX_1", 3, 5)).unwrap();
    assert_eq!(h.advance(), []);
    assert_eq!(h.closed(), 3);
    assert!(h.needs_forecast());
    h.set_forecast_day(3);
    assert!(!h.needs_forecast());
}

#[test]
fn a_series_missing_a_passed_day_is_reported() {
    let mut h = history();
    for d in [1, 2, 3] {
        h.record(&sale("FOODS_1_001", "CA_1", d, 1)).unwrap();
    }
    for d in [1, 3] {
        h.record(&sale("HOBBIES_1_002", "CA_1", d, 1)).unwrap();
    }
    let gaps = h.advance();
    assert_eq!(
        gaps,
        [Gap {
            partition: 3,
            day: 2,
            expected: 2,
            missing: vec!["HOBBIES_1_002_CA_1".into()],
        }]
    );
    assert_eq!(h.closed(), 3);
    // Unknown counts as 0 units in the panel (and was reported).
    let (panel, _) = h.panel(3);
    let row = panel
        .series
        .iter()
        .position(|m| m.item_id == "HOBBIES_1_002")
        .unwrap();
    assert_eq!(panel.values[row], [1.0, 0.0, 1.0]);
    // Closing again reports nothing new.
    assert_eq!(h.advance(), []);
}

#[test]
fn a_series_that_starts_later_is_not_missing_before() {
    let mut h = history();
    h.record(&sale("FOODS_1_001", "CA_1", 1, 1)).unwrap();
    assert_eq!(h.advance(), []);
    h.record(&sale("FOODS_1_001", "CA_1", 2, 1)).unwrap();
    h.record(&sale("FOODS_3_090", "CA_1", 2, 4)).unwrap();
    assert_eq!(h.advance(), []);
    assert_eq!(h.closed(), 2);
    // Until the new series' day 3 arrives, day 3 is open.
    h.record(&sale("FOODS_1_001", "CA_1", 3, 1)).unwrap();
    assert_eq!(h.advance(), []);
    assert_eq!(h.closed(), 2);
    let (panel, prices) = h.panel(2);
    assert_eq!(panel.first_day, 1);
    assert_eq!(panel.values, [vec![1.0, 1.0], vec![0.0, 4.0]]);
    assert_eq!(prices.len(), 3);
}

#[test]
fn the_changelog_restores_the_same_history_and_writes_only_changes() {
    let mut h = history();
    for d in 1..=5 {
        for item in ["FOODS_1_001", "HOBBIES_2_010", "HOUSEHOLD_1_100"] {
            h.record(&sale(item, "WI_2", d, d % 3)).unwrap();
        }
    }
    h.advance();
    h.set_forecast_day(4);
    let first = h.drain_changes().unwrap();
    // One catalog chunk, five days, the marks.
    assert_eq!(first.len(), 7);
    assert!(
        first
            .iter()
            .all(|r| r.partition == Some(3) && r.topic == "cl")
    );
    assert!(h.drain_changes().unwrap().is_empty());
    h.record(&sale("FOODS_1_001", "WI_2", 6, 9)).unwrap();
    let keys: Vec<String> = h
        .drain_changes()
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(keys, ["d/6"]);

    let mut restored = history();
    let all = first.into_iter().chain(std::iter::once(
        ProduceRecord::new("cl").key("d/6").value(
            postcard::to_stdvec(&DayWire {
                sold: vec![9],
                prices: vec![Some(2.5)],
            })
            .unwrap(),
        ),
    ));
    for (offset, p) in (0i64..).zip(all) {
        let rec = Record {
            topic: "cl".into(),
            partition: 3,
            offset,
            timestamp: 0,
            key: p.key,
            value: p.value,
            headers: Vec::new(),
        };
        restored.apply_changelog(&rec).unwrap();
    }
    restored.finish_restore();
    assert_eq!((restored.closed(), restored.forecast_day()), (5, 4));
    assert_eq!(restored.panel(6).0.values, h.panel(6).0.values);
    assert_eq!(restored.panel(6).1, h.panel(6).1);
    // Restored state goes on as the original: day 6 closes when the other two arrive.
    for item in ["HOBBIES_2_010", "HOUSEHOLD_1_100"] {
        restored.record(&sale(item, "WI_2", 6, 1)).unwrap();
    }
    assert_eq!(restored.advance(), []);
    assert_eq!(restored.closed(), 6);
    let bad = Record {
        topic: "cl".into(),
        partition: 3,
        offset: 99,
        timestamp: 0,
        key: Some("x/1".into()),
        value: Some(vec![1].into()),
        headers: Vec::new(),
    };
    let e = restored.apply_changelog(&bad).unwrap_err();
    assert!(e.contains("offset 99") && e.contains("x/1"), "{e}");
}
