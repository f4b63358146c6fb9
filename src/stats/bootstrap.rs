//! Percentile bootstrap confidence intervals (Efron & Tibshirani 1993, ch. 13).
//!
//! For a sample of n items and a statistic θ: draw B resamples of n items with
//! replacement (indices uniform, ChaCha8 seeded so runs are reproducible), compute θ on
//! each, sort the B values and take their `α/2` and `1 − α/2` percentiles (numpy linear
//! method) with `α = 1 − confidence`. The point estimate is θ on the original sample.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::percentile::percentile_sorted;
use super::StatsError;

/// Bootstrap settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of resamples B (default 2000).
    pub resamples: usize,
    /// Two-sided confidence level (default 0.95).
    pub confidence: f64,
    /// ChaCha8 seed (default fixed, so the same data give the same interval).
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            resamples: 2000,
            confidence: 0.95,
            seed: 0x6d65_646f_6372, // "medocr"
        }
    }
}

/// A point estimate with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceInterval {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    pub confidence: f64,
    pub resamples: usize,
}

impl ConfidenceInterval {
    /// Whether `value` lies outside `[lower, upper]` (e.g. 0 for a difference).
    pub fn excludes(&self, value: f64) -> bool {
        value < self.lower || value > self.upper
    }
}

/// Percentile bootstrap CI of `statistic` over `sample` (any item type, so a ratio of
/// sums such as a micro-averaged CER can be resampled per document).
pub fn bootstrap_ci<T: Clone, F: FnMut(&[T]) -> f64>(
    sample: &[T],
    mut statistic: F,
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError> {
    if sample.is_empty() {
        return Err(StatsError::EmptySample);
    }
    if cfg.resamples == 0 {
        return Err(StatsError::NoResamples);
    }
    if !(cfg.confidence > 0.0 && cfg.confidence < 1.0) {
        return Err(StatsError::InvalidConfidence(cfg.confidence));
    }
    let estimate = statistic(sample);
    let n = sample.len();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut buf: Vec<T> = sample.to_vec();
    let mut stats = Vec::with_capacity(cfg.resamples);
    for _ in 0..cfg.resamples {
        for slot in buf.iter_mut() {
            *slot = sample[rng.random_range(0..n)].clone();
        }
        let s = statistic(&buf);
        if !s.is_finite() {
            return Err(StatsError::NonFiniteStatistic(s));
        }
        stats.push(s);
    }
    stats.sort_by(f64::total_cmp);
    let alpha = 1.0 - cfg.confidence;
    Ok(ConfidenceInterval {
        estimate,
        lower: percentile_sorted(&stats, 100.0 * alpha / 2.0)?,
        upper: percentile_sorted(&stats, 100.0 * (1.0 - alpha / 2.0))?,
        confidence: cfg.confidence,
        resamples: cfg.resamples,
    })
}

/// Paired bootstrap of `mean(candidate − baseline)`: item i of both samples is the same
/// document, so pairs are resampled together, which is the same as resampling the
/// differences `d_i = candidate_i − baseline_i` and taking their mean. An interval that
/// excludes 0 means the difference is unlikely to be resampling noise at that level.
pub fn paired_bootstrap_mean_diff(
    baseline: &[f64],
    candidate: &[f64],
    cfg: &BootstrapConfig,
) -> Result<ConfidenceInterval, StatsError> {
    if baseline.len() != candidate.len() {
        return Err(StatsError::LengthMismatch {
            baseline: baseline.len(),
            candidate: candidate.len(),
        });
    }
    let diffs: Vec<f64> = baseline.iter().zip(candidate).map(|(b, c)| c - b).collect();
    if let Some(&bad) = diffs.iter().find(|d| !d.is_finite()) {
        return Err(StatsError::NonFinite(bad));
    }
    bootstrap_ci(&diffs, |d| d.iter().sum::<f64>() / d.len() as f64, cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(x: &[f64]) -> f64 {
        x.iter().sum::<f64>() / x.len() as f64
    }

    /// 500 values spread evenly over [0, 1): σ ≈ 0.2887, standard error ≈ 0.0129.
    fn uniformish() -> Vec<f64> {
        (0..500)
            .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
            .collect()
    }

    #[test]
    fn mean_interval_has_the_normal_width_and_is_reproducible() {
        let x = uniformish();
        let cfg = BootstrapConfig::default();
        let ci = bootstrap_ci(&x, mean, &cfg).unwrap();
        assert_eq!(ci.estimate, mean(&x));
        assert!(ci.lower < ci.estimate && ci.estimate < ci.upper);
        // Normal theory: 2 · 1.96 · 0.0129 ≈ 0.0506.
        let width = ci.upper - ci.lower;
        assert!((0.04..0.06).contains(&width), "width {width}");
        assert_eq!(bootstrap_ci(&x, mean, &cfg).unwrap(), ci);
        let other = bootstrap_ci(&x, mean, &BootstrapConfig { seed: 1, ..cfg }).unwrap();
        assert_ne!(other.lower, ci.lower);
    }

    #[test]
    fn paired_difference_detects_a_shift() {
        let base = uniformish();
        let cand: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, b)| b + 0.1 + ((i % 7) as f64 - 3.0) * 0.01)
            .collect();
        let ci = paired_bootstrap_mean_diff(&base, &cand, &BootstrapConfig::default()).unwrap();
        assert!((ci.estimate - 0.1).abs() < 0.01);
        assert!(ci.excludes(0.0));
        assert!(!ci.excludes(ci.estimate));
        let same = paired_bootstrap_mean_diff(&base, &base, &BootstrapConfig::default()).unwrap();
        assert_eq!((same.lower, same.upper), (0.0, 0.0));
    }

    #[test]
    fn errors() {
        let cfg = BootstrapConfig::default();
        assert_eq!(
            bootstrap_ci(&[] as &[f64], mean, &cfg),
            Err(StatsError::EmptySample)
        );
        assert_eq!(
            paired_bootstrap_mean_diff(&[1.0], &[1.0, 2.0], &cfg),
            Err(StatsError::LengthMismatch {
                baseline: 1,
                candidate: 2
            })
        );
        let bad = BootstrapConfig {
            confidence: 1.0,
            ..cfg
        };
        assert_eq!(
            bootstrap_ci(&[1.0], mean, &bad),
            Err(StatsError::InvalidConfidence(1.0))
        );
        let none = BootstrapConfig {
            resamples: 0,
            ..cfg
        };
        assert_eq!(
            bootstrap_ci(&[1.0], mean, &none),
            Err(StatsError::NoResamples)
        );
        assert!(matches!(
            bootstrap_ci(&[0.0, 1.0], |x| 1.0 / x[0], &cfg),
            Err(StatsError::NonFiniteStatistic(_))
        ));
    }
}
