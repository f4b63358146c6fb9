//! Statistics for timing and accuracy figures: percentiles (numpy's default linear
//! method), when a figure rests on too few samples, summaries, bootstrap confidence
//! intervals and median/MAD outlier flags.
//! Every formula is documented where it is computed.

pub mod bootstrap;
pub mod outliers;
pub mod percentile;
pub mod sample;
pub mod summary;

pub use bootstrap::{
    bootstrap_ci, paired_bootstrap_mean_diff, BootstrapConfig, ConfidenceInterval,
};
pub use outliers::{
    mad_outliers, mad_outliers_with, OutlierReport, OutlierScale, MODIFIED_Z_THRESHOLD,
};
pub use percentile::{percentile, percentile_sorted, quantile_sorted};
pub use sample::{
    min_samples_for_percentile, percentile_low_sample, SampleSize, MIN_DOCUMENTS_PER_TYPE,
};
pub use summary::{summarize, Summary};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    #[error("empty sample: the statistic needs at least one value")]
    EmptySample,
    #[error("sample contains a non-finite value ({0}); drop failed measurements before computing statistics")]
    NonFinite(f64),
    #[error("percentile must be within [0, 100], got {0}")]
    InvalidPercentile(f64),
    #[error("confidence level must be strictly between 0 and 1 (e.g. 0.95), got {0}")]
    InvalidConfidence(f64),
    #[error("bootstrap needs at least one resample")]
    NoResamples,
    #[error("paired samples differ in length ({baseline} baseline vs {candidate} candidate values); pair each document's baseline value with its candidate value")]
    LengthMismatch { baseline: usize, candidate: usize },
    #[error("the bootstrapped statistic returned a non-finite value ({0}) on a resample")]
    NonFiniteStatistic(f64),
}
