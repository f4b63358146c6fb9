use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The five Korean medical document types the project evaluates.
#[derive(
    schemars::JsonSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    /// 처방전
    Prescription,
    /// 검사결과지
    LabResult,
    /// 진단서
    Diagnosis,
    /// 퇴원요약서
    DischargeSummary,
    /// 의무기록
    MedicalRecord,
}

impl DocType {
    pub const ALL: [DocType; 5] = [
        DocType::Prescription,
        DocType::LabResult,
        DocType::Diagnosis,
        DocType::DischargeSummary,
        DocType::MedicalRecord,
    ];

    /// The identifier used in manifests, file names and profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Prescription => "prescription",
            DocType::LabResult => "lab_result",
            DocType::Diagnosis => "diagnosis",
            DocType::DischargeSummary => "discharge_summary",
            DocType::MedicalRecord => "medical_record",
        }
    }

    /// The Korean name printed on the document.
    pub fn korean(self) -> &'static str {
        match self {
            DocType::Prescription => "처방전",
            DocType::LabResult => "검사결과지",
            DocType::Diagnosis => "진단서",
            DocType::DischargeSummary => "퇴원요약서",
            DocType::MedicalRecord => "의무기록",
        }
    }
}

impl fmt::Display for DocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocType::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.korean() == s)
            .ok_or_else(|| {
                format!(
                    "unknown document type '{s}' (expected one of: {})",
                    DocType::ALL.map(|t| t.as_str()).join(", ")
                )
            })
    }
}
