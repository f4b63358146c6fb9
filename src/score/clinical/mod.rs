//! Clinical field matchers (DESIGN.md "Field metrics"): a field is right when it *means*
//! the same as the ground truth, and a wrong field carries a severity that says how
//! dangerous the error is, with the rule that decided it (docs/metrics.md lists them).
//!
//! - drugs: resolved against a formulary; a different valid drug is a look-alike
//!   substitution (critical);
//! - doses, frequencies, days: exact decimals with unit conversion; tenfold is critical;
//! - diagnosis codes: KCD/ICD-10 shape, validated against a code list;
//! - lab rows: value with its precision and comparator, unit synonyms, ranges, H/L flag;
//! - dates: the printed Korean formats to ISO.

pub mod codes;
pub mod date;
pub mod decimal;
pub mod dose;
pub mod drug;
mod finding;
pub mod formulary;
pub mod lab;
pub mod units;

pub use codes::CodeList;
pub use finding::{FieldError, Judgement, Severity};
pub use formulary::Formulary;

use super::field_type::FieldType;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// What the matchers look values up in: a drug formulary and a diagnosis-code list.
#[derive(Debug, Clone)]
pub struct Knowledge {
    pub formulary: Arc<Formulary>,
    pub codes: Arc<CodeList>,
}

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error(transparent)]
    Formulary(#[from] formulary::FormularyError),
    #[error(transparent)]
    Codes(#[from] codes::CodeListError),
}

impl Knowledge {
    /// The bundled sample formulary and code list (`datasets/formulary/`), parsed once.
    pub fn bundled() -> &'static Knowledge {
        static BUNDLED: OnceLock<Knowledge> = OnceLock::new();
        BUNDLED.get_or_init(|| Knowledge {
            formulary: Arc::new(Formulary::bundled()),
            codes: Arc::new(CodeList::bundled()),
        })
    }

    /// The user's files where given (same CSV shape as the bundled ones), the bundled
    /// ones otherwise.
    pub fn load(
        formulary: Option<&Path>,
        codes: Option<&Path>,
    ) -> Result<Knowledge, KnowledgeError> {
        let bundled = Knowledge::bundled();
        Ok(Knowledge {
            formulary: match formulary {
                Some(p) => Arc::new(Formulary::load(p)?),
                None => bundled.formulary.clone(),
            },
            codes: match codes {
                Some(p) => Arc::new(CodeList::load(p)?),
                None => bundled.codes.clone(),
            },
        })
    }
}

/// Judges one located field: `expected` is the ground truth (N1-normalised; ISO for
/// dates), `found` the projected hypothesis text.
pub fn judge(t: FieldType, expected: &str, found: &str, k: &Knowledge) -> Judgement {
    match t {
        FieldType::DrugName => drug::judge_drug(&k.formulary, expected, found),
        FieldType::Dose => dose::judge_dose(expected, found),
        FieldType::Frequency => dose::judge_frequency(expected, found),
        FieldType::Days => dose::judge_days(expected, found),
        FieldType::DiagnosisCode => codes::judge_code(&k.codes, expected, found),
        FieldType::LabItem => lab::judge_lab_item(expected, found),
        FieldType::LabValue => lab::judge_lab_value(expected, found),
        FieldType::LabUnit => lab::judge_lab_unit(expected, found),
        FieldType::LabReferenceRange => lab::judge_reference_range(expected, found),
        FieldType::LabFlag => lab::judge_flag(expected, found),
        FieldType::Date => date::judge_date(expected, found),
        FieldType::PatientName => judge_text(expected, found, "name"),
        FieldType::Route => judge_text(expected, found, "route"),
    }
}

/// Free-text fields (patient name, 용법): equal text, else Major. A misread name is
/// major, not critical, because the registration number, not the name, identifies the
/// patient; a misread 용법 is read by a pharmacist who knows the product.
fn judge_text(expected: &str, found: &str, what: &str) -> Judgement {
    if found.is_empty() {
        Judgement::wrong(Severity::Major, &format!("{what}.missing"), "nothing read")
    } else if found == expected {
        Judgement::correct()
    } else {
        Judgement::wrong(Severity::Major, &format!("{what}.value"), "text differs")
    }
}
