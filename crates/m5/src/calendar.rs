//! `calendar.csv`: the date and Walmart week (`wm_yr_wk`) of every M5 day `d_N`.

use crate::error::{Result, SalesError};
use crate::input;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One calendar day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CalDay {
    /// UTC midnight of the date, ms since the Unix epoch: the record timestamp of that day.
    pub date_ms: i64,
    /// Walmart week (Saturday to Friday), the key of `sell_prices.csv`.
    pub wm_yr_wk: u32,
}

/// The calendar, by day number (`d_N` → N).
#[derive(Clone, Debug)]
pub struct Calendar {
    path: PathBuf,
    days: BTreeMap<u32, CalDay>,
}

impl Calendar {
    /// Reads `calendar.csv` (any column order; uses `date`, `wm_yr_wk` and `d`).
    pub fn read(path: &Path) -> Result<Self> {
        let mut rdr = csv::Reader::from_reader(input::open(path)?);
        let bad = |line: u64, reason: String| SalesError::BadFile {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let headers = rdr
            .byte_headers()
            .map_err(|e| bad(1, e.to_string()))?
            .clone();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name.as_bytes())
                .ok_or_else(|| bad(1, format!("no `{name}` column")))
        };
        let (c_date, c_week, c_d) = (col("date")?, col("wm_yr_wk")?, col("d")?);
        let mut days = BTreeMap::new();
        let mut rec = csv::ByteRecord::new();
        loop {
            let line = rdr.position().line();
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(bad(line, e.to_string())),
            }
            let field = |i: usize| std::str::from_utf8(rec.get(i).unwrap_or(b"")).unwrap_or("");
            let d = parse_day(field(c_d))
                .ok_or_else(|| bad(line, format!("bad day `{}`", field(c_d))))?;
            let date_ms = parse_date_ms(field(c_date))
                .ok_or_else(|| bad(line, format!("bad date `{}`", field(c_date))))?;
            let wm_yr_wk = field(c_week)
                .parse()
                .map_err(|_| bad(line, format!("bad wm_yr_wk `{}`", field(c_week))))?;
            days.insert(d, CalDay { date_ms, wm_yr_wk });
        }
        Ok(Calendar {
            path: path.to_path_buf(),
            days,
        })
    }

    /// Builds a calendar from `(day, date_ms, wm_yr_wk)` triples (tests, synthetic data).
    pub fn from_days(days: impl IntoIterator<Item = (u32, i64, u32)>) -> Self {
        Calendar {
            path: PathBuf::from("<memory>"),
            days: days
                .into_iter()
                .map(|(d, date_ms, wm_yr_wk)| (d, CalDay { date_ms, wm_yr_wk }))
                .collect(),
        }
    }

    /// Day `d`, if the calendar has it.
    pub fn day(&self, d: u32) -> Option<CalDay> {
        self.days.get(&d).copied()
    }

    /// The day whose date is `date_ms`, if the calendar has one.
    pub fn day_of(&self, date_ms: i64) -> Option<u32> {
        self.days
            .iter()
            .find(|(_, c)| c.date_ms == date_ms)
            .map(|(d, _)| *d)
    }

    /// Fails naming the first missing day unless every day of `first..=last` is present.
    pub fn require(&self, first: u32, last: u32) -> Result<()> {
        match (first..=last).find(|d| !self.days.contains_key(d)) {
            None => Ok(()),
            Some(missing) => Err(SalesError::DaysNotCovered {
                first,
                last,
                path: self.path.clone(),
                detail: format!(
                    "d_{missing} is missing; the calendar has {}",
                    match (self.days.keys().next(), self.days.keys().next_back()) {
                        (Some(a), Some(b)) => format!("d_{a}..d_{b}"),
                        _ => "no days".into(),
                    }
                ),
            }),
        }
    }
}

/// `d_1914` → 1914.
pub fn parse_day(s: &str) -> Option<u32> {
    s.strip_prefix("d_")?.parse().ok().filter(|&d| d > 0)
}

/// `YYYY-MM-DD` → UTC midnight in ms since the epoch.
pub fn parse_date_ms(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400_000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_days_parse() {
        assert_eq!(parse_date_ms("1970-01-01"), Some(0));
        // 2016-04-25 (d_1914) is 1,461,542,400 s after the epoch.
        assert_eq!(parse_date_ms("2016-04-25"), Some(1_461_542_400_000));
        assert_eq!(parse_date_ms("2016-13-01"), None);
        assert_eq!(parse_day("d_1914"), Some(1914));
        assert_eq!(parse_day("d_0"), None);
        assert_eq!(parse_day("1914"), None);
    }

    #[test]
    fn reads_a_calendar_and_checks_coverage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("calendar.csv");
        std::fs::write(
            &p,
            "date,wm_yr_wk,weekday,d\n2011-01-29,11101,Saturday,d_1\n2011-01-30,11101,Sunday,d_2\n",
        )
        .unwrap();
        let cal = Calendar::read(&p).unwrap();
        assert_eq!(cal.day(2).unwrap().wm_yr_wk, 11101);
        assert_eq!(cal.day(1).unwrap().date_ms, 1_296_259_200_000);
        cal.require(1, 2).unwrap();
        assert_eq!(cal.day_of(1_296_259_200_000 + 86_400_000), Some(2));
        assert_eq!(cal.day_of(1_296_259_200_000 + 1), None);
        let err = cal.require(2, 3).unwrap_err().to_string();
        assert!(
            err.contains("d_3 is missing") && err.contains("d_1..d_2"),
            "{err}"
        );

        std::fs::write(&p, "date,wm_yr_wk,d\n2011-01-29,x,d_1\n").unwrap();
        let err = Calendar::read(&p).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("wm_yr_wk"), "{err}");
    }
}
