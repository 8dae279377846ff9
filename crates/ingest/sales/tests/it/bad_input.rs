//! Bad input: malformed rows go to `sales.dlq` and the replay goes on; missing files and a
//! calendar that does not cover the days fail before anything is sent. Also: small windows and a
//! second run (resume) give the same records as one pass.

use crate::common;
use common::replay_all;

use aisle_events::{Event, SalesRecord, topics};
use aisle_log::Log;
use aisle_m5::M5Error;
use aisle_sales::{ReplayOptions, SalesError, Source};
use std::path::Path;
use std::sync::Arc;

const SALES: &str = "id,item_id,dept_id,cat_id,store_id,state_id,d_1,d_2,d_3\n\
    FOODS_1_001_CA_1_evaluation,FOODS_1_001,FOODS_1,FOODS,CA_1,CA,0,2,1\n\
    FOODS_1_002_CA_1_evaluation,FOODS_1_002,FOODS_1,FOODS,CA_1,CA,1,-3,1\n\
    FOODS_1_003_CA_1_evaluation,FOODS_1_003,FOODS_1,FOODS,CA_1,CA,1,1\n\
    FOODS_1_001_XX_9_evaluation,FOODS_1_001,FOODS_1,FOODS,XX_9,XX,1,1,1\n\
    FOODS_1_001_TX_2_evaluation,FOODS_1_001,FOODS_1,FOODS,TX_2,TX,5,0,7\n\
    FOODS_1_004_CA_1_evaluation,FOODS_1_004,FOODS_1,FOODS,CA_1,CA,0,0,4\n";

const CALENDAR: &str = "date,wm_yr_wk,weekday,wday,month,year,d\n\
    2011-01-29,11101,Saturday,1,1,2011,d_1\n\
    2011-01-30,11101,Sunday,2,1,2011,d_2\n\
    2011-01-31,11101,Monday,3,1,2011,d_3\n";

const PRICES: &str = "store_id,item_id,wm_yr_wk,sell_price\n\
    CA_1,FOODS_1_001,11101,2.5\nTX_2,FOODS_1_001,11101,2.25\n";

fn write_dir(dir: &Path, calendar: &str) {
    std::fs::write(dir.join("sales_train_evaluation.csv"), SALES).unwrap();
    std::fs::write(dir.join("calendar.csv"), calendar).unwrap();
    std::fs::write(dir.join("sell_prices.csv"), PRICES).unwrap();
}

async fn decoded(log: &dyn Log, topic: &str) -> Vec<(i32, SalesRecord, i64)> {
    let recs = aisle_testkit::read_all(log, topic).await.unwrap();
    recs.iter()
        .map(|r| {
            let (_, datum) = aisle_events::wire::split(r.value.as_ref().unwrap()).unwrap();
            (
                r.partition,
                SalesRecord::decode(datum).unwrap(),
                r.timestamp,
            )
        })
        .collect()
}

#[tokio::test]
async fn malformed_rows_go_to_the_dlq_once_and_the_replay_goes_on() {
    let data = tempfile::tempdir().unwrap();
    write_dir(data.path(), CALENDAR);
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    let mut opts = ReplayOptions::new(Source::M5 {
        dir: data.path().to_path_buf(),
    });
    opts.window_days = 2; // two passes over the file: d_1..d_2, then d_3
    let s = replay_all(&log, opts.clone()).await.unwrap();
    assert_eq!((s.sent, s.rejected, s.dead_lettered), (9, 3, 3));
    let non_empty: Vec<_> = s
        .per_store
        .iter()
        .filter(|(_, n)| *n > 0)
        .cloned()
        .collect();
    assert_eq!(
        non_empty,
        [("CA_1".to_string(), 6), ("TX_2".to_string(), 3)]
    );
    assert_eq!(s.per_store.len(), 10, "every selected store is reported");

    let dlq = aisle_testkit::read_all(log.as_ref(), &topics::dlq(topics::SALES))
        .await
        .unwrap();
    assert_eq!(dlq.len(), 3);
    let lines: Vec<&str> = SALES.lines().collect();
    let header =
        |r: &aisle_log::Record, k: &str| String::from_utf8(r.header(k).unwrap().to_vec()).unwrap();
    for (rec, (line, reason)) in dlq.iter().zip([
        (3, "d_2 is `-3`"),
        (4, "8 columns"),
        (5, "unknown store `XX_9`"),
    ]) {
        assert_eq!(rec.value.as_deref().unwrap(), lines[line - 1].as_bytes());
        assert_eq!(
            header(rec, aisle_events::dead_letter::LINE),
            line.to_string()
        );
        assert!(
            header(rec, aisle_events::dead_letter::REASON).contains(reason),
            "{}",
            header(rec, aisle_events::dead_letter::REASON)
        );
        assert!(
            header(rec, aisle_events::dead_letter::FILE).ends_with("sales_train_evaluation.csv")
        );
    }

    let sales = decoded(log.as_ref(), topics::SALES).await;
    let got: Vec<(i32, String, i32, i32, Option<f32>)> = sales
        .iter()
        .map(|(p, s, _)| (*p, s.key(), s.day, s.sold, s.sell_price))
        .collect();
    let ca = |item: &str, day, sold, price| (0, format!("FOODS_1_{item}_CA_1"), day, sold, price);
    let tx = |day, sold| (5, "FOODS_1_001_TX_2".to_string(), day, sold, Some(2.25));
    assert_eq!(
        got,
        [
            ca("001", 1, 0, Some(2.5)),
            ca("004", 1, 0, None),
            ca("001", 2, 2, Some(2.5)),
            ca("004", 2, 0, None),
            ca("001", 3, 1, Some(2.5)),
            ca("004", 3, 4, None),
            tx(1, 5),
            tx(2, 0),
            tx(3, 7),
        ]
    );
    assert_eq!(sales[0].2, 1_296_259_200_000, "d_1 = 2011-01-29T00:00Z");

    // A second run finds everything in place: nothing sent, no dead letter repeated.
    let again = replay_all(&log, opts).await.unwrap();
    assert_eq!((again.sent, again.resumed, again.dead_lettered), (0, 9, 0));
    assert_eq!(
        aisle_testkit::read_all(log.as_ref(), &topics::dlq(topics::SALES))
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn missing_files_and_short_calendars_fail_before_sending() {
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("sales_train_evaluation.csv"), SALES).unwrap();
    let err = replay_all(
        &log,
        ReplayOptions::new(Source::M5 {
            dir: data.path().into(),
        }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            SalesError::M5(M5Error::MissingFile {
                what: "calendar",
                ..
            })
        ),
        "{err}"
    );

    // The calendar stops at d_2; the file has d_3.
    write_dir(
        data.path(),
        &CALENDAR[..CALENDAR.rfind("2011-01-31").unwrap()],
    );
    let err = replay_all(
        &log,
        ReplayOptions::new(Source::M5 {
            dir: data.path().into(),
        }),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("d_3 is missing"), "{err}");

    let mut opts = ReplayOptions::new(Source::M5 {
        dir: data.path().into(),
    });
    opts.days = Some((2, 9));
    let err = replay_all(&log, opts).await.unwrap_err();
    assert!(err.to_string().contains("it has d_1..d_3"), "{err}");

    let mut opts = ReplayOptions::new(Source::M5 {
        dir: data.path().into(),
    });
    opts.stores = vec!["CA_9".into()];
    let err = replay_all(&log, opts).await.unwrap_err();
    assert!(err.to_string().contains("unknown store `CA_9`"), "{err}");

    // Only the test's own registry topic: the replay created and sent nothing.
    let topics: Vec<String> = log
        .list_topics()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(topics, ["_schemas"], "nothing may be created or sent");
}

#[tokio::test]
async fn resuming_from_other_input_is_refused() {
    let data = tempfile::tempdir().unwrap();
    write_dir(data.path(), CALENDAR);
    let tmp = aisle_testkit::temp_embedded_log().unwrap();
    let log: Arc<dyn Log> = Arc::new(tmp.log.clone());
    let mut opts = ReplayOptions::new(Source::M5 {
        dir: data.path().to_path_buf(),
    });
    opts.days = Some((1, 1));
    opts.stores = vec!["CA_1".into()];
    let s = replay_all(&log, opts.clone()).await.unwrap();
    // d_2's `-3` is not looked at: only d_1 is requested, so FOODS_1_002 is replayed too.
    assert_eq!(s.sent, 3);

    // A new first CA_1 row shifts every row: the topic's last record no longer matches its row.
    let shifted = SALES.replacen(
        "\n",
        "\nFOODS_1_000_CA_1_evaluation,FOODS_1_000,FOODS_1,FOODS,CA_1,CA,1,1,1\n",
        1,
    );
    std::fs::write(data.path().join("sales_train_evaluation.csv"), shifted).unwrap();
    let err = replay_all(&log, opts.clone()).await.unwrap_err();
    assert!(
        matches!(err, SalesError::Resume { partition: 0, .. })
            && err.to_string().contains("rows added, removed or reordered"),
        "{err}"
    );

    let mut synthetic = ReplayOptions::new(Source::Synthetic);
    synthetic.days = Some((1, 1));
    synthetic.stores = vec!["CA_1".into()];
    let err = replay_all(&log, synthetic).await.unwrap_err();
    assert!(err.to_string().contains("holds real data"), "{err}");
    let recs = aisle_testkit::read_all(log.as_ref(), topics::SALES)
        .await
        .unwrap();
    assert_eq!(recs.len(), 3, "nothing more was sent");
}
