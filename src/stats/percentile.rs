//! Percentiles by linear interpolation between order statistics, exactly as numpy's
//! default (`np.percentile(x, p)`, `method="linear"`, Hyndman & Fan type 7):
//!
//! with the sample sorted ascending as `x[0] ≤ … ≤ x[n−1]`, `q = p / 100`,
//! `h = (n − 1)·q`, `lo = ⌊h⌋`, `γ = h − lo`:
//! `P = x[lo] + γ·(x[lo+1] − x[lo])`, computed as numpy's `_lerp` does
//! (`x[lo+1] − (x[lo+1] − x[lo])·(1 − γ)` when `γ ≥ 0.5`) so results match bit for bit;
//! `h ≥ n − 1` gives `x[n−1]`.

use super::StatsError;

/// The `p`-th percentile (`p` in [0, 100]) of an ascending-sorted, finite sample.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Result<f64, StatsError> {
    if !(0.0..=100.0).contains(&p) {
        return Err(StatsError::InvalidPercentile(p));
    }
    quantile_sorted(sorted, p / 100.0)
}

/// The quantile `q` in [0, 1] of an ascending-sorted, finite sample (see module docs).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Result<f64, StatsError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(StatsError::InvalidPercentile(q * 100.0));
    }
    let n = sorted.len();
    if n == 0 {
        return Err(StatsError::EmptySample);
    }
    let h = (n - 1) as f64 * q;
    let lo = h.floor();
    if lo >= (n - 1) as f64 {
        return Ok(sorted[n - 1]);
    }
    let i = lo as usize;
    let gamma = h - lo;
    let (a, b) = (sorted[i], sorted[i + 1]);
    let diff = b - a;
    Ok(if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    })
}

/// The `p`-th percentile of an unsorted sample; rejects non-finite values.
pub fn percentile(values: &[f64], p: f64) -> Result<f64, StatsError> {
    if let Some(&bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(StatsError::NonFinite(bad));
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile_sorted(&sorted, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_like_numpy() {
        // x = [1, 2, 3, 4, 10]: p50 → h = 2 → 3; p90 → h = 3.6 → 4 + 0.6·6 = 7.6;
        // p25 → h = 1 → 2; p99 → h = 3.96 → 10 − 6·0.04 = 9.76.
        let x = [10.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&x, 50.0).unwrap(), 3.0);
        assert!((percentile(&x, 90.0).unwrap() - 7.6).abs() < 1e-12);
        assert_eq!(percentile(&x, 25.0).unwrap(), 2.0);
        assert!((percentile(&x, 99.0).unwrap() - 9.76).abs() < 1e-12);
        assert_eq!(percentile(&x, 0.0).unwrap(), 1.0);
        assert_eq!(percentile(&x, 100.0).unwrap(), 10.0);
        // Even count: median is the midpoint. [1, 2, 3, 4]: p50 → h = 1.5 → 2.5;
        // p95 → h = 2.85 → 4 − 1·0.15 = 3.85.
        let y = [4.0, 3.0, 2.0, 1.0];
        assert_eq!(percentile(&y, 50.0).unwrap(), 2.5);
        assert!((percentile(&y, 95.0).unwrap() - 3.85).abs() < 1e-12);
        assert_eq!(percentile(&[7.5], 99.0).unwrap(), 7.5);
    }

    #[test]
    fn bit_exact_against_numpy() {
        // np.percentile(np.arange(1, 101) * 0.1, [50, 90, 95, 99]), repr() (numpy 2.4):
        // rounding of the interpolation shows, so equality checks the same arithmetic.
        let x: Vec<f64> = (1..=100).map(|i| i as f64 * 0.1).collect();
        assert_eq!(percentile(&x, 50.0).unwrap(), 5.050000000000001);
        assert_eq!(percentile(&x, 90.0).unwrap(), 9.010000000000002);
        assert_eq!(percentile(&x, 95.0).unwrap(), 9.504999999999999);
        assert_eq!(percentile(&x, 99.0).unwrap(), 9.901000000000002);
        // np.percentile([10, 1, 3, 2, 4], 90) and np.percentile([4, 3, 2, 1], 95).
        assert_eq!(
            percentile(&[10.0, 1.0, 3.0, 2.0, 4.0], 90.0).unwrap(),
            7.6000000000000005
        );
        assert_eq!(
            percentile(&[4.0, 3.0, 2.0, 1.0], 95.0).unwrap(),
            3.8499999999999996
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(percentile(&[], 50.0), Err(StatsError::EmptySample));
        assert_eq!(
            percentile(&[1.0], 101.0),
            Err(StatsError::InvalidPercentile(101.0))
        );
        assert!(matches!(
            percentile(&[1.0, f64::NAN], 50.0),
            Err(StatsError::NonFinite(_))
        ));
    }
}
