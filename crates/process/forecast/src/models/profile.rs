//! The pooled model's weekday, SNAP and usable-day estimates ([`super::pooled`]).

/// `use_day` without, for each weekday with at least `min` usable days, the one farthest
/// from that weekday's median (an event or holiday the calendar may not name).
pub(super) fn trim_outlier_days(
    y: &[f64],
    wdays: &[usize],
    use_day: &[bool],
    min: usize,
) -> Vec<bool> {
    let mut out = use_day.to_vec();
    if min == 0 {
        return out;
    }
    for w in 0..7 {
        let mut idx: Vec<usize> = (0..y.len())
            .filter(|&t| use_day[t] && wdays[t] == w)
            .collect();
        if idx.len() < min {
            continue;
        }
        idx.sort_by(|&a, &b| y[a].total_cmp(&y[b]));
        let n = idx.len();
        let median = (y[idx[(n - 1) / 2]] + y[idx[n / 2]]) / 2.0;
        let (lo, hi) = (idx[0], idx[n - 1]);
        let drop = if (median - y[lo]).abs() > (y[hi] - median).abs() {
            lo
        } else {
            hi
        };
        out[drop] = false;
    }
    out
}

/// Weekday profile (index `wday - 1`) over the days in `use_day`, mean 1 over the week; flat
/// when there is no volume.
pub(crate) fn weekday_profile(y: &[f64], wdays: &[usize], use_day: &[bool]) -> [f64; 7] {
    let (mut sum, mut cnt) = ([0.0; 7], [0.0; 7]);
    for ((&v, &w), _) in y.iter().zip(wdays).zip(use_day).filter(|(_, u)| **u) {
        sum[w] += v;
        cnt[w] += 1.0;
    }
    // Weekdays without any usable day (e.g. both Sundays of two weeks were events) get the
    // mean of the others, i.e. a factor of 1.
    let seen: Vec<f64> = (0..7)
        .filter(|&w| cnt[w] > 0.0)
        .map(|w| sum[w] / cnt[w])
        .collect();
    let mean = seen.iter().sum::<f64>() / seen.len().max(1) as f64;
    if mean <= 0.0 {
        return [1.0; 7];
    }
    let mut p = [1.0; 7];
    for w in 0..7 {
        if cnt[w] > 0.0 {
            p[w] = sum[w] / cnt[w] / mean;
        }
    }
    let norm = p.iter().sum::<f64>() / 7.0;
    p.iter_mut().for_each(|v| *v /= norm);
    p
}

/// Mean units a day a store must sell for [`outlier_days`] to judge its days: at 200 a day a
/// Poisson count varies by 7 %, well inside the spread of real days; a handful of items (the
/// ten full-history series are two per store) would have "outliers" every week.
pub(super) const OUTLIER_MIN_UNITS: f64 = 200.0;

/// The days of one store's daily totals `y` that lie far below the rest: each day is compared
/// with the mean of the other usable days of its weekday (all net of the store's SNAP lift), and
/// a log ratio more than `z` robust standard deviations (1.4826 × MAD over all days) below the
/// median is flagged, one at a time and lowest first, while its weekday keeps at least two
/// usable days. Only low days: a high one in a few weeks of history is as often the start of
/// a rise (the level) as a one-off, and leaving it out would bias the level down. A
/// holiday that empties the store (Mother's Day in M5's last four weeks: −26 % on a Sunday) would
/// otherwise set a quarter of that weekday's profile; `z` = 0 flags nothing, nor does a store
/// selling under [`OUTLIER_MIN_UNITS`] a day on average (there a low day is counting noise).
pub(super) fn outlier_days(
    y: &[f64],
    wdays: &[usize],
    is_snap: &[bool],
    use_day: &[bool],
    z: f64,
) -> Vec<bool> {
    let mut out = vec![false; y.len()];
    let (sum, n) = y
        .iter()
        .zip(use_day)
        .filter(|(_, u)| **u)
        .fold((0.0, 0usize), |(s, n), (v, _)| (s + v, n + 1));
    let mean = sum / n.max(1) as f64;
    if z <= 0.0 || mean < OUTLIER_MIN_UNITS {
        return out;
    }
    let profile = weekday_profile(y, wdays, use_day);
    let lift = snap_factors(
        &[y.to_vec()],
        &[profile],
        &[is_snap.to_vec()],
        &[0],
        1,
        wdays,
        |_, t| use_day[t],
    )[0];
    let a: Vec<f64> = y
        .iter()
        .zip(is_snap)
        .map(|(&v, &s)| if s { v / lift } else { v })
        .collect();
    // One day at a time, the lowest first, each against the weekday means without the days
    // already left out: with three or four days of a weekday, a low holiday makes the others
    // look high until it is gone.
    let mut keep = use_day.to_vec();
    loop {
        let Some(t) = farthest_day(&a, wdays, &keep, z) else {
            return out;
        };
        keep[t] = false;
        out[t] = true;
    }
}

/// The usable day whose log ratio to the mean of its weekday's other usable days is farthest
/// beyond `z` robust standard deviations below the median ratio, if its weekday has at least
/// three usable days (two stay).
fn farthest_day(a: &[f64], wdays: &[usize], keep: &[bool], z: f64) -> Option<usize> {
    let (mut sum, mut cnt) = ([0.0; 7], [0usize; 7]);
    for t in (0..a.len()).filter(|&t| keep[t]) {
        sum[wdays[t]] += a[t];
        cnt[wdays[t]] += 1;
    }
    let ratios: Vec<(usize, f64)> = (0..a.len())
        .filter(|&t| keep[t] && cnt[wdays[t]] >= 2 && a[t] > 0.0)
        .filter_map(|t| {
            let w = wdays[t];
            let others = (sum[w] - a[t]) / (cnt[w] - 1) as f64;
            (others > 0.0).then(|| (t, (a[t] / others).ln()))
        })
        .collect();
    if ratios.len() < 7 {
        return None;
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        (v[(n - 1) / 2] + v[n / 2]) / 2.0
    };
    let mid = median(ratios.iter().map(|r| r.1).collect());
    let sd = 1.4826 * median(ratios.iter().map(|r| (r.1 - mid).abs()).collect());
    if sd <= 0.0 {
        return None;
    }
    ratios
        .into_iter()
        .filter(|&(t, _)| cnt[wdays[t]] > 2)
        .map(|(t, r)| (t, (mid - r) / sd))
        .filter(|&(_, s)| s > z)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(t, _)| t)
}

/// SNAP factor per state × category: mean de-weekdayed group sum on SNAP days over that on
/// other days (1 without both kinds of day).
pub(super) fn snap_factors(
    g_sum: &[Vec<f64>],
    profiles: &[[f64; 7]],
    is_snap: &[Vec<bool>],
    snap_of_group: &[usize],
    n_snap: usize,
    wdays: &[usize],
    use_day: impl Fn(usize, usize) -> bool,
) -> Vec<f64> {
    let mut acc = vec![[0.0f64; 4]; n_snap]; // snap sum, snap days, other sum, other days
    for (g, y) in g_sum.iter().enumerate() {
        for (t, &v) in y.iter().enumerate().filter(|(t, _)| use_day(g, *t)) {
            let adj = v / profiles[g][wdays[t]].max(1e-9);
            let a = &mut acc[snap_of_group[g]];
            if is_snap[g][t] {
                a[0] += adj;
                a[1] += 1.0;
            } else {
                a[2] += adj;
                a[3] += 1.0;
            }
        }
    }
    acc.iter()
        .map(|a| {
            if a[1] > 0.0 && a[3] > 0.0 && a[2] > 0.0 {
                (a[0] / a[1]) / (a[2] / a[3])
            } else {
                1.0
            }
        })
        .collect()
}

/// Which history days the estimates use: all, or (with `skip`) the non-event days, except that
/// a weekday with fewer than `min_days` non-event days keeps all of its days.
pub(super) fn usable_days(
    wdays: &[usize],
    is_event: &[bool],
    skip: bool,
    min_days: usize,
) -> Vec<bool> {
    let mut clean = [0usize; 7];
    for (&w, &e) in wdays.iter().zip(is_event) {
        if !e {
            clean[w] += 1;
        }
    }
    wdays
        .iter()
        .zip(is_event)
        .map(|(&w, &e)| !skip || !e || clean[w] < min_days)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_days_are_kept_where_a_weekday_would_be_left_too_thin() {
        // Two weeks; both Sundays (index 1) and one Monday (index 2) are events.
        let wdays: Vec<usize> = (0..14).map(|t| t % 7).collect();
        let ev: Vec<bool> = (0..14).map(|t| t == 1 || t == 8 || t == 2).collect();
        let all = usable_days(&wdays, &ev, false, 0);
        assert!(all.iter().all(|&u| u));
        let plain = usable_days(&wdays, &ev, true, 0);
        assert_eq!(plain.iter().filter(|u| !**u).count(), 3);
        let kept = usable_days(&wdays, &ev, true, 1);
        // Sundays had no clean day → kept; the Monday has one clean Monday → skipped.
        assert!(kept[1] && kept[8] && !kept[2] && kept[9], "{kept:?}");
        let two = usable_days(&wdays, &ev, true, 2);
        assert!(two.iter().all(|&u| u), "{two:?}");
    }

    #[test]
    fn trimming_drops_the_day_farthest_from_the_weekday_median() {
        // Four Sundays 53, 45, 60, 54 (median 53.5): 45 is farthest. Mondays: three days only.
        let wdays: Vec<usize> = (0..28).map(|t| t % 7).collect();
        let mut y = vec![10.0; 28];
        for (k, v) in [53.0, 45.0, 60.0, 54.0].into_iter().enumerate() {
            y[1 + 7 * k] = v;
        }
        let mut use_day = vec![true; 28];
        use_day[2] = false;
        let u = trim_outlier_days(&y, &wdays, &use_day, 4);
        assert!(!u[8] && u[1] && u[15] && u[22], "{u:?}");
        assert!(u[9] && u[16] && u[23] && !u[2]);
        assert_eq!(u.iter().filter(|v| !**v).count(), 1 + 6);
        assert_eq!(trim_outlier_days(&y, &wdays, &use_day, 0), use_day);
    }

    /// Four weeks of a store: weekdays 1,000, Saturdays 1,300, Sundays 1,400, ±5 % noise.
    fn store_weeks() -> (Vec<f64>, Vec<usize>) {
        let wdays: Vec<usize> = (0..28).map(|t| t % 7).collect();
        let y = wdays
            .iter()
            .enumerate()
            .map(|(t, &w)| {
                let base = match w {
                    0 => 1300.0,
                    1 => 1400.0,
                    _ => 1000.0,
                };
                base * (1.0 + 0.05 * ((t * 7 % 5) as f64 - 2.0) / 2.0)
            })
            .collect();
        (y, wdays)
    }

    #[test]
    fn a_holiday_far_below_its_weekday_is_left_out_and_a_high_day_is_not() {
        let (mut y, wdays) = store_weeks();
        let snap = vec![false; 28];
        let all = vec![true; 28];
        assert!(
            outlier_days(&y, &wdays, &snap, &all, 2.5)
                .iter()
                .all(|f| !f)
        );
        // Mother's Day: the second Sunday 25 % down; the third Sunday 15 % up.
        y[8] *= 0.75;
        y[15] *= 1.15;
        let far = outlier_days(&y, &wdays, &snap, &all, 2.5);
        let left: Vec<usize> = (0..28).filter(|&t| far[t]).collect();
        assert_eq!(left, vec![8]);
        assert!(
            outlier_days(&y, &wdays, &snap, &all, 0.0)
                .iter()
                .all(|f| !f)
        );
        // With two Sundays usable there is no telling which one is odd: both stay.
        let two: Vec<bool> = (0..28).map(|t| t != 1 && t != 22).collect();
        assert!(!outlier_days(&y, &wdays, &snap, &two, 2.5)[8]);
        // A store selling a few units a day is not judged.
        let small: Vec<f64> = y.iter().map(|v| v / 100.0).collect();
        assert!(
            outlier_days(&small, &wdays, &snap, &all, 2.5)
                .iter()
                .all(|f| !f)
        );
    }

    #[test]
    fn snap_days_are_compared_net_of_their_lift() {
        // The first ten days sell 30 % more (SNAP): none of the others is an outlier for that.
        let (mut y, wdays) = store_weeks();
        let snap: Vec<bool> = (0..28).map(|t| t < 10).collect();
        for v in &mut y[..10] {
            *v *= 1.3;
        }
        let far = outlier_days(&y, &wdays, &snap, &[true; 28], 2.5);
        assert!(far.iter().all(|f| !f), "{far:?}");
    }

    #[test]
    fn weekday_without_usable_days_gets_factor_one() {
        // Two weeks, shape 1..=7; both Fridays (index 6) are excluded.
        let wdays: Vec<usize> = (0..14).map(|t| t % 7).collect();
        let y: Vec<f64> = (0..14).map(|t| (t % 7 + 1) as f64).collect();
        let use_day: Vec<bool> = (0..14).map(|t| t % 7 != 6).collect();
        let p = weekday_profile(&y, &wdays, &use_day);
        // Seen weekdays have mean 3.5 → factors w/3.5, Friday 1; then normalised to mean 1.
        let raw: Vec<f64> = (1..=6).map(|w| w as f64 / 3.5).chain([1.0]).collect();
        let norm = raw.iter().sum::<f64>() / 7.0;
        for w in 0..7 {
            assert!((p[w] - raw[w] / norm).abs() < 1e-12, "{p:?}");
        }
        assert_eq!(
            weekday_profile(&[0.0; 7], &wdays[..7], &[true; 7]),
            [1.0; 7]
        );
    }
}
