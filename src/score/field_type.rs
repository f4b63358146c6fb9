//! The kinds of critical fields: named by the scorer, the clinical matchers, the SLA
//! profiles and every report.

use serde::{Deserialize, Serialize};

/// The kinds of critical fields scored.
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
pub enum FieldType {
    PatientName,
    DrugName,
    Dose,
    Frequency,
    Days,
    Route,
    DiagnosisCode,
    LabItem,
    LabValue,
    LabUnit,
    LabReferenceRange,
    LabFlag,
    Date,
}

impl FieldType {
    pub const ALL: [FieldType; 13] = [
        FieldType::PatientName,
        FieldType::DrugName,
        FieldType::Dose,
        FieldType::Frequency,
        FieldType::Days,
        FieldType::Route,
        FieldType::DiagnosisCode,
        FieldType::LabItem,
        FieldType::LabValue,
        FieldType::LabUnit,
        FieldType::LabReferenceRange,
        FieldType::LabFlag,
        FieldType::Date,
    ];

    /// The serde name (`drug_name`, `lab_reference_range`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::PatientName => "patient_name",
            FieldType::DrugName => "drug_name",
            FieldType::Dose => "dose",
            FieldType::Frequency => "frequency",
            FieldType::Days => "days",
            FieldType::Route => "route",
            FieldType::DiagnosisCode => "diagnosis_code",
            FieldType::LabItem => "lab_item",
            FieldType::LabValue => "lab_value",
            FieldType::LabUnit => "lab_unit",
            FieldType::LabReferenceRange => "lab_reference_range",
            FieldType::LabFlag => "lab_flag",
            FieldType::Date => "date",
        }
    }
}

impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
