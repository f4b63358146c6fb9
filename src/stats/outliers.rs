//! Outlier flags by the modified z-score (Iglewicz & Hoaglin 1993):
//!
//! `M_i = 0.6745 · (x_i − median) / MAD`, `MAD = median |x_i − median|`; a value is an
//! outlier when `|M_i| > 3.5`. 0.6745 ≈ Φ⁻¹(0.75) makes `MAD / 0.6745` estimate σ for
//! normal data, so `M_i` reads like a z-score that a few extreme values cannot inflate.
//!
//! When more than half the values are equal, MAD is 0; the scale then falls back to the
//! mean absolute deviation from the median: `M_i = (x_i − median) / (1.253314 · MeanAD)`
//! (1.253314 ≈ √(π/2), the same σ consistency). When that is 0 too, every value equals
//! the median and nothing is flagged.

use serde::{Deserialize, Serialize};

use super::percentile::percentile_sorted;
use super::StatsError;

/// The usual cut-off for `|M_i|`.
pub const MODIFIED_Z_THRESHOLD: f64 = 3.5;

/// Which spread estimate scaled the scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutlierScale {
    Mad,
    MeanAbsoluteDeviation,
    /// All values equal: scores are 0.
    Constant,
}

/// Modified z-scores and flags, one per input value, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutlierReport {
    pub median: f64,
    pub mad: f64,
    pub scale: OutlierScale,
    pub threshold: f64,
    pub scores: Vec<f64>,
    pub flags: Vec<bool>,
}

impl OutlierReport {
    /// Indices of the flagged values.
    pub fn outlier_indices(&self) -> Vec<usize> {
        self.flags
            .iter()
            .enumerate()
            .filter_map(|(i, &f)| f.then_some(i))
            .collect()
    }
}

/// Flags outliers with the standard threshold 3.5.
pub fn mad_outliers(values: &[f64]) -> Result<OutlierReport, StatsError> {
    mad_outliers_with(values, MODIFIED_Z_THRESHOLD)
}

/// Flags values with `|M_i| > threshold` (see module docs).
pub fn mad_outliers_with(values: &[f64], threshold: f64) -> Result<OutlierReport, StatsError> {
    if let Some(&bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(StatsError::NonFinite(bad));
    }
    let median_of = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        percentile_sorted(&s, 50.0)
    };
    let median = median_of(values)?;
    let dev: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
    let mad = median_of(&dev)?;
    let mean_ad = dev.iter().sum::<f64>() / dev.len() as f64;
    let (scale, divisor) = if mad > 0.0 {
        (OutlierScale::Mad, mad / 0.6745)
    } else if mean_ad > 0.0 {
        (OutlierScale::MeanAbsoluteDeviation, 1.253314 * mean_ad)
    } else {
        (OutlierScale::Constant, f64::INFINITY)
    };
    let scores: Vec<f64> = values.iter().map(|x| (x - median) / divisor).collect();
    let flags = scores.iter().map(|m| m.abs() > threshold).collect();
    Ok(OutlierReport {
        median,
        mad,
        scale,
        threshold,
        scores,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_the_slow_request() {
        // median 11; |x − 11| = [1, 0, 1, 0, 1, 0, 39] → MAD 1; M(50) = 0.6745 · 39 ≈ 26.3.
        let r = mad_outliers(&[10.0, 11.0, 12.0, 11.0, 10.0, 11.0, 50.0]).unwrap();
        assert_eq!((r.median, r.mad, r.scale), (11.0, 1.0, OutlierScale::Mad));
        assert_eq!(r.outlier_indices(), vec![6]);
        assert!((r.scores[6] - 0.6745 * 39.0).abs() < 1e-12);
        assert!((r.scores[0] + 0.6745).abs() < 1e-12);
    }

    #[test]
    fn zero_mad_falls_back_to_mean_absolute_deviation() {
        // median 5, MAD 0, MeanAD = 4 / 5 = 0.8; M(9) = 4 / (1.253314 · 0.8) ≈ 3.99.
        let r = mad_outliers(&[5.0, 5.0, 5.0, 5.0, 9.0]).unwrap();
        assert_eq!(r.scale, OutlierScale::MeanAbsoluteDeviation);
        assert_eq!(r.outlier_indices(), vec![4]);
        let r = mad_outliers(&[3.0, 3.0, 3.0]).unwrap();
        assert_eq!(r.scale, OutlierScale::Constant);
        assert!(r.flags.iter().all(|f| !f));
    }

    #[test]
    fn errors() {
        assert_eq!(mad_outliers(&[]), Err(StatsError::EmptySample));
        assert!(matches!(
            mad_outliers(&[1.0, f64::NAN]),
            Err(StatsError::NonFinite(_))
        ));
    }
}
