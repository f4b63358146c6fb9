//! One-line summaries of a sample (latencies, per-document CER, …).

use serde::{Deserialize, Serialize};

use super::percentile::percentile_sorted;
use super::sample::percentile_low_sample;

/// Count, moments, extremes and tail percentiles of a sample.
///
/// - `mean = Σx / n`;
/// - `std` is the **sample** standard deviation, `sqrt(Σ(x − mean)² / (n − 1))`
///   (numpy `std(ddof=1)`), computed in two passes; `None` when `n < 2`;
/// - percentiles follow numpy's default linear method ([`super::percentile()`]);
/// - `tlr`, the tail latency ratio, is `p99 / p50` (`None` when `p50 = 0`);
/// - `pNN_low_sample` marks a percentile that rests on too few samples by the rule of
///   [`super::sample`] (`n < ⌈1 / (1 − q)⌉`): p50 below 2, p90 below 10, p95 below 20,
///   p99 below 100. Such a percentile is interpolated from the few largest values and
///   should be read as such.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: usize,
    /// Non-finite values (NaN, ±∞) left out of every figure.
    pub excluded: usize,
    pub mean: f64,
    pub std: Option<f64>,
    pub min: f64,
    pub max: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub tlr: Option<f64>,
    pub p99_low_sample: bool,
    pub p95_low_sample: bool,
    /// Absent (false) in summaries written before it.
    #[serde(default)]
    pub p90_low_sample: bool,
    /// Absent (false) in summaries written before it.
    #[serde(default)]
    pub p50_low_sample: bool,
}

/// Summarises the finite values of a sample; `None` when there are none.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let std = (n >= 2).then(|| {
        let ss: f64 = sorted.iter().map(|x| (x - mean) * (x - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    let p = |q: f64| percentile_sorted(&sorted, q).expect("non-empty, q in range");
    let (p50, p99) = (p(50.0), p(99.0));
    Some(Summary {
        count: n,
        excluded: values.len() - n,
        mean,
        std,
        min: sorted[0],
        max: sorted[n - 1],
        p50,
        p90: p(90.0),
        p95: p(95.0),
        p99,
        tlr: (p50 != 0.0).then(|| p99 / p50),
        p99_low_sample: percentile_low_sample(99.0, n),
        p95_low_sample: percentile_low_sample(95.0, n),
        p90_low_sample: percentile_low_sample(90.0, n),
        p50_low_sample: percentile_low_sample(50.0, n),
    })
}

impl Summary {
    /// Same as [`summarize`].
    pub fn from_values(values: &[f64]) -> Option<Self> {
        summarize(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_ten_by_hand() {
        // mean 5.5; Σ(x − 5.5)² = 82.5, std = sqrt(82.5 / 9);
        // p90: h = 8.1 → 9.1; p95: h = 8.55 → 9.55; p99: h = 8.91 → 9.91 (numpy agrees).
        let x: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let s = summarize(&x).unwrap();
        assert_eq!(s.count, 10);
        assert_eq!(s.mean, 5.5);
        assert_eq!(s.std, Some((82.5f64 / 9.0).sqrt()));
        assert_eq!((s.min, s.max, s.p50), (1.0, 10.0, 5.5));
        assert!((s.p90 - 9.1).abs() < 1e-12);
        assert!((s.p95 - 9.55).abs() < 1e-12);
        assert!((s.p99 - 9.91).abs() < 1e-12);
        assert!((s.tlr.unwrap() - 9.91 / 5.5).abs() < 1e-12);
        assert!(s.p99_low_sample && s.p95_low_sample);
        // n = 10 is exactly p90's minimum (one sample expected above it).
        assert!(!s.p90_low_sample && !s.p50_low_sample);
    }

    #[test]
    fn empty_single_and_non_finite() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN]), None);
        let s = summarize(&[2.0, f64::NAN, f64::INFINITY]).unwrap();
        assert_eq!((s.count, s.excluded, s.std, s.p99), (1, 2, None, 2.0));
        assert!(s.p50_low_sample && s.p90_low_sample);
        let s = summarize(&[0.0, 0.0]).unwrap();
        assert_eq!(s.tlr, None);
        let many: Vec<f64> = (0..100).map(f64::from).collect();
        let s = summarize(&many).unwrap();
        assert!(!s.p99_low_sample && !s.p95_low_sample);
        assert!(!s.p90_low_sample && !s.p50_low_sample);
    }
}
