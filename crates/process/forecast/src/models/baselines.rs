//! The M5 statistical baselines, one series at a time.
//!
//! As in the M5 benchmarks, leading zeros (days before the item was stocked) are dropped before
//! fitting; an all-zero history forecasts zero. Each function returns `h` values.

/// Strips leading zeros.
fn active(y: &[f64]) -> &[f64] {
    let start = y.iter().position(|&v| v != 0.0).unwrap_or(y.len());
    &y[start..]
}

/// Naive: the last value, repeated.
pub fn naive(y: &[f64], h: usize) -> Vec<f64> {
    vec![y.last().copied().unwrap_or(0.0); h]
}

/// Seasonal naive: the last full season (`period` days) repeated. Shorter histories fall back
/// to [`naive`].
pub fn seasonal_naive(y: &[f64], h: usize, period: usize) -> Vec<f64> {
    if period == 0 || y.len() < period {
        return naive(y, h);
    }
    let season = &y[y.len() - period..];
    (0..h).map(|i| season[i % period]).collect()
}

/// Moving average of the last `k` active days.
pub fn moving_average(y: &[f64], h: usize, k: usize) -> Vec<f64> {
    let a = active(y);
    if a.is_empty() || k == 0 {
        return vec![0.0; h];
    }
    let k = k.min(a.len());
    vec![a[a.len() - k..].iter().sum::<f64>() / k as f64; h]
}

/// Moving average with the window (2..=14, as the M5 benchmark) that minimises the in-sample
/// one-step-ahead squared error.
pub fn moving_average_auto(y: &[f64], h: usize) -> Vec<f64> {
    let a = active(y);
    let mut best = (f64::INFINITY, 2);
    for k in 2..=14usize.min(a.len().saturating_sub(1)).max(2) {
        let err: f64 = (k..a.len())
            .map(|t| (a[t] - a[t - k..t].iter().sum::<f64>() / k as f64).powi(2))
            .sum();
        if err < best.0 {
            best = (err, k);
        }
    }
    moving_average(y, h, best.1)
}

/// Simple exponential smoothing; the level starts at the first active value.
pub fn ses(y: &[f64], h: usize, alpha: f64) -> Vec<f64> {
    vec![ses_level(active(y), alpha).0; h]
}

/// Final level and in-sample one-step squared error.
fn ses_level(a: &[f64], alpha: f64) -> (f64, f64) {
    let Some(&first) = a.first() else {
        return (0.0, 0.0);
    };
    let (mut level, mut err) = (first, 0.0);
    for &v in &a[1..] {
        err += (v - level).powi(2);
        level += alpha * (v - level);
    }
    (level, err)
}

/// SES with α from 0.10..=0.30 (step 0.01, the M5 benchmark's range) minimising in-sample error.
pub fn ses_auto(y: &[f64], h: usize) -> Vec<f64> {
    let a = active(y);
    let alpha = (10..=30)
        .map(|i| f64::from(i) / 100.0)
        .min_by(|&p, &q| ses_level(a, p).1.total_cmp(&ses_level(a, q).1))
        .unwrap_or(0.1);
    ses(y, h, alpha)
}

/// Croston's method: SES (α) on the non-zero demand sizes and, separately, on the intervals
/// between them; forecast = size / interval. Both start at their first observation.
pub fn croston(y: &[f64], h: usize, alpha: f64) -> Vec<f64> {
    let a = active(y);
    let mut size: Option<f64> = None;
    let mut interval = 0.0;
    let mut gap = 0.0;
    for &v in a {
        gap += 1.0;
        if v != 0.0 {
            match size {
                None => {
                    size = Some(v);
                    interval = gap;
                }
                Some(s) => {
                    size = Some(s + alpha * (v - s));
                    interval += alpha * (gap - interval);
                }
            }
            gap = 0.0;
        }
    }
    let f = match size {
        Some(s) if interval > 0.0 => s / interval,
        _ => 0.0,
    };
    vec![f; h]
}

/// Teunter–Syntetos–Babai: demand probability smoothed every day (β), demand size on demand days
/// (α); forecast = probability × size. Starts from the share of non-zero days and the mean
/// non-zero size of the active history.
pub fn tsb(y: &[f64], h: usize, alpha: f64, beta: f64) -> Vec<f64> {
    let a = active(y);
    let nz: Vec<f64> = a.iter().copied().filter(|&v| v != 0.0).collect();
    if nz.is_empty() {
        return vec![0.0; h];
    }
    let mut p = nz.len() as f64 / a.len() as f64;
    let mut z = nz.iter().sum::<f64>() / nz.len() as f64;
    for &v in a {
        if v != 0.0 {
            p += beta * (1.0 - p);
            z += alpha * (v - z);
        } else {
            p -= beta * p;
        }
    }
    vec![p * z; h]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn naive_and_seasonal_naive() {
        let y = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        assert_eq!(naive(&y, 2), vec![8.0, 8.0]);
        // Last 7 days are 2..=8; day 8 repeats the first of them.
        assert_eq!(
            seasonal_naive(&y, 8, 7),
            vec![2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 2.0]
        );
        assert_eq!(seasonal_naive(&[1.0, 2.0], 2, 7), vec![2.0, 2.0]);
        assert_eq!(naive(&[], 1), vec![0.0]);
    }

    #[test]
    fn moving_average_by_hand() {
        assert_eq!(
            moving_average(&[0.0, 0.0, 3.0, 1.0, 2.0], 2, 2),
            vec![1.5, 1.5]
        );
        // k larger than the active history: all of it (3, 1, 2) → 2.
        assert_eq!(moving_average(&[0.0, 3.0, 1.0, 2.0], 1, 5), vec![2.0]);
        // Alternating 1,3: even windows are exact (mean 2), so k = 2 is picked.
        let y: Vec<f64> = (0..20)
            .map(|i| if i % 2 == 0 { 1.0 } else { 3.0 })
            .collect();
        assert!(close(&moving_average_auto(&y, 3), &[2.0; 3]));
    }

    #[test]
    fn ses_by_hand() {
        // Level: 2 → 2 + 0.5·(4−2) = 3 → 3 + 0.5·(0−3) = 1.5.
        assert!(close(&ses(&[0.0, 2.0, 4.0, 0.0], 2, 0.5), &[1.5, 1.5]));
        let f = ses_auto(&[1.0, 5.0, 1.0, 5.0, 1.0, 5.0], 1);
        assert!(f[0] > 1.0 && f[0] < 5.0);
    }

    #[test]
    fn croston_by_hand() {
        // Active history 3,0,0,6,0,2: first demand 3 with interval 1; then 6 after 3 days:
        // size 3 + .5·(6−3) = 4.5, interval 1 + .5·(3−1) = 2; then 2 after 2 days: size 3.25,
        // interval 2. Forecast 3.25 / 2.
        let f = croston(&[0.0, 3.0, 0.0, 0.0, 6.0, 0.0, 2.0], 2, 0.5);
        assert!(close(&f, &[1.625, 1.625]), "{f:?}");
        assert_eq!(croston(&[0.0; 5], 1, 0.1), vec![0.0]);
    }

    #[test]
    fn tsb_by_hand() {
        // Active 2,0,4: p0 = 2/3, z0 = 3. Day 2: p = 2/3 + .5/3 = 5/6, z = 3 − .5 = 2.5;
        // day 0: p = 5/12; day 4: p = 5/12 + .5·7/12 = 17/24, z = 2.5 + .75 = 3.25.
        let f = tsb(&[0.0, 2.0, 0.0, 4.0], 1, 0.5, 0.5);
        assert!(close(&f, &[17.0 / 24.0 * 3.25]), "{f:?}");
        assert_eq!(tsb(&[0.0, 0.0], 3, 0.1, 0.1), vec![0.0; 3]);
    }
}
