//! An SLA profile per document type. Starting numbers come from the seed's
//! `DOCUMENT_PROFILES`, with a latency *percentile* (p95 by default) instead of the mean.
//!
//! ```toml
//! doc_type = "prescription"
//! min_documents = 50          # fewer: every verdict says "insufficient sample"
//! [accuracy]
//! max_cer = 0.01
//! max_critical_errors = 0     # look-alike drug, tenfold dose, wrong code …
//! [accuracy.fields]          # minimum accuracy per critical field type
//! drug_name = 0.95
//! [latency]
//! percentile = 95
//! max_e2e_ms = 3000
//! ```

use crate::dataset::DocType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Field types a profile may name (the scorer's field types).
pub const FIELD_TYPES: [&str; 13] = [
    "patient_name",
    "drug_name",
    "dose",
    "frequency",
    "days",
    "route",
    "diagnosis_code",
    "lab_item",
    "lab_value",
    "lab_unit",
    "lab_reference_range",
    "lab_flag",
    "date",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub doc_type: DocType,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub accuracy: AccuracyLimits,
    #[serde(default)]
    pub latency: LatencyLimits,
    /// Largest share of documents that may fail (engine error, unreadable file). A failed
    /// document is a failed request, never a dropped one.
    #[serde(default)]
    pub max_error_rate: f64,
    /// Documents of the type a run needs before its verdict is a release verdict; with
    /// fewer, the verdict still says PASS or FAIL but is marked "insufficient sample"
    /// (default: the seed's [`crate::stats::MIN_DOCUMENTS_PER_TYPE`], 50).
    #[serde(default = "default_min_documents")]
    pub min_documents: usize,
}

fn default_min_documents() -> usize {
    crate::stats::MIN_DOCUMENTS_PER_TYPE
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AccuracyLimits {
    /// Corpus CER (micro average) limit, as a fraction (0.01 = 1%).
    pub max_cer: Option<f64>,
    /// Corpus WER limit, as a fraction.
    pub max_wer: Option<f64>,
    /// Order-independent corpus CER limit (lines matched at minimum cost; docs/metrics.md),
    /// as a fraction.
    pub max_cer_unordered: Option<f64>,
    /// Minimum reading-order score (1 − discordant / pairs of matched lines), as a
    /// fraction.
    pub min_reading_order: Option<f64>,
    /// Minimum accuracy per critical field type (fraction of located fields read right).
    #[serde(default)]
    pub fields: BTreeMap<String, f64>,
    /// Minimum corpus micro F1 of diagnosis codes (the seed's "진단 코드 F1").
    pub min_code_f1: Option<f64>,
    /// Largest number of critical field errors (look-alike drug, tenfold dose, wrong
    /// code, wrong lab value) allowed over the group's documents.
    pub max_critical_errors: Option<u64>,
    /// Minimum share of ground-truth fields an extraction answer gets right (`--task
    /// extract`; an answer that is not valid JSON gets none right), as a fraction.
    pub min_extraction_accuracy: Option<f64>,
    /// Largest number of critical errors in extracted fields over the group's documents.
    pub max_extraction_critical_errors: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyLimits {
    /// The percentile the latency limits apply to (0 < p ≤ 100).
    #[serde(default = "default_percentile")]
    pub percentile: f64,
    /// Limit on that percentile of end-to-end latency per document, in ms.
    pub max_e2e_ms: Option<f64>,
    /// Limit on that percentile of time to first token per document, in ms.
    pub max_ttft_ms: Option<f64>,
}

fn default_percentile() -> f64 {
    95.0
}

impl Default for LatencyLimits {
    fn default() -> Self {
        LatencyLimits {
            percentile: default_percentile(),
            max_e2e_ms: None,
            max_ttft_ms: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profiles folder {path}: {source}; pass --profiles with a folder of <doc_type>.toml files (the repository's profiles/ has one per type)")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message} (keys and types: docs/reliability.md, example: profiles/prescription.toml)")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: key '{key}': {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

impl Profile {
    /// Parses and validates one profile; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        profile.validate(path)?;
        Ok(profile)
    }

    fn validate(&self, path: &Path) -> Result<(), ProfileError> {
        let invalid = |key: &str, message: String| ProfileError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let fraction = |key: &str, v: f64| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(
                    key,
                    format!("{v} is not a fraction between 0 and 1 (0.01 means 1%)"),
                ))
            }
        };
        if let Some(v) = self.accuracy.max_cer {
            fraction("accuracy.max_cer", v)?;
        }
        if let Some(v) = self.accuracy.max_wer {
            fraction("accuracy.max_wer", v)?;
        }
        if let Some(v) = self.accuracy.max_cer_unordered {
            fraction("accuracy.max_cer_unordered", v)?;
        }
        if let Some(v) = self.accuracy.min_reading_order {
            fraction("accuracy.min_reading_order", v)?;
        }
        if let Some(v) = self.accuracy.min_code_f1 {
            fraction("accuracy.min_code_f1", v)?;
        }
        if let Some(v) = self.accuracy.min_extraction_accuracy {
            fraction("accuracy.min_extraction_accuracy", v)?;
        }
        for (field, &v) in &self.accuracy.fields {
            if !FIELD_TYPES.contains(&field.as_str()) {
                return Err(invalid(
                    &format!("accuracy.fields.{field}"),
                    format!(
                        "unknown field type; expected one of: {}",
                        FIELD_TYPES.join(", ")
                    ),
                ));
            }
            fraction(&format!("accuracy.fields.{field}"), v)?;
        }
        fraction("max_error_rate", self.max_error_rate)?;
        if self.min_documents == 0 {
            return Err(invalid(
                "min_documents",
                "must be at least 1 (the seed's minimum is 50)".into(),
            ));
        }
        let p = self.latency.percentile;
        if !(p.is_finite() && p > 0.0 && p <= 100.0) {
            return Err(invalid(
                "latency.percentile",
                format!("{p} must be in (0, 100]"),
            ));
        }
        for (key, v) in [
            ("latency.max_e2e_ms", self.latency.max_e2e_ms),
            ("latency.max_ttft_ms", self.latency.max_ttft_ms),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(invalid(
                        key,
                        format!("{v} must be a positive number of milliseconds"),
                    ));
                }
            }
        }
        if let (Some(ttft), Some(e2e)) = (self.latency.max_ttft_ms, self.latency.max_e2e_ms) {
            if ttft > e2e {
                return Err(invalid(
                    "latency.max_ttft_ms",
                    format!("{ttft} ms exceeds latency.max_e2e_ms = {e2e} ms; the first token cannot come after the last"),
                ));
            }
        }
        Ok(())
    }
}

/// Loads every `<doc_type>.toml` in a folder. The file name must match the `doc_type` key.
pub fn load_profiles(dir: &Path) -> Result<BTreeMap<DocType, Profile>, ProfileError> {
    Ok(read_profiles(dir)?
        .into_iter()
        .map(|(t, (profile, _))| (t, profile))
        .collect())
}

/// [`load_profiles`] with each file's text, read once (the set's hash is over the texts).
pub(super) fn read_profiles(
    dir: &Path,
) -> Result<BTreeMap<DocType, (Profile, String)>, ProfileError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ProfileError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Read {
            path: path.clone(),
            source,
        })?;
        let profile = Profile::parse(&text, &path)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != profile.doc_type.as_str() {
            return Err(ProfileError::Invalid {
                path: path.clone(),
                key: "doc_type".into(),
                message: format!(
                    "'{}' does not match the file name; name the file {}.toml",
                    profile.doc_type, profile.doc_type
                ),
            });
        }
        out.insert(profile.doc_type, (profile, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Profile, ProfileError> {
        Profile::parse(s, Path::new("profiles/prescription.toml"))
    }

    #[test]
    fn parses_a_full_profile() {
        let p = parse(
            "doc_type = \"prescription\"\n[accuracy]\nmax_cer = 0.01\n[accuracy.fields]\ndrug_name = 0.95\n[latency]\nmax_e2e_ms = 3000\n",
        )
        .unwrap();
        assert_eq!(p.accuracy.max_cer, Some(0.01));
        assert_eq!(p.latency.percentile, 95.0);
        assert_eq!(p.accuracy.fields["drug_name"], 0.95);
        assert_eq!(p.min_documents, 50);
        let p = parse("doc_type = \"prescription\"\nmin_documents = 200\n").unwrap();
        assert_eq!(p.min_documents, 200);
    }

    #[test]
    fn unknown_keys_are_errors_naming_file_and_key() {
        let err = parse("doc_type = \"prescription\"\n[accuracy]\nmax_ccer = 0.01\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("prescription.toml") && err.contains("max_ccer"),
            "{err}"
        );
        let err = parse("doc_type = \"prescription\"\n[accuracy.fields]\ndrug = 0.9\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("accuracy.fields.drug"), "{err}");
    }

    #[test]
    fn impossible_values_are_errors() {
        for (body, key) in [
            ("[accuracy]\nmax_cer = 1.5", "accuracy.max_cer"),
            ("[latency]\npercentile = 0", "latency.percentile"),
            ("[latency]\nmax_e2e_ms = -1", "latency.max_e2e_ms"),
            (
                "[latency]\nmax_e2e_ms = 100\nmax_ttft_ms = 200",
                "latency.max_ttft_ms",
            ),
            ("max_error_rate = 2", "max_error_rate"),
            ("min_documents = 0", "min_documents"),
        ] {
            let err = parse(&format!("doc_type = \"prescription\"\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        let err = parse("doc_type = \"prescription\"\n[accuracy]\nmax_cer = \"low\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_cer"), "{err}");
    }

    #[test]
    fn bundled_profiles_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let profiles = load_profiles(&dir).unwrap();
        assert_eq!(profiles.len(), 5);
    }
}
