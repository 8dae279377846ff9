//! The plan of a replay: every check before anything is sent (stores, days, files, chain shape),
//! and what the store tasks need (each store's series, the M5 readers).

use crate::error::{Result, SalesError};
use crate::replay::{ReplayOptions, Source};
use aisle_events::topics::{self, M5_STORES};
use aisle_m5::Calendar;
use aisle_m5::files::{self, CALENDAR, PRICES};
use aisle_m5::prices::{PriceFilter, PriceTable};
use aisle_m5::wide::{self, SalesHeader, SalesIndex, Series, Window};
use std::sync::Arc;

/// Everything resolved before sending.
pub(crate) struct Plan {
    pub(crate) first: u32,
    pub(crate) last: u32,
    /// Store ids of the source by chain index (M5: its ten stores).
    pub(crate) names: Vec<String>,
    /// Chain indexes of the stores to replay, ascending.
    pub(crate) selected: Vec<usize>,
    /// Series by chain index (empty for stores not selected).
    pub(crate) series: Vec<Arc<Vec<Series>>>,
    pub(crate) data: Data,
}

pub(crate) enum Data {
    M5 {
        header: SalesHeader,
        index: Arc<SalesIndex>,
        calendar: Calendar,
        prices: Arc<PriceTable>,
        first_window: Option<Window>,
    },
    Synthetic,
}

impl Plan {
    /// The day of a record timestamp in this replay's data: the calendar's, or synthetic dates.
    pub(crate) fn day_of(&self, ts: i64) -> Option<u32> {
        match &self.data {
            Data::M5 { calendar, .. } => calendar.day_of(ts),
            Data::Synthetic => aisle_m5::calendar::day_of_date(ts),
        }
    }
}

/// Store ids of the source, by chain index: M5's ten, or the chain's (checked).
pub(crate) fn store_ids(source: &Source) -> Result<Vec<String>> {
    match source.chain() {
        Some(chain) => {
            chain.check()?;
            Ok(chain.store_ids())
        }
        None => Ok(M5_STORES.iter().map(|s| s.to_string()).collect()),
    }
}

/// Chain indexes of the stores named (empty: all), ascending, each once.
pub(crate) fn select_stores(names: &[String], ids: &[String]) -> Result<Vec<usize>> {
    if names.is_empty() {
        return Ok((0..ids.len()).collect());
    }
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let i = topics::chain_store_index(n.trim())
            .filter(|i| *i < ids.len())
            .ok_or_else(|| {
                let known = if ids.len() <= M5_STORES.len() {
                    format!("stores: {}", ids.join(","))
                } else {
                    format!(
                        "a chain of {} stores: {}, then CA_5, TX_4, WI_4, ... up to {}",
                        ids.len(),
                        M5_STORES.join(","),
                        ids[ids.len() - 1]
                    )
                };
                SalesError::Invalid(format!("unknown store `{n}` ({known})"))
            })?;
        out.push(i);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn day_range(days: Option<(u32, u32)>) -> Result<(u32, u32)> {
    let (first, last) =
        days.ok_or_else(|| SalesError::Invalid("synthetic data needs a day range".into()))?;
    check_range(first, last)?;
    Ok((first, last))
}

fn check_range(first: u32, last: u32) -> Result<()> {
    if first == 0 || last < first {
        return Err(SalesError::Invalid(format!(
            "empty day range {first}..{last}"
        )));
    }
    Ok(())
}

/// Reads and checks everything the replay needs (blocking: it reads the M5 files).
pub(crate) fn make_plan(
    opts: &ReplayOptions,
    names: Vec<String>,
    selected: Vec<usize>,
) -> Result<Plan> {
    let mut wanted = vec![false; names.len()];
    for s in &selected {
        wanted[*s] = true;
    }
    if let Some(chain) = opts.source.chain() {
        let (first, last) = day_range(opts.days)?;
        let series = wanted
            .iter()
            .enumerate()
            .map(|(s, w)| Arc::new(if *w { chain.series(s) } else { Vec::new() }))
            .collect();
        return Ok(Plan {
            first,
            last,
            names,
            selected,
            series,
            data: Data::Synthetic,
        });
    }
    let Source::M5 { dir } = &opts.source else {
        return Err(SalesError::Invalid("no data source".into()));
    };
    if !dir.is_dir() {
        return Err(aisle_m5::M5Error::MissingFile {
            what: "data directory",
            dir: dir.clone(),
            tried: "--data".into(),
        }
        .into());
    }
    let sales = files::find_sales(dir)?;
    let calendar_path = files::require(dir, "calendar", CALENDAR)?;
    let prices_path = files::require(dir, "prices", PRICES)?;
    let header = wide::read_header(&sales)?;
    let (first, last) = opts.days.unwrap_or((header.first_day, header.last_day));
    check_range(first, last)?;
    header.require(first, last)?;
    let calendar = Calendar::read(&calendar_path)?;
    calendar.require(first, last)?;
    let mut stores = [false; 10];
    for s in &selected {
        stores[*s] = true;
    }
    let (index, first_window) = wide::index(&header, first, last, &stores, opts.window_days)?;
    let mut weeks: Vec<u32> = (first..=last)
        .filter_map(|d| calendar.day(d))
        .map(|c| c.wm_yr_wk)
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    let prices = PriceTable::read(
        &prices_path,
        &PriceFilter {
            stores: &stores,
            items: &index.items,
            weeks: &weeks,
        },
    )?;
    let series = index.stores.iter().map(|s| Arc::new(s.clone())).collect();
    Ok(Plan {
        first,
        last,
        names,
        selected,
        series,
        data: Data::M5 {
            header,
            index: Arc::new(index),
            calendar,
            prices: Arc::new(prices),
            first_window: Some(first_window),
        },
    })
}
