//! Non-inferiority margins and the verdict of one metric (formulas in the module docs of
//! [`super`]).

use crate::stats::ConfidenceInterval;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How far the candidate may be worse than the baseline, per metric. Units are those of
/// the TOML keys and flags: rate margins in percentage points, latency in percent of the
/// baseline's p95.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Margins {
    /// CER may rise by at most this many percentage points (0.2 = 0.002 absolute).
    pub cer: f64,
    /// WER may rise by at most this many percentage points.
    pub wer: f64,
    /// Each field type's accuracy may fall by at most this many percentage points.
    pub field_accuracy: f64,
    /// Critical field errors per document may rise by at most this much.
    pub critical_per_document: f64,
    /// p95 E2E may rise by at most this percentage of the baseline's p95.
    pub p95_e2e: f64,
    /// p95 TTFT may rise by at most this percentage of the baseline's p95.
    pub p95_ttft: f64,
}

impl Default for Margins {
    fn default() -> Self {
        Margins {
            cer: 0.2,
            wer: 0.2,
            field_accuracy: 1.0,
            critical_per_document: 0.0,
            p95_e2e: 10.0,
            p95_ttft: 10.0,
        }
    }
}

/// A margins file (`--margins`): any subset of the keys of [`Margins`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarginsFile {
    cer: Option<f64>,
    wer: Option<f64>,
    field_accuracy: Option<f64>,
    critical_per_document: Option<f64>,
    p95_e2e: Option<f64>,
    p95_ttft: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum MarginsError {
    #[error("cannot read margins file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("margins file {path}: {message}. Keys: cer, wer, field_accuracy (percentage points), critical_per_document, p95_e2e, p95_ttft (percent of the baseline)")]
    Parse { path: PathBuf, message: String },
    #[error("margin `{key}` = {value}{}: a margin must be a finite number ≥ 0", source_name(.file))]
    Invalid {
        key: &'static str,
        value: f64,
        file: Option<PathBuf>,
    },
}

fn source_name(file: &Option<PathBuf>) -> String {
    file.as_ref()
        .map(|p| format!(" in {}", p.display()))
        .unwrap_or_default()
}

impl Margins {
    /// The defaults overridden by the keys of a TOML file; unknown keys are an error
    /// naming the key.
    pub fn from_toml_file(path: &Path) -> Result<Margins, MarginsError> {
        let text = std::fs::read_to_string(path).map_err(|source| MarginsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let m = Margins::from_toml_str(&text).map_err(|message| MarginsError::Parse {
            path: path.to_path_buf(),
            message,
        })?;
        m.check(Some(path))?;
        Ok(m)
    }

    /// The defaults overridden by the keys of a TOML document (the error is toml's
    /// message, which names the key and line).
    pub fn from_toml_str(text: &str) -> Result<Margins, String> {
        let f: MarginsFile = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        let d = Margins::default();
        Ok(Margins {
            cer: f.cer.unwrap_or(d.cer),
            wer: f.wer.unwrap_or(d.wer),
            field_accuracy: f.field_accuracy.unwrap_or(d.field_accuracy),
            critical_per_document: f.critical_per_document.unwrap_or(d.critical_per_document),
            p95_e2e: f.p95_e2e.unwrap_or(d.p95_e2e),
            p95_ttft: f.p95_ttft.unwrap_or(d.p95_ttft),
        })
    }

    /// Every margin is finite and non-negative; the error names the key.
    pub fn validate(&self) -> Result<(), MarginsError> {
        self.check(None)
    }

    fn check(&self, file: Option<&Path>) -> Result<(), MarginsError> {
        for (key, value) in self.entries() {
            if !(value.is_finite() && value >= 0.0) {
                return Err(MarginsError::Invalid {
                    key,
                    value,
                    file: file.map(Path::to_path_buf),
                });
            }
        }
        Ok(())
    }

    fn entries(&self) -> [(&'static str, f64); 6] {
        [
            ("cer", self.cer),
            ("wer", self.wer),
            ("field_accuracy", self.field_accuracy),
            ("critical_per_document", self.critical_per_document),
            ("p95_e2e", self.p95_e2e),
            ("p95_ttft", self.p95_ttft),
        ]
    }
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// CER, WER, critical errors, latency.
    HigherIsWorse,
    /// Field accuracy.
    LowerIsWorse,
}

/// The verdict of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The interval lies entirely on the better side of 0.
    #[serde(rename = "better")]
    Better,
    /// Non-inferior and the interval covers 0.
    #[serde(rename = "same")]
    Same,
    /// Worse (the interval excludes 0) but within the margin.
    #[serde(rename = "worse-within-margin")]
    WorseWithinMargin,
    /// Worse, for a metric without a margin (informational, never fails).
    #[serde(rename = "worse")]
    Worse,
    /// The interval's worse bound crosses the margin.
    #[serde(rename = "FAIL")]
    Fail,
    /// A side has no measurement (untimed run, no such field).
    #[serde(rename = "not-measured")]
    NotMeasured,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Same => "same",
            Verdict::WorseWithinMargin => "worse-within-margin",
            Verdict::Worse => "worse",
            Verdict::Fail => "FAIL",
            Verdict::NotMeasured => "not-measured",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict for the interval `ci` of `Δ = candidate − baseline`, with `margin` the
/// largest tolerated harm (absolute, in the metric's units; `None`: informational).
///
/// With harm `h = Δ` (higher is worse) or `h = −Δ` (lower is worse) and its interval
/// `[h_lo, h_hi]`: `FAIL` if `h_hi > m`; `better` if `h_hi < 0`; `same` if
/// `h_lo ≤ 0`; otherwise `worse-within-margin` (`worse` without a margin). A relative
/// tolerance of 1e-9 (plus 1e-12 absolute) absorbs floating-point noise at the margin.
pub fn judge(ci: &ConfidenceInterval, direction: Direction, margin: Option<f64>) -> Verdict {
    let (h_lo, h_hi) = match direction {
        Direction::HigherIsWorse => (ci.lower, ci.upper),
        Direction::LowerIsWorse => (-ci.upper, -ci.lower),
    };
    if let Some(m) = margin {
        if h_hi > m + m.abs() * 1e-9 + 1e-12 {
            return Verdict::Fail;
        }
    }
    if h_hi < 0.0 {
        Verdict::Better
    } else if h_lo <= 0.0 {
        Verdict::Same
    } else if margin.is_some() {
        Verdict::WorseWithinMargin
    } else {
        Verdict::Worse
    }
}
