//! Checking what a run measured for one document type against its profile.

use super::Profile;
use crate::dataset::DocType;
use crate::stats::SampleSize;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a run measured for one document type (at one DPI).
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub documents: usize,
    pub failed: usize,
    /// Corpus CER (micro average), failed documents scored as empty output.
    pub cer: Option<f64>,
    pub wer: Option<f64>,
    /// Order-independent corpus CER and reading-order score (`score::order`).
    pub cer_unordered: Option<f64>,
    pub reading_order: Option<f64>,
    /// Accuracy per field type; `None` when no field of that type could be located.
    pub field_accuracy: BTreeMap<String, Option<f64>>,
    /// Per-document end-to-end latency and TTFT of successful documents, in ms.
    pub e2e_ms: Vec<f64>,
    pub ttft_ms: Vec<f64>,
    /// `false` for engines with no timing (replay): latency limits are not measured.
    pub timed: bool,
    /// Corpus micro F1 of diagnosis codes; `None` when there were none.
    pub code_f1: Option<f64>,
    /// Critical field errors over the group's documents.
    pub critical_errors: usize,
    /// Share of ground-truth fields extracted right, and critical errors among them
    /// (`--task extract`; `None` for a run that did not extract).
    pub extraction_accuracy: Option<f64>,
    pub extraction_critical_errors: Option<usize>,
}

#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// The limit could not be evaluated (no timing, no such field in the data).
    NotMeasured,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::NotMeasured => "N/A",
        }
    }
}

/// One limit of a profile and how the run did against it.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The profile key, e.g. `accuracy.max_cer` or `accuracy.fields.dose`.
    pub key: String,
    /// Human-readable form, e.g. `CER ≤ 1.00%` or `p95 E2E ≤ 3000 ms`.
    pub limit: String,
    pub threshold: f64,
    pub measured: Option<f64>,
    pub status: Status,
    /// Samples behind the measurement.
    pub samples: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// All checks for one document type.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub doc_type: DocType,
    pub checks: Vec<Check>,
    /// `Fail` if any check failed, `Pass` if at least one passed and none failed.
    pub status: Status,
    /// The type's documents against the profile's `min_documents`: a verdict on fewer is
    /// marked "insufficient sample" beside its status (absent in runs written before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<SampleSize>,
}

impl Verdict {
    /// Whether the verdict rests on fewer documents than the profile's minimum.
    pub fn insufficient_sample(&self) -> bool {
        self.sample.is_some_and(|s| s.insufficient)
    }

    /// The status as every report shows it: `PASS`, or
    /// `PASS (insufficient sample: 3 < 50 documents)` on too few documents.
    pub fn label(&self) -> String {
        match self.sample.and_then(|s| s.mark()) {
            Some(mark) => format!("{} ({mark})", self.status.label()),
            None => self.status.label().to_string(),
        }
    }
}

/// Checks `measured` against `profile`.
pub fn check(profile: &Profile, measured: &Measured) -> Verdict {
    let mut checks = Vec::new();
    let error_rate =
        (measured.documents > 0).then(|| measured.failed as f64 / measured.documents as f64);
    checks.push(Check::at_most(
        "max_error_rate",
        format!("errors ≤ {:.1}%", profile.max_error_rate * 100.0),
        profile.max_error_rate,
        error_rate,
        measured.documents,
    ));
    text_checks(profile, measured, &mut checks);
    field_checks(profile, measured, &mut checks);
    extraction_checks(profile, measured, &mut checks);
    latency_checks(profile, measured, &mut checks);
    let status = if checks.iter().any(|c| c.status == Status::Fail) {
        Status::Fail
    } else if checks.iter().any(|c| c.status == Status::Pass) {
        Status::Pass
    } else {
        Status::NotMeasured
    };
    Verdict {
        doc_type: profile.doc_type,
        checks,
        status,
        sample: Some(SampleSize::new(measured.documents, profile.min_documents)),
    }
}

impl Check {
    /// A limit the measurement must not exceed.
    fn at_most(
        key: impl Into<String>,
        limit: String,
        threshold: f64,
        measured: Option<f64>,
        samples: usize,
    ) -> Check {
        let status = match measured {
            Some(v) if v <= threshold => Status::Pass,
            Some(_) => Status::Fail,
            None => Status::NotMeasured,
        };
        Check {
            key: key.into(),
            limit,
            threshold,
            measured,
            status,
            samples,
            note: None,
        }
    }

    /// A limit the measurement must reach.
    fn at_least(
        key: impl Into<String>,
        limit: String,
        threshold: f64,
        measured: Option<f64>,
        samples: usize,
    ) -> Check {
        let status = match measured {
            Some(v) if v >= threshold => Status::Pass,
            Some(_) => Status::Fail,
            None => Status::NotMeasured,
        };
        Check {
            status,
            ..Check::at_most(key, limit, threshold, measured, samples)
        }
    }

    /// `note` when the measurement is missing.
    fn unmeasured_note(mut self, note: &str) -> Check {
        self.note = self.measured.is_none().then(|| note.to_string());
        self
    }
}

/// The text limits: CER, WER, order-free CER and reading order.
fn text_checks(profile: &Profile, measured: &Measured, checks: &mut Vec<Check>) {
    let (accuracy, n) = (&profile.accuracy, measured.documents);
    let maxima = [
        ("accuracy.max_cer", "CER", accuracy.max_cer, measured.cer),
        ("accuracy.max_wer", "WER", accuracy.max_wer, measured.wer),
        (
            "accuracy.max_cer_unordered",
            "order-free CER",
            accuracy.max_cer_unordered,
            measured.cer_unordered,
        ),
    ];
    for (key, name, limit, value) in maxima {
        if let Some(limit) = limit {
            let limit_text = format!("{name} ≤ {:.2}%", limit * 100.0);
            checks.push(Check::at_most(key, limit_text, limit, value, n));
        }
    }
    if let Some(limit) = accuracy.min_reading_order {
        let limit_text = format!("reading order ≥ {:.1}%", limit * 100.0);
        checks.push(
            Check::at_least(
                "accuracy.min_reading_order",
                limit_text,
                limit,
                measured.reading_order,
                n,
            )
            .unmeasured_note("fewer than two lines matched"),
        );
    }
}

/// The field limits: accuracy per field type, diagnosis-code F1, critical errors.
fn field_checks(profile: &Profile, measured: &Measured, checks: &mut Vec<Check>) {
    let (accuracy, n) = (&profile.accuracy, measured.documents);
    for (field, &limit) in &accuracy.fields {
        let value = measured.field_accuracy.get(field).copied().flatten();
        checks.push(
            Check::at_least(
                format!("accuracy.fields.{field}"),
                format!("{field} ≥ {:.1}%", limit * 100.0),
                limit,
                value,
                n,
            )
            .unmeasured_note("no such field in these documents"),
        );
    }
    if let Some(limit) = accuracy.min_code_f1 {
        let limit_text = format!("code F1 ≥ {:.1}%", limit * 100.0);
        checks.push(
            Check::at_least(
                "accuracy.min_code_f1",
                limit_text,
                limit,
                measured.code_f1,
                n,
            )
            .unmeasured_note("no diagnosis codes in these documents"),
        );
    }
    if let Some(limit) = accuracy.max_critical_errors {
        checks.push(Check::at_most(
            "accuracy.max_critical_errors",
            format!("critical field errors ≤ {limit}"),
            limit as f64,
            Some(measured.critical_errors as f64),
            n,
        ));
    }
}

/// The extraction limits, for runs that extracted; a transcription-only run skips them.
fn extraction_checks(profile: &Profile, measured: &Measured, checks: &mut Vec<Check>) {
    if measured.extraction_critical_errors.is_none() {
        return;
    }
    let (accuracy, n) = (&profile.accuracy, measured.documents);
    if let Some(limit) = accuracy.min_extraction_accuracy {
        checks.push(
            Check::at_least(
                "accuracy.min_extraction_accuracy",
                format!("extracted fields ≥ {:.1}%", limit * 100.0),
                limit,
                measured.extraction_accuracy,
                n,
            )
            .unmeasured_note("no ground-truth fields in these documents"),
        );
    }
    if let Some(limit) = accuracy.max_extraction_critical_errors {
        checks.push(Check::at_most(
            "accuracy.max_extraction_critical_errors",
            format!("critical extraction errors ≤ {limit}"),
            limit as f64,
            measured.extraction_critical_errors.map(|c| c as f64),
            n,
        ));
    }
}

/// The latency limits at the profile's percentile, over the successful documents.
fn latency_checks(profile: &Profile, measured: &Measured, checks: &mut Vec<Check>) {
    let p = profile.latency.percentile;
    for (key, name, limit, samples) in [
        (
            "latency.max_e2e_ms",
            "E2E",
            profile.latency.max_e2e_ms,
            &measured.e2e_ms,
        ),
        (
            "latency.max_ttft_ms",
            "TTFT",
            profile.latency.max_ttft_ms,
            &measured.ttft_ms,
        ),
    ] {
        let Some(limit) = limit else { continue };
        let value = if measured.timed {
            crate::stats::percentile(samples, p).ok()
        } else {
            None
        };
        let note = if !measured.timed {
            Some("engine output is untimed".to_string())
        } else if !samples.is_empty() && crate::stats::percentile_low_sample(p, samples.len()) {
            Some(format!(
                "p{p} from only {} samples (needs {})",
                samples.len(),
                crate::stats::min_samples_for_percentile(p)
            ))
        } else {
            None
        };
        let limit_text = format!("p{p} {name} ≤ {limit:.0} ms");
        checks.push(Check {
            note,
            ..Check::at_most(key, limit_text, limit, value, samples.len())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn profile() -> Profile {
        Profile::parse(
            "doc_type = \"lab_result\"\n[accuracy]\nmax_cer = 0.01\n[accuracy.fields]\nlab_value = 0.95\n[latency]\nmax_e2e_ms = 1000\n",
            Path::new("lab_result.toml"),
        )
        .unwrap()
    }

    #[test]
    fn passes_and_fails_per_limit() {
        let mut m = Measured {
            documents: 4,
            failed: 0,
            cer: Some(0.005),
            wer: Some(0.02),
            cer_unordered: Some(0.004),
            reading_order: Some(0.8),
            field_accuracy: [("lab_value".to_string(), Some(0.97))]
                .into_iter()
                .collect(),
            e2e_ms: vec![100.0, 200.0, 300.0, 1500.0],
            ttft_ms: vec![],
            timed: true,
            code_f1: None,
            critical_errors: 0,
            ..Measured::default()
        };
        let v = check(&profile(), &m);
        let by_key: BTreeMap<_, _> = v
            .checks
            .iter()
            .map(|c| (c.key.as_str(), c.status))
            .collect();
        assert_eq!(by_key["accuracy.max_cer"], Status::Pass);
        assert_eq!(by_key["accuracy.fields.lab_value"], Status::Pass);
        // p95 of [100,200,300,1500] = 300 + 0.85·1200 = 1320 > 1000
        assert_eq!(by_key["latency.max_e2e_ms"], Status::Fail);
        assert_eq!(v.status, Status::Fail);
        assert!(v.insufficient_sample());
        assert_eq!(v.label(), "FAIL (insufficient sample: 4 < 50 documents)");
        let lat = v.checks.iter().find(|c| c.key == "latency.max_e2e_ms");
        assert_eq!(
            lat.and_then(|c| c.note.as_deref()),
            Some("p95 from only 4 samples (needs 20)")
        );
        let strict = Profile::parse(
            "doc_type = \"prescription\"\n[accuracy]\nmin_code_f1 = 0.9\nmax_critical_errors = 0\n",
            Path::new("prescription.toml"),
        )
        .unwrap();
        m.code_f1 = Some(0.95);
        m.critical_errors = 1;
        let v = check(&strict, &m);
        let by_key: BTreeMap<_, _> = v
            .checks
            .iter()
            .map(|c| (c.key.as_str(), c.status))
            .collect();
        assert_eq!(by_key["accuracy.min_code_f1"], Status::Pass);
        assert_eq!(by_key["accuracy.max_critical_errors"], Status::Fail);
        let order = Profile::parse(
            "doc_type = \"prescription\"\n[accuracy]\nmax_cer_unordered = 0.005\nmin_reading_order = 0.9\n",
            Path::new("prescription.toml"),
        )
        .unwrap();
        let v = check(&order, &m);
        let by_key: BTreeMap<_, _> = v
            .checks
            .iter()
            .map(|c| (c.key.as_str(), c.status))
            .collect();
        assert_eq!(by_key["accuracy.max_cer_unordered"], Status::Pass);
        assert_eq!(by_key["accuracy.min_reading_order"], Status::Fail);
        m.e2e_ms = vec![100.0; 4];
        m.failed = 1;
        let v = check(&profile(), &m);
        assert_eq!(
            v.checks[0].status,
            Status::Fail,
            "a failed document fails max_error_rate = 0"
        );
    }

    #[test]
    fn untimed_engines_are_not_measured() {
        let m = Measured {
            documents: 1,
            cer: Some(0.0),
            timed: false,
            ..Default::default()
        };
        let v = check(&profile(), &m);
        let lat = v
            .checks
            .iter()
            .find(|c| c.key == "latency.max_e2e_ms")
            .unwrap();
        assert_eq!(lat.status, Status::NotMeasured);
        assert_eq!(v.status, Status::Pass);
        assert_eq!(v.label(), "PASS (insufficient sample: 1 < 50 documents)");
    }

    #[test]
    fn enough_documents_carry_no_mark() {
        let m = Measured {
            documents: 50,
            cer: Some(0.0),
            ..Default::default()
        };
        let v = check(&profile(), &m);
        assert!(!v.insufficient_sample());
        assert_eq!(v.label(), "PASS");
        let lenient = Profile::parse(
            "doc_type = \"lab_result\"\nmin_documents = 1\n[accuracy]\nmax_cer = 0.01\n",
            Path::new("lab_result.toml"),
        )
        .unwrap();
        let one = Measured { documents: 1, ..m };
        assert_eq!(check(&lenient, &one).label(), "PASS");
    }
}
