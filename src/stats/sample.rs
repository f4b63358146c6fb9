//! When a figure rests on too few samples.
//!
//! **Percentiles.** A `p`-th percentile (`q = p / 100`) is marked *low-sample* when
//! `n < ⌈1 / (1 − q)⌉`, i.e. when fewer than one sample is expected above it
//! (`n·(1 − q) < 1`). Below that size the linear interpolation of
//! [`super::percentile()`] reads it off the sample's largest value and its neighbour,
//! so it says little about the true tail: p50 needs 2 samples, p90 10, p95 20, p99 100,
//! p99.9 1000. `p = 100` (the maximum) is a statement about the observed sample and
//! needs only one.
//!
//! **Documents per type.** The seed's evaluation procedure asks for at least
//! [`MIN_DOCUMENTS_PER_TYPE`] documents of each type before accuracy and latency figures
//! are read as release figures; an SLA profile may raise or lower it (`min_documents`).

use serde::{Deserialize, Serialize};

/// The seed's minimum number of documents per document type (its "≥ 50 samples").
pub const MIN_DOCUMENTS_PER_TYPE: usize = 50;

/// The smallest sample whose `p`-th percentile (`p` in (0, 100]) is not low-sample (see the
/// module docs): `⌈100 / (100 − p)⌉`, and 1 for `p = 100`.
pub fn min_samples_for_percentile(p: f64) -> usize {
    if p >= 100.0 {
        return 1;
    }
    let exact = 100.0 / (100.0 - p.max(0.0));
    // 100 − 99.9 is not exact in binary; a hair's tolerance keeps ⌈1000.00…01⌉ at 1000.
    (exact - 1e-9).ceil().max(1.0) as usize
}

/// Whether the `p`-th percentile of `n` samples rests on too few of them.
pub fn percentile_low_sample(p: f64, n: usize) -> bool {
    n < min_samples_for_percentile(p)
}

/// How many documents a group had against the minimum it needs.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleSize {
    pub documents: usize,
    /// The minimum: [`MIN_DOCUMENTS_PER_TYPE`] unless the type's SLA profile sets
    /// `min_documents`.
    pub minimum: usize,
    /// `documents < minimum`: the group's figures are not release figures.
    pub insufficient: bool,
}

impl SampleSize {
    pub fn new(documents: usize, minimum: usize) -> SampleSize {
        SampleSize {
            documents,
            minimum,
            insufficient: documents < minimum,
        }
    }

    /// The mark every report shows, e.g. `insufficient sample: 3 < 50 documents`;
    /// `None` when the sample is large enough.
    pub fn mark(&self) -> Option<String> {
        self.insufficient.then(|| {
            format!(
                "insufficient sample: {} < {} documents",
                self.documents, self.minimum
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_minimums() {
        let cases = [
            (50.0, 2),
            (90.0, 10),
            (95.0, 20),
            (99.0, 100),
            (99.9, 1000),
            (100.0, 1),
            (0.0, 1),
        ];
        for (p, n) in cases {
            assert_eq!(min_samples_for_percentile(p), n, "p{p}");
            assert!(percentile_low_sample(p, n - 1) || n == 1, "p{p} at n − 1");
            assert!(!percentile_low_sample(p, n), "p{p} at n");
        }
        assert!(percentile_low_sample(99.0, 99));
        assert!(!percentile_low_sample(50.0, 2));
    }

    #[test]
    fn document_minimum() {
        let small = SampleSize::new(3, MIN_DOCUMENTS_PER_TYPE);
        assert!(small.insufficient);
        assert_eq!(
            small.mark().as_deref(),
            Some("insufficient sample: 3 < 50 documents")
        );
        let enough = SampleSize::new(50, MIN_DOCUMENTS_PER_TYPE);
        assert!(!enough.insufficient);
        assert_eq!(enough.mark(), None);
    }
}
