//! The full-history GBDT on the ten real series with a daily d_1..d_1913 history
//! (`../shared/data/m5/sales_train_validation_10series.csv.zst`): over four rolling 28-day
//! origins it must beat seasonal naive on the mean RMSSE. Skipped (with a message) when the data
//! is absent, unless `AISLE_REQUIRE_DATA=1`.

use aisle_forecast::data::require;
use aisle_forecast::dataset::Inputs;
use aisle_forecast::fullhistory::{self, Shown};
use aisle_forecast::models::gbdt::{Auto, Gbdt};
use aisle_forecast::models::{self, Model};
use aisle_forecast::rolling;
use aisle_m5::files::find;
use aisle_m5::{Calendar, Prices};

#[test]
fn gbdt_beats_seasonal_naive_on_the_ten_full_series() -> anyhow::Result<()> {
    let Some(dir) = aisle_testkit::m5_data_dir() else {
        eprintln!("M5 data not found; skipped");
        return Ok(());
    };
    if find(&dir, rolling::FULL_FILES[1]).is_none() {
        eprintln!(
            "no {} in {}; skipped",
            rolling::FULL_FILES[1],
            dir.display()
        );
        return Ok(());
    }
    let full = rolling::load_full(&dir)?.expect("full daily history");
    assert_eq!((full.first_day, full.last_day()), (1, 1913));
    let inputs = Inputs {
        calendar: Calendar::read(&require(&dir, "calendar.csv")?)?,
        prices: Prices::read(&require(&dir, "sell_prices.csv")?)?,
        monthly: None,
    };
    let origins = [1801, 1829, 1857, 1885];
    let ms: Vec<(Box<dyn Model>, Shown)> = vec![
        (models::by_name("snaive").expect("snaive"), Shown::Full),
        (Box::new(Gbdt::default()), Shown::Full),
    ];
    let r = fullhistory::run(&full, &inputs, &origins, 28, &ms)?;
    eprintln!("{}", r.table());
    let (snaive, gbdt) = (r.mean(0), r.mean(1));
    assert!(
        gbdt < snaive,
        "GBDT mean RMSSE {gbdt:.4} is not below sNaive's {snaive:.4}"
    );
    // `auto` picks the GBDT for this history and the pooled model for 28 days.
    let shown = full.slice(1, 1885);
    let ctx = inputs.context(&shown, 28);
    assert!(Auto::default().uses_gbdt(&ctx));
    let short = full.slice(1858, 1885);
    assert!(!Auto::default().uses_gbdt(&inputs.context(&short, 28)));
    Ok(())
}
