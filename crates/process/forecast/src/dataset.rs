//! [`M5Data`]: everything the forecaster reads from an M5 data directory, loaded once.
//!
//! Sales come from the file [`aisle_m5::files::find_sales`] picks: Kaggle's full
//! `sales_train_evaluation.csv` when it is there (d_1..d_1941), else `sales_train_validation.csv`
//! (d_1..d_1913), else the first file named like either, such as this project's 28-day extract
//! `sales_train_evaluation_d1914_d1941.csv`; each may be `.zst`-compressed. The monthly totals
//! (`sales_monthly_d1_d1913.csv`) are optional.

use crate::error::Result;
use crate::models::Context;
use crate::monthly::Monthly;
use aisle_m5::files::{self, CALENDAR, PRICES, find};
use aisle_m5::{Calendar, Prices, SalesPanel};
use std::path::Path;

/// The calendar, prices and (optional) monthly totals: the inputs besides the sales history.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `calendar.csv`.
    pub calendar: Calendar,
    /// `sell_prices.csv`.
    pub prices: Prices,
    /// `sales_monthly_d1_d1913.csv`, when present.
    pub monthly: Option<Monthly>,
}

impl Inputs {
    /// Loads calendar and prices (required) and monthly totals (optional) from `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let calendar = Calendar::read(&files::require(dir, "calendar", CALENDAR)?)?;
        let prices = Prices::read(&files::require(dir, "prices", PRICES)?)?;
        let monthly = match find(dir, "sales_monthly_d1_d1913.csv") {
            Some(p) => Some(Monthly::read(&p, &calendar, 1913)?),
            None => None,
        };
        Ok(Self {
            calendar,
            prices,
            monthly,
        })
    }

    /// A model context over `panel` (its whole history) for `horizon` days.
    pub fn context<'a>(&'a self, panel: &'a SalesPanel, horizon: usize) -> Context<'a> {
        Context {
            series: &panel.series,
            history: &panel.values,
            last_day: panel.last_day(),
            horizon,
            calendar: &self.calendar,
            prices: &self.prices,
            monthly: self.monthly.as_ref(),
        }
    }
}

/// Sales and inputs of one M5 data directory.
#[derive(Debug, Clone, Default)]
pub struct M5Data {
    /// Daily sales, the longest history available.
    pub sales: SalesPanel,
    /// Calendar, prices, monthly totals.
    pub inputs: Inputs,
}

impl M5Data {
    /// Loads `dir` (see the module docs for which sales file is used).
    pub fn load(dir: &Path) -> Result<Self> {
        Ok(Self {
            sales: SalesPanel::read_wide(&files::find_sales(dir)?)?,
            inputs: Inputs::load(dir)?,
        })
    }
}
