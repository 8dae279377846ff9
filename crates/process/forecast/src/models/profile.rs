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

/// SNAP factor per state × category: mean de-weekdayed group sum on SNAP days over that on
/// other days (1 without both kinds of day).
pub(super) fn snap_factors(
    g_sum: &[Vec<f64>],
    profiles: &[[f64; 7]],
    is_snap: &[Vec<bool>],
    snap_of_group: &[usize],
    n_snap: usize,
    wdays: &[usize],
    use_day: &[bool],
) -> Vec<f64> {
    let mut acc = vec![[0.0f64; 4]; n_snap]; // snap sum, snap days, other sum, other days
    for (g, y) in g_sum.iter().enumerate() {
        for (t, &v) in y.iter().enumerate().filter(|(t, _)| use_day[*t]) {
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
