//! Sample-size marks of a comparison, by the rules of [`crate::stats::sample`]: a document
//! type paired on fewer documents than its minimum is marked "insufficient sample" (the
//! percentile marks are [`super::MetricComparison::low_sample`]).
//!
//! The minimum per type is what the runs were checked against (their groups'
//! `sample.minimum`, i.e. their profiles' `min_documents`): the larger of the two when
//! they differ, so the stricter run's minimum holds; the seed's
//! [`MIN_DOCUMENTS_PER_TYPE`] for a run written before the marks.

use super::metrics::GroupComparison;
use super::Comparison;
use crate::dataset::DocType;
use crate::sla::SamplePolicy;
use crate::stats::{SampleSize, MIN_DOCUMENTS_PER_TYPE};
use std::collections::BTreeMap;

/// The minimum documents of `doc_type` for a comparison of runs with these recorded
/// minimums.
pub fn minimum(runs: &[&BTreeMap<DocType, usize>], doc_type: DocType) -> usize {
    runs.iter()
        .filter_map(|m| m.get(&doc_type).copied())
        .max()
        .unwrap_or(MIN_DOCUMENTS_PER_TYPE)
}

/// Sets each document type's `sample` from its paired documents (`all` has none).
pub fn mark(groups: &mut [GroupComparison], runs: &[&BTreeMap<DocType, usize>]) {
    for g in groups {
        g.sample = g
            .doc_type
            .map(|t| SampleSize::new(g.documents, minimum(runs, t)));
    }
}

impl GroupComparison {
    /// The group's "insufficient sample: 2 < 50 documents" mark, if any.
    pub fn sample_mark(&self) -> Option<String> {
        self.sample.and_then(|s| s.mark())
    }
}

impl Comparison {
    /// `true` when any document type was paired on fewer documents than its minimum.
    pub fn any_insufficient_sample(&self) -> bool {
        self.groups
            .iter()
            .any(|g| g.sample.is_some_and(|s| s.insufficient))
    }

    /// Whether the gate fails under `policy`: a failed gate, or (with
    /// [`SamplePolicy::Fail`]) a document type on too few documents.
    pub fn fails(&self, policy: SamplePolicy) -> bool {
        policy.run_fails(!self.passed, self.any_insufficient_sample())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stricter_recorded_minimum_holds_and_50_without_one() {
        let a = BTreeMap::from([(DocType::Prescription, 30)]);
        let b = BTreeMap::from([(DocType::Prescription, 40)]);
        let none = BTreeMap::new();
        assert_eq!(minimum(&[&a, &b], DocType::Prescription), 40);
        assert_eq!(minimum(&[&a, &none], DocType::Prescription), 30);
        assert_eq!(
            minimum(&[&a, &b], DocType::LabResult),
            MIN_DOCUMENTS_PER_TYPE
        );
    }

    #[test]
    fn types_are_marked_and_all_is_not() {
        let group = |doc_type: Option<DocType>, documents: usize| GroupComparison {
            group: doc_type.map_or("all".into(), |t| t.to_string()),
            doc_type,
            documents,
            pairs: documents,
            sample: None,
            metrics: Vec::new(),
        };
        let mut groups = vec![
            group(None, 60),
            group(Some(DocType::Prescription), 50),
            group(Some(DocType::LabResult), 10),
        ];
        mark(&mut groups, &[&BTreeMap::new()]);
        assert_eq!(groups[0].sample, None);
        assert_eq!(groups[1].sample_mark(), None);
        assert_eq!(
            groups[2].sample_mark().as_deref(),
            Some("insufficient sample: 10 < 50 documents")
        );
    }
}
