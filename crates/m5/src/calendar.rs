//! `calendar.csv`: for every M5 day `d_N`, its date, Walmart week (`wm_yr_wk`, the key of
//! `sell_prices.csv`), weekday, events and SNAP days per state.

use crate::error::{M5Error, Result};
use crate::files;
use std::path::{Path, PathBuf};

/// One calendar day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarDay {
    /// UTC midnight of the date, ms since the Unix epoch: the record timestamp of that day.
    pub date_ms: i64,
    /// Walmart week (Saturday..Friday), joins to sell prices.
    pub wm_yr_wk: u32,
    /// 1 = Saturday .. 7 = Friday.
    pub wday: u8,
    /// Any event that day (`event_name_1` or `_2` set).
    pub event: bool,
    /// Name of the first event, empty when none.
    pub event_name: String,
    /// SNAP day in CA, TX, WI.
    pub snap: [bool; 3],
    /// Calendar month `YYYY-MM` (joins to the monthly totals).
    pub month: String,
}

/// The calendar, by day number (`d_N` → N); days may be missing (a partial calendar).
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    path: PathBuf,
    /// `days[N]` is `d_N` (`days[0]` is never a day).
    days: Vec<Option<CalendarDay>>,
}

/// The state index of `snap` (`CA`, `TX`, `WI` → 0, 1, 2).
pub fn snap_state(state_id: &str) -> Option<usize> {
    match state_id {
        "CA" => Some(0),
        "TX" => Some(1),
        "WI" => Some(2),
        _ => None,
    }
}

impl Calendar {
    /// Reads `calendar.csv` (or `.zst`), any column order. Requires `d`, `date` and `wm_yr_wk`;
    /// `wday` (else derived from the date), `event_name_1`, `event_name_2` and `snap_CA`,
    /// `snap_TX`, `snap_WI` are read when present. A day may appear once.
    pub fn read(path: &Path) -> Result<Self> {
        let mut rdr = csv::Reader::from_reader(files::open(path)?);
        let bad = |line: u64, reason: String| M5Error::bad(path, line, reason);
        let headers = rdr
            .byte_headers()
            .map_err(|e| bad(1, e.to_string()))?
            .clone();
        let opt = |name: &str| headers.iter().position(|h| h == name.as_bytes());
        let col = |name: &str| opt(name).ok_or_else(|| bad(1, format!("no `{name}` column")));
        let (c_d, c_date, c_week) = (col("d")?, col("date")?, col("wm_yr_wk")?);
        let c_wday = opt("wday");
        let c_events = [opt("event_name_1"), opt("event_name_2")];
        let c_snap = [opt("snap_CA"), opt("snap_TX"), opt("snap_WI")];
        let mut cal = Calendar {
            path: path.to_path_buf(),
            days: Vec::with_capacity(2000),
        };
        let mut rec = csv::ByteRecord::new();
        loop {
            let line = rdr.position().line();
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(bad(line, e.to_string())),
            }
            let field = |i: usize| std::str::from_utf8(rec.get(i).unwrap_or(b"")).unwrap_or("");
            let opt_field = |c: Option<usize>| c.map_or("", field);
            let d = parse_day(field(c_d))
                .ok_or_else(|| bad(line, format!("bad day `{}`", field(c_d))))?;
            let date = field(c_date);
            let date_ms =
                parse_date_ms(date).ok_or_else(|| bad(line, format!("bad date `{date}`")))?;
            let wm_yr_wk = field(c_week)
                .parse()
                .map_err(|_| bad(line, format!("bad wm_yr_wk `{}`", field(c_week))))?;
            let wday = match c_wday {
                Some(c) => field(c)
                    .parse()
                    .ok()
                    .filter(|w| (1..=7).contains(w))
                    .ok_or_else(|| bad(line, format!("bad wday `{}`", field(c))))?,
                None => wday_of(date_ms),
            };
            let [e1, e2] = c_events.map(opt_field);
            let day = CalendarDay {
                date_ms,
                wm_yr_wk,
                wday,
                event: !e1.is_empty() || !e2.is_empty(),
                event_name: e1.to_string(),
                snap: c_snap.map(|c| opt_field(c) == "1"),
                month: date.trim().get(..7).unwrap_or("").to_string(),
            };
            if cal.insert(d, day).is_some() {
                return Err(bad(line, format!("d_{d} appears twice")));
            }
        }
        Ok(cal)
    }

    /// Builds a calendar from rows for d_1, d_2, ... (tests, synthetic data).
    pub fn from_days(days: Vec<CalendarDay>) -> Self {
        let mut all = vec![None];
        all.extend(days.into_iter().map(Some));
        Calendar {
            path: PathBuf::from("<memory>"),
            days: all,
        }
    }

    /// Sets day `d`, returning the day it replaces.
    pub fn insert(&mut self, d: u32, day: CalendarDay) -> Option<CalendarDay> {
        let i = d as usize;
        if self.days.len() <= i {
            self.days.resize(i + 1, None);
        }
        self.days[i].replace(day)
    }

    /// Day `d` (`d_N`'s N), if the calendar has it.
    pub fn day<D: TryInto<usize>>(&self, d: D) -> Option<&CalendarDay> {
        let i = d.try_into().ok().filter(|&i| i > 0)?;
        self.days.get(i)?.as_ref()
    }

    /// The last `N` covered (0 when empty).
    pub fn last_day(&self) -> i32 {
        self.days.iter().rposition(Option::is_some).unwrap_or(0) as i32
    }

    /// The day whose date is `date_ms`, if the calendar has one.
    pub fn day_of(&self, date_ms: i64) -> Option<u32> {
        self.days
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.date_ms == date_ms))
            .map(|d| d as u32)
    }

    /// Whether `d` is a SNAP day in the state of `state_id` (`CA`, `TX`, `WI`).
    pub fn snap(&self, d: i32, state_id: &str) -> bool {
        let Some(i) = snap_state(state_id) else {
            return false;
        };
        self.day(d).is_some_and(|c| c.snap[i])
    }

    /// Fails naming the first missing day unless every day of `first..=last` is present.
    pub fn require(&self, first: u32, last: u32) -> Result<()> {
        match (first..=last).find(|&d| self.day(d).is_none()) {
            None => Ok(()),
            Some(missing) => {
                let present = |c: &Option<CalendarDay>| c.is_some();
                Err(M5Error::DaysNotCovered {
                    first,
                    last,
                    path: self.path.clone(),
                    detail: format!(
                        "d_{missing} is missing; the calendar has {}",
                        match (
                            self.days.iter().position(present),
                            self.days.iter().rposition(present)
                        ) {
                            (Some(a), Some(b)) => format!("d_{a}..d_{b}"),
                            _ => "no days".into(),
                        }
                    ),
                })
            }
        }
    }
}

/// UTC midnight of d_1 (2011-01-29), M5's first day, in ms since the epoch.
pub const D1_MS: i64 = 1_296_259_200_000;

/// UTC midnight of day `d` in M5's numbering (d_1 = 2011-01-29, one day per number), for data
/// without a calendar file (synthetic data).
pub fn date_ms(day: u32) -> i64 {
    D1_MS + (day as i64 - 1) * 86_400_000
}

/// The day whose date is `ts` (inverse of [`date_ms`]); `None` unless `ts` is the UTC midnight
/// of a day from d_1 on.
pub fn day_of_date(ts: i64) -> Option<u32> {
    let since = ts.checked_sub(D1_MS)?;
    if since < 0 || since % 86_400_000 != 0 {
        return None;
    }
    u32::try_from(since / 86_400_000 + 1).ok()
}

/// `(year, month, day)` of M5 day `d` (d_1 = 2011-01-29).
pub fn date_of_day(d: i32) -> (i32, u32, u32) {
    // Days since 1970-01-01 to civil date (H. Hinnant's algorithm).
    let z = i64::from(d) + 15_002 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

/// M5's `wday` of a date: 1 = Saturday .. 7 = Friday.
pub fn wday_of(date_ms: i64) -> u8 {
    // 1970-01-01 was a Thursday: wday 6.
    ((date_ms.div_euclid(86_400_000) + 5).rem_euclid(7) + 1) as u8
}

/// `d_1914` → 1914.
pub fn parse_day(s: &str) -> Option<u32> {
    s.strip_prefix("d_")?.parse().ok().filter(|&d| d > 0)
}

/// `YYYY-MM-DD` → UTC midnight in ms since the epoch.
pub fn parse_date_ms(s: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    Some(
        date.and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis(),
    )
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
        assert_eq!(parse_date_ms("2016-02-30"), None);
        assert_eq!(parse_day("d_1914"), Some(1914));
        assert_eq!(parse_day("d_0"), None);
        assert_eq!(parse_day("1914"), None);
    }

    #[test]
    fn day_numbers_as_dates() {
        assert_eq!(date_of_day(1), (2011, 1, 29));
        assert_eq!(date_of_day(1913), (2016, 4, 24));
        assert_eq!(date_of_day(1969), (2016, 6, 19));
        assert_eq!(date_ms(1914), parse_date_ms("2016-04-25").unwrap());
        assert_eq!(day_of_date(date_ms(1914)), Some(1914));
        assert_eq!(day_of_date(date_ms(1)), Some(1));
        assert_eq!(day_of_date(date_ms(1) - 86_400_000), None);
        assert_eq!(day_of_date(date_ms(5) + 1), None);
    }

    #[test]
    fn reads_a_calendar_and_checks_coverage() {
        let (_dir, p) = crate::test_file(
            "calendar.csv",
            "date,wm_yr_wk,weekday,d\n2011-01-29,11101,Saturday,d_1\n2011-01-30,11101,Sunday,d_2\n",
        );
        let cal = Calendar::read(&p).unwrap();
        assert_eq!(cal.day(2).unwrap().wm_yr_wk, 11101);
        assert_eq!((cal.day(1).unwrap().wday, cal.day(2).unwrap().wday), (1, 2));
        assert_eq!(cal.day(1).unwrap().month, "2011-01");
        assert_eq!(cal.last_day(), 2);
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

        std::fs::write(&p, "date,wm_yr_wk,d\n2011-01-29,1,d_1\n2011-01-30,1,d_1\n").unwrap();
        let err = Calendar::read(&p).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("twice"), "{err}");
    }

    #[test]
    fn events_snap_and_weekdays() {
        let (_dir, p) = crate::test_file(
            "calendar.csv",
            "date,wm_yr_wk,weekday,wday,month,year,d,event_name_1,event_type_1,event_name_2,\
             event_type_2,snap_CA,snap_TX,snap_WI\n\
             2011-02-06,11102,Sunday,2,2,2011,d_9,SuperBowl,Sporting,,,1,0,1\n\
             2011-02-07,11102,Monday,3,2,2011,d_10,,,,,0,1,0\n",
        );
        let cal = Calendar::read(&p).unwrap();
        assert_eq!(cal.day(8), None);
        let d9 = cal.day(9).unwrap();
        assert!(d9.event && d9.event_name == "SuperBowl" && d9.wday == 2);
        assert_eq!(d9.snap, [true, false, true]);
        assert!(cal.snap(10, "TX") && !cal.snap(10, "CA") && !cal.snap(10, "XX"));
        assert_eq!(wday_of(d9.date_ms), 2);
        assert_eq!(cal.last_day(), 10);
        let err = cal.require(8, 10).unwrap_err().to_string();
        assert!(
            err.contains("d_8 is missing") && err.contains("d_9..d_10"),
            "{err}"
        );
    }
}
