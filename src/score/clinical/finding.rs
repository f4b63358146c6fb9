//! What a clinical matcher says about one field: right or wrong, and when wrong, how
//! dangerous the error is and which rule decided it.

use serde::{Deserialize, Serialize};

/// How dangerous a field error is. Ordered: `Minor < Major < Critical`.
///
/// - `Critical`: the error can harm a patient if it is acted on unnoticed (a different
///   drug, a tenfold dose, a different valid diagnosis code, a wrong lab value).
/// - `Major`: the value is wrong or unreadable, but a reader would notice or it does not
///   change treatment directly (an unresolvable drug name, an invalid code, a wrong date).
/// - `Minor`: the meaning survives (lost trailing zero in a lab value, unit spelling).
#[derive(
    schemars::JsonSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field error: its severity, the rule that assigned it (a stable id such as
/// `dose.tenfold`, listed in docs/metrics.md) and a short human explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub severity: Severity,
    pub rule: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(severity: Severity, rule: &str, detail: impl Into<String>) -> Self {
        FieldError {
            severity,
            rule: rule.to_string(),
            detail: detail.into(),
        }
    }
}

/// A matcher's verdict on one (expected, found) pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judgement {
    /// The recognised value means the same as the expected one.
    pub correct: bool,
    /// Why not, when not correct. A correct judgement may still carry a `Minor` note
    /// (e.g. `dose.trailing_zero` printed in the document) in `notes`.
    pub error: Option<FieldError>,
    /// Observations that are not errors of the recognition (error-prone notation in the
    /// expected or found text, partial credit such as a matching 3-character category).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Judgement {
    pub fn correct() -> Self {
        Judgement {
            correct: true,
            error: None,
            notes: Vec::new(),
        }
    }

    pub fn wrong(severity: Severity, rule: &str, detail: impl Into<String>) -> Self {
        Judgement {
            correct: false,
            error: Some(FieldError::new(severity, rule, detail)),
            notes: Vec::new(),
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}
