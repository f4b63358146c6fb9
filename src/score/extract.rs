//! Structured extraction (`--task extract`): the engine's JSON answer read into fields and
//! judged directly by the clinical matchers, without a transcription in between.
//!
//! Reading the answer ([`parse_answer`]): the JSON object may sit in one Markdown code fence
//! (VLMs add one even when asked not to); strings, numbers and `null` are accepted as
//! values (`"dose": 0.5` is the dose `0.5`). Anything else is an [`AnswerError`]: not JSON
//! at all, JSON cut off before its end (truncated, e.g. by `max_tokens`), or JSON of the
//! wrong shape.
//!
//! Pairing ([`score_extracted`]): every ground-truth field gets a verdict. Records (drugs,
//! lab rows, codes) are paired with extracted records first by a name the matcher accepts
//! (the drug name, the lab item, the code), then the remaining ones in order, so a misread
//! drug name is judged against the entry it was meant to be and its dose is compared with
//! that entry's dose. A ground-truth record with no extracted partner is judged against an
//! empty value (`*.missing`); dates are paired by key. Every field is *located*: the
//! answer either has it or misses it. Extracted records with no partner are false
//! positives of the drug-name and diagnosis-code set scores.

use super::clinical::{self, codes::canonical_code, Knowledge};
use super::fields::{FieldResult, FieldType, SetKind, SetScore};
use super::normalize::{normalize, NormOptions};
use crate::dataset::{Drug, Fields, LabRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why an answer could not be read as fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Not JSON, or JSON of the wrong shape (a list, a string, `drugs` not a list …).
    #[error("invalid JSON: {0}")]
    Invalid(String),
    /// The JSON stops before it is complete: the answer was cut off.
    #[error("truncated JSON: {0}")]
    Truncated(String),
}

/// Reads an extraction answer into fields (module docs).
pub fn parse_answer(answer: &str) -> Result<Fields, AnswerError> {
    let json = strip_fence(answer.trim());
    if json.is_empty() {
        return Err(AnswerError::Invalid("the answer is empty".into()));
    }
    let value: Value = serde_json::from_str(json).map_err(|e| {
        let at = format!("{e} (answer of {} bytes)", answer.len());
        if e.is_eof() {
            AnswerError::Truncated(at)
        } else {
            AnswerError::Invalid(at)
        }
    })?;
    fields_of(&value).map_err(AnswerError::Invalid)
}

/// The JSON inside one ```` ``` ```` / ```` ```json ```` fence, or the text as it is.
fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let body = rest.split_once('\n').map_or("", |(_, b)| b);
    body.trim_end().strip_suffix("```").unwrap_or(body).trim()
}

fn fields_of(v: &Value) -> Result<Fields, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| format!("expected a JSON object of fields, found {}", kind(v)))?;
    let mut f = Fields {
        patient_name: scalar(obj.get("patient_name"), "patient_name")?,
        ..Fields::default()
    };
    for (i, d) in list(obj.get("drugs"), "drugs")?.iter().enumerate() {
        let at = |k: &str| format!("drugs[{i}].{k}");
        let d = record(d, &format!("drugs[{i}]"))?;
        f.drugs.push(Drug {
            name: scalar(d.get("name"), &at("name"))?.unwrap_or_default(),
            dose: scalar(d.get("dose"), &at("dose"))?,
            frequency: scalar(d.get("frequency"), &at("frequency"))?,
            days: scalar(d.get("days"), &at("days"))?,
            route: scalar(d.get("route"), &at("route"))?,
            extra: Default::default(),
        });
    }
    for (i, c) in list(obj.get("diagnosis_codes"), "diagnosis_codes")?
        .iter()
        .enumerate()
    {
        f.diagnosis_codes
            .extend(scalar(Some(c), &format!("diagnosis_codes[{i}]"))?);
    }
    for (i, l) in list(obj.get("labs"), "labs")?.iter().enumerate() {
        let at = |k: &str| format!("labs[{i}].{k}");
        let l = record(l, &format!("labs[{i}]"))?;
        f.labs.push(LabRow {
            item: scalar(l.get("item"), &at("item"))?.unwrap_or_default(),
            value: scalar(l.get("value"), &at("value"))?.unwrap_or_default(),
            unit: scalar(l.get("unit"), &at("unit"))?,
            reference_range: scalar(l.get("reference_range"), &at("reference_range"))?,
            flag: scalar(l.get("flag"), &at("flag"))?,
            extra: Default::default(),
        });
    }
    match obj.get("dates") {
        None | Some(Value::Null) => {}
        Some(Value::Object(dates)) => {
            for (k, v) in dates {
                if let Some(s) = scalar(Some(v), &format!("dates.{k}"))? {
                    f.dates.insert(k.clone(), s);
                }
            }
        }
        Some(other) => return Err(format!("dates: expected an object, found {}", kind(other))),
    }
    Ok(f)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A string or number as text; `null`, absent and `""` are no value.
fn scalar(v: Option<&Value>, key: &str) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!(
            "{key}: expected a string or a number, found {}",
            kind(other)
        )),
    }
}

fn list<'v>(v: Option<&'v Value>, key: &str) -> Result<&'v [Value], String> {
    match v {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(format!("{key}: expected a list, found {}", kind(other))),
    }
}

fn record<'v>(v: &'v Value, key: &str) -> Result<&'v serde_json::Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{key}: expected an object, found {}", kind(v)))
}

/// The verdicts on extracted fields: one per ground-truth field, and the drug-name and
/// diagnosis-code set scores with the extracted extras as false positives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtractedScore {
    pub fields: Vec<FieldResult>,
    pub field_sets: Vec<SetScore>,
}

/// Judges `extracted` against the ground truth `reference` (module docs). Both sides are
/// N1-normalised with `opts` before the matchers compare them.
pub fn score_extracted(
    reference: &Fields,
    extracted: &Fields,
    opts: &NormOptions,
    knowledge: &Knowledge,
) -> ExtractedScore {
    let mut judge = Judge {
        opts,
        knowledge,
        out: Vec::new(),
    };
    if let Some(name) = &reference.patient_name {
        let found = extracted.patient_name.as_deref().unwrap_or("");
        judge.field(FieldType::PatientName, "patient_name".into(), name, found);
    }
    let drug_tp = judge.drugs(&reference.drugs, &extracted.drugs);
    let code_tp = judge.codes(&reference.diagnosis_codes, &extracted.diagnosis_codes);
    judge.labs(&reference.labs, &extracted.labs);
    for (key, iso) in &reference.dates {
        let found = extracted.dates.get(key).map_or("", String::as_str);
        judge.field(FieldType::Date, format!("dates.{key}"), iso, found);
    }
    ExtractedScore {
        fields: judge.out,
        field_sets: set_scores(reference, extracted, drug_tp, code_tp),
    }
}

/// One sub-field of a record: its type, its key, the expected value (none: not judged)
/// and the extracted one.
type Sub<'s> = (FieldType, &'static str, Option<&'s String>, Option<&'s str>);

/// Judges fields one by one into the list of verdicts.
struct Judge<'a> {
    opts: &'a NormOptions,
    knowledge: &'a Knowledge,
    out: Vec<FieldResult>,
}

impl Judge<'_> {
    fn n(&self, s: &str) -> String {
        normalize(s, self.opts)
    }

    /// Whether the matcher for `t` accepts `found` as `expected` after N1 (pairs records).
    fn accepts(&self, t: FieldType, expected: &str, found: &str) -> bool {
        clinical::judge(t, &self.n(expected), &self.n(found), self.knowledge).correct
    }

    /// Judges one field and records the verdict; returns whether it is correct.
    fn field(&mut self, t: FieldType, key: String, exp: &str, found: &str) -> bool {
        // Dates are judged from their ISO ground truth; everything else after N1.
        let expected = if t == FieldType::Date {
            exp.to_string()
        } else {
            self.n(exp)
        };
        let found = self.n(found);
        let j = clinical::judge(t, &expected, &found, self.knowledge);
        self.out.push(FieldResult {
            field_type: t,
            key,
            expected: exp.to_string(),
            found: Some(found),
            correct: j.correct,
            located: true,
            span: None,
            error: j.error,
            notes: j.notes,
            context: None,
        });
        j.correct
    }

    /// Judges the sub-fields the ground truth has, keyed `{prefix}.{key}`.
    fn subs<'s>(&mut self, prefix: &str, subs: impl IntoIterator<Item = Sub<'s>>) {
        for (t, k, expected, found) in subs {
            if let Some(expected) = expected {
                let key = format!("{prefix}.{k}");
                self.field(t, key, expected, found.unwrap_or(""));
            }
        }
    }

    /// Every reference drug against its partner; returns the correct drug names.
    fn drugs(&mut self, reference: &[Drug], extracted: &[Drug]) -> usize {
        let pairs = pair(reference, extracted, |r, e| {
            self.accepts(FieldType::DrugName, &r.name, &e.name)
        });
        let mut tp = 0;
        for (i, (r, e)) in reference.iter().zip(&pairs).enumerate() {
            let e = e.map(|j| &extracted[j]);
            let found = e.map_or("", |e| e.name.as_str());
            tp += usize::from(self.field(
                FieldType::DrugName,
                format!("drugs[{i}].name"),
                &r.name,
                found,
            ));
            self.subs(
                &format!("drugs[{i}]"),
                [
                    (
                        FieldType::Dose,
                        "dose",
                        r.dose.as_ref(),
                        e.and_then(|e| e.dose.as_deref()),
                    ),
                    (
                        FieldType::Frequency,
                        "frequency",
                        r.frequency.as_ref(),
                        e.and_then(|e| e.frequency.as_deref()),
                    ),
                    (
                        FieldType::Days,
                        "days",
                        r.days.as_ref(),
                        e.and_then(|e| e.days.as_deref()),
                    ),
                    (
                        FieldType::Route,
                        "route",
                        r.route.as_ref(),
                        e.and_then(|e| e.route.as_deref()),
                    ),
                ],
            );
        }
        tp
    }

    /// Every reference diagnosis code against its partner; returns the correct ones.
    fn codes(&mut self, reference: &[String], extracted: &[String]) -> usize {
        let pairs = pair(reference, extracted, |r, e| {
            canonical_code(r) == canonical_code(e)
        });
        let mut tp = 0;
        for (i, (r, e)) in reference.iter().zip(&pairs).enumerate() {
            let found = e.map_or("", |j| extracted[j].as_str());
            let key = format!("diagnosis_codes[{i}]");
            tp += usize::from(self.field(FieldType::DiagnosisCode, key, r, found));
        }
        tp
    }

    /// Every reference lab row against its partner.
    fn labs(&mut self, reference: &[LabRow], extracted: &[LabRow]) {
        let pairs = pair(reference, extracted, |r, e| {
            self.accepts(FieldType::LabItem, &r.item, &e.item)
        });
        for (i, (r, e)) in reference.iter().zip(&pairs).enumerate() {
            let e = e.map(|j| &extracted[j]);
            self.subs(
                &format!("labs[{i}]"),
                [
                    (
                        FieldType::LabItem,
                        "item",
                        Some(&r.item),
                        e.map(|e| e.item.as_str()),
                    ),
                    (
                        FieldType::LabValue,
                        "value",
                        Some(&r.value),
                        e.map(|e| e.value.as_str()),
                    ),
                    (
                        FieldType::LabUnit,
                        "unit",
                        r.unit.as_ref(),
                        e.and_then(|e| e.unit.as_deref()),
                    ),
                    (
                        FieldType::LabReferenceRange,
                        "reference_range",
                        r.reference_range.as_ref(),
                        e.and_then(|e| e.reference_range.as_deref()),
                    ),
                    (
                        FieldType::LabFlag,
                        "flag",
                        r.flag.as_ref(),
                        e.and_then(|e| e.flag.as_deref()),
                    ),
                ],
            );
        }
    }
}

/// The diagnosis-code and drug-name set scores (where either side has any), the extracted
/// extras counted as false positives.
fn set_scores(
    reference: &Fields,
    extracted: &Fields,
    drug_tp: usize,
    code_tp: usize,
) -> Vec<SetScore> {
    let set = |kind, tp: usize, truth: usize, answered: usize| {
        SetScore::from_counts(kind, tp, answered - tp, truth - tp)
    };
    let mut field_sets = Vec::new();
    if !(reference.diagnosis_codes.is_empty() && extracted.diagnosis_codes.is_empty()) {
        field_sets.push(set(
            SetKind::DiagnosisCode,
            code_tp,
            reference.diagnosis_codes.len(),
            extracted.diagnosis_codes.len(),
        ));
    }
    if !(reference.drugs.is_empty() && extracted.drugs.is_empty()) {
        field_sets.push(set(
            SetKind::DrugName,
            drug_tp,
            reference.drugs.len(),
            extracted.drugs.len(),
        ));
    }
    field_sets
}

/// For each reference record, the index of its extracted partner: first those `same`
/// accepts (each extracted record used once, earliest first), then the rest in order.
fn pair<R, E>(
    reference: &[R],
    extracted: &[E],
    same: impl Fn(&R, &E) -> bool,
) -> Vec<Option<usize>> {
    let mut used = vec![false; extracted.len()];
    let mut out: Vec<Option<usize>> = reference
        .iter()
        .map(|r| {
            let j = (0..extracted.len()).find(|&j| !used[j] && same(r, &extracted[j]))?;
            used[j] = true;
            Some(j)
        })
        .collect();
    let mut free = (0..extracted.len())
        .filter(|&j| !used[j])
        .collect::<Vec<_>>()
        .into_iter();
    for slot in out.iter_mut().filter(|s| s.is_none()) {
        *slot = free.next();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Severity;

    fn truth() -> Fields {
        serde_json::from_value(serde_json::json!({
            "patient_name": "이태주",
            "drugs": [
                {"name": "가스터정20밀리그램", "dose": "1.00", "frequency": "2", "days": "7", "route": "식후 30분 경구"},
                {"name": "가스모틴정5밀리그램", "dose": "0.50", "frequency": "3", "days": "7", "route": "식전 30분 경구"}
            ],
            "diagnosis_codes": ["K29.7", "K59.0"],
            "labs": [{"item": "Hb", "value": "13.2", "unit": "g/dL", "reference_range": "12.0-16.0"}],
            "dates": {"issued": "2023-08-13"}
        }))
        .unwrap()
    }

    fn score(answer: &str) -> ExtractedScore {
        let f = parse_answer(answer).unwrap();
        score_extracted(&truth(), &f, &NormOptions::default(), Knowledge::bundled())
    }

    #[test]
    fn the_ground_truth_itself_scores_every_field_right() {
        let s = score(&serde_json::to_string(&truth()).unwrap());
        assert_eq!(s.fields.len(), 1 + 2 * 5 + 2 + 4 + 1);
        assert!(s.fields.iter().all(|f| f.correct && f.located), "{s:?}");
        assert!(s.field_sets.iter().all(|s| s.f1 == Some(1.0)));
    }

    #[test]
    fn numbers_other_notations_and_another_order_are_read_as_meant() {
        let s = score(
            r#"```json
            {"patient_name": "이태주", "diagnosis_codes": ["K59.0", "K29.7"],
             "drugs": [{"name": "가스모틴정5밀리그램", "dose": 0.5, "frequency": 3, "days": "7일", "route": "식전 30분 경구"},
                       {"name": "가스터정20밀리그램", "dose": "1", "frequency": "2", "days": 7, "route": "식후 30분 경구"}],
             "labs": [{"item": "Hb", "value": "13.2", "unit": "g/dL", "reference_range": "12.0-16.0", "flag": null}],
             "dates": {"issued": "2023.08.13"}}
            ```"#,
        );
        let wrong: Vec<_> = s.fields.iter().filter(|f| !f.correct).collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn a_tenfold_dose_is_critical_and_missing_records_are_missing() {
        let s = score(
            r#"{"patient_name": "이태주", "drugs": [{"name": "가스터정20밀리그램", "dose": "10", "frequency": "2", "days": "7", "route": "식후 30분 경구"}],
                "diagnosis_codes": ["K29.7", "E11.9"], "dates": {}}"#,
        );
        let by_key = |k: &str| s.fields.iter().find(|f| f.key == k).unwrap();
        let dose = by_key("drugs[0].dose");
        assert_eq!(dose.error.as_ref().unwrap().severity, Severity::Critical);
        assert_eq!(dose.error.as_ref().unwrap().rule, "dose.tenfold");
        assert_eq!(
            by_key("drugs[1].name").error.as_ref().unwrap().rule,
            "drug.missing"
        );
        assert!(!by_key("dates.issued").correct);
        assert!(!by_key("labs[0].value").correct);
        // E11.9 is paired with K59.0 (the only code left): a wrong code, and a false
        // positive of the code set.
        assert!(!by_key("diagnosis_codes[1]").correct);
        let codes = s
            .field_sets
            .iter()
            .find(|s| s.set == SetKind::DiagnosisCode)
            .unwrap();
        assert_eq!(
            (
                codes.true_positives,
                codes.false_positives,
                codes.false_negatives
            ),
            (1, 1, 1)
        );
        let drugs = s
            .field_sets
            .iter()
            .find(|s| s.set == SetKind::DrugName)
            .unwrap();
        assert_eq!(
            (
                drugs.true_positives,
                drugs.false_positives,
                drugs.false_negatives
            ),
            (1, 0, 1)
        );
    }

    #[test]
    fn extra_drugs_are_false_positives_and_pairing_prefers_names() {
        let f = Fields {
            drugs: vec![
                Drug {
                    name: "타이레놀정500밀리그램".into(),
                    ..Default::default()
                },
                Drug {
                    name: "가스모틴정5밀리그램".into(),
                    dose: Some("0.5".into()),
                    ..Default::default()
                },
                Drug {
                    name: "가스터정20밀리그램".into(),
                    dose: Some("1".into()),
                    ..Default::default()
                },
            ],
            ..Fields::default()
        };
        let s = score_extracted(&truth(), &f, &NormOptions::default(), Knowledge::bundled());
        let dose = |i: usize| {
            s.fields
                .iter()
                .find(|f| f.key == format!("drugs[{i}].dose"))
                .unwrap()
        };
        assert!(
            dose(0).correct && dose(1).correct,
            "paired by name, not by position"
        );
        let drugs = s
            .field_sets
            .iter()
            .find(|s| s.set == SetKind::DrugName)
            .unwrap();
        assert_eq!((drugs.true_positives, drugs.false_positives), (2, 1));
        assert_eq!(
            pair::<u8, u8>(&[], &[1], |_, _| true),
            Vec::<Option<usize>>::new()
        );
        assert_eq!(
            pair(&[1, 2], &[], |a: &i32, b: &i32| a == b),
            vec![None, None]
        );
        assert_eq!(
            pair(&[1, 2, 2], &[2, 9, 2], |a, b| a == b),
            vec![Some(1), Some(0), Some(2)]
        );
    }

    #[test]
    fn bad_answers_are_told_apart() {
        assert!(matches!(parse_answer(""), Err(AnswerError::Invalid(_))));
        assert!(matches!(
            parse_answer("처방전 내용입니다"),
            Err(AnswerError::Invalid(_))
        ));
        assert!(matches!(
            parse_answer(r#"{"patient_name": "이태주", "drugs": [{"name": "가스"#),
            Err(AnswerError::Truncated(_))
        ));
        assert!(matches!(
            parse_answer("[1, 2]"),
            Err(AnswerError::Invalid(_))
        ));
        let e = parse_answer(r#"{"drugs": [{"name": ["a"]}]}"#).unwrap_err();
        assert!(e.to_string().contains("drugs[0].name"), "{e}");
        let e = parse_answer(r#"{"dates": "2023-08-13"}"#).unwrap_err();
        assert!(e.to_string().contains("dates"), "{e}");
        assert_eq!(
            parse_answer("```\n{\"patient_name\": \"이태주\"}\n```")
                .unwrap()
                .patient_name
                .as_deref(),
            Some("이태주")
        );
    }
}
