//! Critical-field accuracy by projection (DESIGN.md, "Field metrics").
//!
//! Each ground-truth value is located in the N1 reference text (a span of grapheme
//! clusters), the span is mapped through the grapheme alignment onto the hypothesis, and
//! the projected hypothesis text is compared with the expected value:
//! - text fields (names, doses, routes, lab values, …): equal after N1;
//! - diagnosis codes: equal after upper-casing and removing spaces;
//! - dates: the projected text is parsed (`2024-03-05`, `2024.03.05`, `2024/03/05`,
//!   `2024년 3월 5일`, `24.03.05`, …) to ISO and compared with the ISO ground truth.
//!
//! Projection of a reference span `[s, e)`: the hypothesis clusters aligned to reference
//! clusters `s..e` (matches and substitutions) plus the insertions between them *and*
//! those adjacent to either end (an extra digit right after `500` makes it `5000`, which
//! must not score as correct); the result is trimmed of spaces and of table-rule glyphs
//! (`|`, `ㅣ`) the expected value does not have.
//!
//! Locating a value: occurrences must start and end on cluster boundaries; a *clean*
//! occurrence is not glued to a neighbour of the same kind (digit, Latin letter, Hangul;
//! `5` inside `0.5` or `15` is not clean). Values of one record (a drug, a lab row) are
//! searched after the record's anchor (drug name, lab item) and not on spans already used
//! by the record or by an earlier field of the same type, so repeated values take their
//! occurrences in order. Preference: clean after the cursor, clean anywhere, any after the
//! cursor, any unused, then anything. A value not found at all is *unlocatable*: reported,
//! and left out of accuracy.
//!
//! Set scores (micro P/R/F1) use the whole hypothesis instead of the alignment:
//! diagnosis codes are the matches of `[A-Z][0-9]{2}(\.[0-9]{1,2})?` not glued to other
//! ASCII letters or digits; drug names are exact occurrences of the ground-truth names.
//! Occurrences the reference itself has beyond the ground truth (a lab item `B12` looks
//! like a code) are background and discounted from the hypothesis, so a perfect
//! transcription scores P = R = 1.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::clinical::codes::canonical_code;
use super::clinical::date::{parse_date, printed_dates};
use super::clinical::{self, FieldError, Knowledge};
use super::distance::{Alignment, OpKind};
pub use super::field_type::FieldType;
use super::normalize::{normalize, NormOptions};
use crate::dataset::Fields;

/// Where a field sits: grapheme-cluster indices `[start, end)` in the N1 reference and
/// (projected) in the N1 hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpan {
    pub ref_start: usize,
    pub ref_end: usize,
    pub hyp_start: usize,
    pub hyp_end: usize,
}

/// The verdict on one ground-truth field of one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldResult {
    pub field_type: FieldType,
    /// Path in the ground truth, e.g. `drugs[1].dose`, `dates.issued`.
    pub key: String,
    /// The ground-truth value as given (ISO for dates).
    pub expected: String,
    /// The projected hypothesis text (N1); `None` when the field could not be located.
    pub found: Option<String>,
    pub correct: bool,
    /// Whether the value was found in the reference text; unlocated fields are excluded
    /// from accuracy.
    pub located: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<FieldSpan>,
    /// Why a located field is wrong, with its clinical severity and the deciding rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FieldError>,
    /// Matcher observations that are not errors (error-prone notation, partial credit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// For a wrong located field: its reference line and what that line was read as.
    /// Document text, so it may hold patient data: reports redact it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<FieldContext>,
}

/// A wrong field in its line: the reference line and the hypothesis text it aligns to.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldContext {
    pub reference: String,
    pub recognised: String,
}

/// Accuracy of one field type: `correct / scored`, `scored = total − unlocatable`; and
/// extraction P/R/F1 over located fields: a field *read* as something (not empty) is a
/// prediction, so P = correct / read, R = correct / scored, F1 = 2PR / (P + R).
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldAggregate {
    pub field_type: FieldType,
    pub total: usize,
    pub unlocatable: usize,
    pub scored: usize,
    /// Located fields whose projection is not empty.
    pub read: usize,
    pub correct: usize,
    /// `None` when nothing was scored.
    pub accuracy: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

/// Aggregates field results (of one document or a corpus) per field type, in
/// [`FieldType::ALL`] order, listing only the types present.
pub fn aggregate_fields<'a>(
    results: impl IntoIterator<Item = &'a FieldResult>,
) -> Vec<FieldAggregate> {
    #[derive(Default)]
    struct Counts {
        total: usize,
        unlocatable: usize,
        read: usize,
        correct: usize,
    }
    let mut by_type: HashMap<FieldType, Counts> = HashMap::new();
    for r in results {
        let e = by_type.entry(r.field_type).or_default();
        e.total += 1;
        e.unlocatable += usize::from(!r.located);
        e.read += usize::from(r.located && r.found.as_deref().is_some_and(|f| !f.is_empty()));
        e.correct += usize::from(r.located && r.correct);
    }
    let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
    FieldType::ALL
        .iter()
        .filter_map(|t| {
            let c = by_type.get(t)?;
            let scored = c.total - c.unlocatable;
            Some(FieldAggregate {
                field_type: *t,
                total: c.total,
                unlocatable: c.unlocatable,
                scored,
                read: c.read,
                correct: c.correct,
                accuracy: ratio(c.correct, scored),
                precision: ratio(c.correct, c.read),
                recall: ratio(c.correct, scored),
                f1: ratio(2 * c.correct, c.read + scored),
            })
        })
        .collect()
}

/// What a set score counts: diagnosis codes (exact), their 3-character categories
/// (`E11.9` and `E11.7` both count as `E11`: partial credit), or drug names.
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
pub enum SetKind {
    DiagnosisCode,
    DiagnosisCategory,
    DrugName,
}

impl SetKind {
    pub const ALL: [SetKind; 3] = [
        SetKind::DiagnosisCode,
        SetKind::DiagnosisCategory,
        SetKind::DrugName,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SetKind::DiagnosisCode => "diagnosis_code",
            SetKind::DiagnosisCategory => "diagnosis_category",
            SetKind::DrugName => "drug_name",
        }
    }
}

/// Micro set scores: P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2·TP/(2·TP+FP+FN); each
/// `None` when its denominator is 0.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetScore {
    pub set: SetKind,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

impl SetScore {
    pub fn from_counts(set: SetKind, tp: usize, fp: usize, fn_: usize) -> Self {
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        SetScore {
            set,
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
        }
    }
}

/// Sums set scores per kind (micro average), in [`SetKind::ALL`] order.
pub fn aggregate_sets<'a>(scores: impl IntoIterator<Item = &'a SetScore>) -> Vec<SetScore> {
    let mut by_kind: HashMap<SetKind, (usize, usize, usize)> = HashMap::new();
    for s in scores {
        let e = by_kind.entry(s.set).or_default();
        e.0 += s.true_positives;
        e.1 += s.false_positives;
        e.2 += s.false_negatives;
    }
    SetKind::ALL
        .iter()
        .filter_map(|k| {
            let &(tp, fp, fn_) = by_kind.get(k)?;
            Some(SetScore::from_counts(*k, tp, fp, fn_))
        })
        .collect()
}

/// The N1 texts, their cluster boundaries and the cluster alignment, ready to project
/// reference spans onto the hypothesis.
pub struct Projection<'a> {
    reference: &'a str,
    hypothesis: &'a str,
    /// Byte offset of each reference cluster, plus the text length.
    ref_starts: Vec<usize>,
    hyp_starts: Vec<usize>,
    /// `left[i]`: hypothesis cursor just after the op consuming reference cluster `i − 1`.
    left: Vec<usize>,
    /// `right[i]`: hypothesis cursor just before the op consuming reference cluster `i`.
    right: Vec<usize>,
}

impl<'a> Projection<'a> {
    /// `alignment` must align `ref_graphemes` (clusters of `reference`) onto
    /// `hyp_graphemes` (clusters of `hypothesis`).
    pub fn new(
        reference: &'a str,
        ref_graphemes: &[&str],
        hypothesis: &'a str,
        hyp_graphemes: &[&str],
        alignment: &Alignment,
    ) -> Self {
        let starts = |gs: &[&str]| {
            let mut v = Vec::with_capacity(gs.len() + 1);
            let mut at = 0;
            for g in gs {
                v.push(at);
                at += g.len();
            }
            v.push(at);
            v
        };
        let (m, n) = (ref_graphemes.len(), hyp_graphemes.len());
        let mut left = vec![0; m + 1];
        let mut right = vec![n; m + 1];
        for op in &alignment.ops {
            match op.kind {
                OpKind::Match | OpKind::Sub => {
                    right[op.ref_pos] = op.hyp_pos;
                    left[op.ref_pos + 1] = op.hyp_pos + 1;
                }
                OpKind::Del => {
                    right[op.ref_pos] = op.hyp_pos;
                    left[op.ref_pos + 1] = op.hyp_pos;
                }
                OpKind::Ins => {}
            }
        }
        Projection {
            reference,
            hypothesis,
            ref_starts: starts(ref_graphemes),
            hyp_starts: starts(hyp_graphemes),
            left,
            right,
        }
    }

    /// The hypothesis cluster range `[start, end)` a reference cluster range maps to.
    pub fn project(&self, ref_start: usize, ref_end: usize) -> (usize, usize) {
        let (s, e) = (self.left[ref_start], self.right[ref_end]);
        (s, e.max(s))
    }

    /// The hypothesis text of a projected range, trimmed of spaces.
    pub fn hyp_text(&self, hyp_start: usize, hyp_end: usize) -> &'a str {
        let (s, e) = (self.hyp_starts[hyp_start], self.hyp_starts[hyp_end]);
        self.hypothesis[s..e].trim_matches(' ')
    }

    /// The reference line around clusters `[ref_start, ref_end)` (at most `CONTEXT`
    /// clusters either side) and the hypothesis text that line aligns to.
    pub fn context(&self, ref_start: usize, ref_end: usize) -> FieldContext {
        const CONTEXT: usize = 30;
        let (bs, be) = (self.ref_starts[ref_start], self.ref_starts[ref_end]);
        let line_s = self.reference[..bs].rfind('\n').map_or(0, |i| i + 1);
        let line_e = self.reference[be..]
            .find('\n')
            .map_or(self.reference.len(), |i| be + i);
        let cluster = |b: usize| self.ref_starts.partition_point(|&x| x < b);
        let s = cluster(line_s).max(ref_start.saturating_sub(CONTEXT));
        let e = cluster(line_e).min(ref_end + CONTEXT);
        let (hs, he) = self.project(s, e);
        FieldContext {
            reference: self.reference[self.ref_starts[s]..self.ref_starts[e]].to_string(),
            recognised: self.hypothesis[self.hyp_starts[hs]..self.hyp_starts[he]]
                .trim_matches(|c| c == ' ' || c == '\n')
                .to_string(),
        }
    }

    /// Every occurrence of `needle` in the reference on cluster boundaries, in order.
    fn occurrences(&self, needle: &str) -> Vec<Occurrence> {
        let mut out = Vec::new();
        if needle.is_empty() {
            return out;
        }
        let text = self.reference;
        let mut from = 0;
        while let Some(pos) = text[from..].find(needle) {
            let s = from + pos;
            let e = s + needle.len();
            if let (Ok(start), Ok(end)) = (
                self.ref_starts.binary_search(&s),
                self.ref_starts.binary_search(&e),
            ) {
                out.push(Occurrence {
                    start,
                    end,
                    clean: clean_boundaries(text, s, e),
                });
            }
            from = s + text[s..].chars().next().map_or(1, char::len_utf8);
        }
        out
    }
}

#[derive(Debug, Clone, Copy)]
struct Occurrence {
    start: usize,
    end: usize,
    clean: bool,
}

/// Picks an occurrence by the preference order of the module docs.
fn pick(occs: &[Occurrence], cursor: usize, taken: &[(usize, usize)]) -> Option<Occurrence> {
    let free = |o: &Occurrence| !taken.iter().any(|&(s, e)| o.start < e && s < o.end);
    let tiers: [&dyn Fn(&Occurrence) -> bool; 6] = [
        &|o| o.clean && o.start >= cursor && free(o),
        &|o| o.clean && free(o),
        &|o| o.start >= cursor && free(o),
        &|o| free(o),
        &|o| o.clean,
        &|_| true,
    ];
    tiers
        .iter()
        .find_map(|tier| occs.iter().find(|o| tier(o)).copied())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Digit,
    Latin,
    Hangul,
    Other,
}

fn class(c: char) -> CharClass {
    if c.is_ascii_digit() {
        CharClass::Digit
    } else if c.is_ascii_alphabetic() {
        CharClass::Latin
    } else if ('\u{AC00}'..='\u{D7A3}').contains(&c) {
        CharClass::Hangul
    } else {
        CharClass::Other
    }
}

/// Whether `text[s..e]` is not glued to neighbours of its own kind (see module docs).
fn clean_boundaries(text: &str, s: usize, e: usize) -> bool {
    let inner = &text[s..e];
    let (Some(first), Some(last)) = (inner.chars().next(), inner.chars().next_back()) else {
        return false;
    };
    let mut before = text[..s].chars().rev();
    let mut after = text[e..].chars();
    let glued = |edge: char, next: Option<char>, beyond: Option<char>| {
        let (ce, Some(n)) = (class(edge), next) else {
            return false;
        };
        if ce != CharClass::Other && class(n) == ce {
            return true;
        }
        // A digit next to a decimal point or thousands separator that continues a number.
        ce == CharClass::Digit
            && matches!(n, '.' | ',')
            && beyond.is_some_and(|b| b.is_ascii_digit())
    };
    let (b1, b2) = (before.next(), before.next());
    let (a1, a2) = (after.next(), after.next());
    !glued(first, b1, b2) && !glued(last, a1, a2)
}

/// Finds, projects and judges every ground-truth field. `reference`/`hypothesis` inside
/// `projection` are N1 texts; `opts` normalises the ground-truth values the same way.
pub fn score_fields(
    projection: &Projection<'_>,
    fields: &Fields,
    opts: &NormOptions,
    knowledge: &Knowledge,
) -> Vec<FieldResult> {
    let mut s = FieldScorer {
        p: projection,
        opts,
        knowledge,
        taken: HashMap::new(),
        out: Vec::new(),
    };
    if let Some(name) = &fields.patient_name {
        s.field(
            FieldType::PatientName,
            "patient_name".into(),
            name,
            0,
            &mut Vec::new(),
        );
    }
    let mut cursor = 0;
    for (i, d) in fields.drugs.iter().enumerate() {
        let mut record = Vec::new();
        let name = s.field(
            FieldType::DrugName,
            format!("drugs[{i}].name"),
            &d.name,
            cursor,
            &mut record,
        );
        let anchor = name.map_or(cursor, |(_, e)| e);
        cursor = anchor;
        let subs = [
            (FieldType::Dose, "dose", &d.dose),
            (FieldType::Frequency, "frequency", &d.frequency),
            (FieldType::Days, "days", &d.days),
            (FieldType::Route, "route", &d.route),
        ];
        for (t, k, v) in subs {
            if let Some(v) = v {
                s.field(t, format!("drugs[{i}].{k}"), v, anchor, &mut record);
            }
        }
    }
    let mut cursor = 0;
    for (i, code) in fields.diagnosis_codes.iter().enumerate() {
        if let Some((_, e)) = s.field(
            FieldType::DiagnosisCode,
            format!("diagnosis_codes[{i}]"),
            code,
            cursor,
            &mut Vec::new(),
        ) {
            cursor = e;
        }
    }
    let mut cursor = 0;
    for (i, l) in fields.labs.iter().enumerate() {
        let mut record = Vec::new();
        let item = s.field(
            FieldType::LabItem,
            format!("labs[{i}].item"),
            &l.item,
            cursor,
            &mut record,
        );
        let anchor = item.map_or(cursor, |(_, e)| e);
        cursor = anchor;
        s.field(
            FieldType::LabValue,
            format!("labs[{i}].value"),
            &l.value,
            anchor,
            &mut record,
        );
        let subs = [
            (FieldType::LabUnit, "unit", &l.unit),
            (
                FieldType::LabReferenceRange,
                "reference_range",
                &l.reference_range,
            ),
            (FieldType::LabFlag, "flag", &l.flag),
        ];
        for (t, k, v) in subs {
            if let Some(v) = v {
                s.field(t, format!("labs[{i}].{k}"), v, anchor, &mut record);
            }
        }
    }
    for (key, iso) in &fields.dates {
        s.date_field(format!("dates.{key}"), iso);
    }
    s.out
}

/// Working state of [`score_fields`].
struct FieldScorer<'p, 'a> {
    p: &'p Projection<'a>,
    opts: &'p NormOptions,
    knowledge: &'p Knowledge,
    /// Reference spans already used, per field type.
    taken: HashMap<FieldType, Vec<(usize, usize)>>,
    out: Vec<FieldResult>,
}

impl FieldScorer<'_, '_> {
    /// Locates `value` (N1) and judges its projection; returns the reference span.
    fn field(
        &mut self,
        t: FieldType,
        key: String,
        value: &str,
        cursor: usize,
        record: &mut Vec<(usize, usize)>,
    ) -> Option<(usize, usize)> {
        let needle = normalize(value, self.opts);
        let occs = self.p.occurrences(&needle);
        let mut taken = self.taken.get(&t).cloned().unwrap_or_default();
        taken.extend_from_slice(record);
        let found = pick(&occs, cursor, &taken);
        let span = found.map(|o| (o.start, o.end));
        self.push(t, key, value.to_string(), &needle, span);
        if let Some(sp) = span {
            record.push(sp);
            self.taken.entry(t).or_default().push(sp);
        }
        span
    }

    fn date_field(&mut self, key: String, iso: &str) {
        let expected = parse_date(iso);
        let occs: Vec<Occurrence> = match &expected {
            Some(e) => {
                let mut v: Vec<Occurrence> = printed_dates(e)
                    .iter()
                    .flat_map(|f| self.p.occurrences(f))
                    .collect();
                v.sort_by_key(|o| (o.start, std::cmp::Reverse(o.end)));
                v
            }
            None => Vec::new(),
        };
        let taken = self
            .taken
            .get(&FieldType::Date)
            .cloned()
            .unwrap_or_default();
        let span = pick(&occs, 0, &taken).map(|o| (o.start, o.end));
        self.push(FieldType::Date, key, iso.to_string(), iso, span);
        if let Some(sp) = span {
            self.taken.entry(FieldType::Date).or_default().push(sp);
        }
    }

    /// Projects a located span and lets the field type's clinical matcher judge it;
    /// `judged_as` is the expected value in the form the matcher compares (N1, or ISO).
    fn push(
        &mut self,
        field_type: FieldType,
        key: String,
        expected: String,
        judged_as: &str,
        span: Option<(usize, usize)>,
    ) {
        let mut context = None;
        let (found, judgement, span) = match span {
            Some((rs, re)) => {
                let (hs, he) = self.p.project(rs, re);
                let text = strip_rule_noise(self.p.hyp_text(hs, he), &expected);
                let span = FieldSpan {
                    ref_start: rs,
                    ref_end: re,
                    hyp_start: hs,
                    hyp_end: he,
                };
                let judgement = clinical::judge(field_type, judged_as, text, self.knowledge);
                if !judgement.correct {
                    context = Some(self.p.context(rs, re));
                }
                (Some(text.to_string()), Some(judgement), Some(span))
            }
            None => (None, None, None),
        };
        let (correct, error, notes) = match judgement {
            Some(j) => (j.correct, j.error, j.notes),
            None => (false, None, Vec::new()),
        };
        self.out.push(FieldResult {
            field_type,
            key,
            expected,
            found,
            correct,
            located: span.is_some(),
            span,
            error,
            notes,
            context,
        });
    }
}

/// Glyphs that table rules and cell borders are read as (`|`, the Hangul vowel `ㅣ`, box
/// drawing). An adjacent insertion of one of them (`| 홍길동` for `홍길동` next to a cell
/// border) is layout noise, not a misread value, so it is stripped from the ends of the
/// projected text unless the expected value itself starts or ends with it. Digits and
/// letters are never stripped: `5000` for `500` stays wrong.
fn strip_rule_noise<'t>(found: &'t str, expected: &str) -> &'t str {
    const NOISE: [char; 6] = [' ', '|', 'ㅣ', '│', '¦', 'ǀ'];
    let keep_start = expected.chars().next().is_some_and(|c| NOISE.contains(&c));
    let keep_end = expected
        .chars()
        .next_back()
        .is_some_and(|c| NOISE.contains(&c));
    let mut out = found;
    if !keep_start {
        out = out.trim_start_matches(|c| NOISE.contains(&c));
    }
    if !keep_end {
        out = out.trim_end_matches(|c| NOISE.contains(&c));
    }
    out
}

/// Diagnosis-code-shaped tokens of a text, in order: `[A-Z][0-9]{2}(\.[0-9]{1,2})?`
/// not preceded or followed by an ASCII letter or digit.
pub fn extract_codes(text: &str) -> Vec<String> {
    // Byte scan: every byte of the pattern is ASCII, and UTF-8 never reuses ASCII bytes.
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_uppercase()
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && digit(i + 1)
            && digit(i + 2);
        if starts {
            let mut end = i + 3;
            if b.get(end) == Some(&b'.') && digit(end + 1) {
                end += 2;
                if digit(end) {
                    end += 1;
                }
            }
            if !b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
                out.push(text[i..end].to_string());
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Micro set scores for diagnosis codes and drug names of one document (see module
/// docs). `reference` and `hypothesis` are N1 texts.
pub fn set_scores(
    reference: &str,
    hypothesis: &str,
    fields: &Fields,
    opts: &NormOptions,
) -> Vec<SetScore> {
    let count = |items: Vec<String>| {
        let mut m: HashMap<String, usize> = HashMap::new();
        for it in items {
            *m.entry(it).or_default() += 1;
        }
        m
    };
    // Codes.
    let gt = count(
        fields
            .diagnosis_codes
            .iter()
            .map(|c| canonical_code(&normalize(c, opts)))
            .collect(),
    );
    let in_ref = count(extract_codes(reference));
    let in_hyp = count(extract_codes(hypothesis));
    let codes = multiset_score(SetKind::DiagnosisCode, &gt, &in_ref, &in_hyp);
    // The same at 3-character category level (`E11.9` → `E11`): partial credit.
    let category = |m: &HashMap<String, usize>| {
        let mut out: HashMap<String, usize> = HashMap::new();
        for (code, n) in m {
            *out.entry(code.chars().take(3).collect()).or_default() += n;
        }
        out
    };
    let categories = multiset_score(
        SetKind::DiagnosisCategory,
        &category(&gt),
        &category(&in_ref),
        &category(&in_hyp),
    );
    // Drug names: occurrences of each ground-truth name.
    let gt = count(
        fields
            .drugs
            .iter()
            .map(|d| normalize(&d.name, opts))
            .filter(|n| !n.is_empty())
            .collect(),
    );
    let occurrences = |text: &str| -> HashMap<String, usize> {
        gt.keys()
            .map(|n| (n.clone(), text.matches(n.as_str()).count()))
            .collect()
    };
    let names = multiset_score(
        SetKind::DrugName,
        &gt,
        &occurrences(reference),
        &occurrences(hypothesis),
    );
    vec![codes, categories, names]
}

/// TP/FP/FN of hypothesis candidates against ground truth, after discounting the
/// background (reference candidates beyond the ground truth).
fn multiset_score(
    t: SetKind,
    gt: &HashMap<String, usize>,
    in_ref: &HashMap<String, usize>,
    in_hyp: &HashMap<String, usize>,
) -> SetScore {
    let (mut tp, mut fp) = (0, 0);
    for (item, &h) in in_hyp {
        let g = gt.get(item).copied().unwrap_or(0);
        let background = in_ref.get(item).copied().unwrap_or(0).saturating_sub(g);
        let predicted = h.saturating_sub(background);
        let hit = predicted.min(g);
        tp += hit;
        fp += predicted - hit;
    }
    let fn_ = gt.values().sum::<usize>() - tp;
    SetScore::from_counts(t, tp, fp, fn_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Drug, LabRow};
    use crate::score::distance::align;
    use crate::score::text::{grapheme_symbols, graphemes, Interner};

    const N1: NormOptions = NormOptions {
        fold_fullwidth: false,
    };

    fn run(reference: &str, hypothesis: &str, fields: &Fields) -> Vec<FieldResult> {
        let (r, h) = (normalize(reference, &N1), normalize(hypothesis, &N1));
        let (rg, hg) = (graphemes(&r), graphemes(&h));
        let mut int = Interner::default();
        let a = grapheme_symbols(&rg, &mut int);
        let b = grapheme_symbols(&hg, &mut int);
        let al = align(&a, &b);
        let p = Projection::new(&r, &rg, &h, &hg, &al);
        score_fields(&p, fields, &N1, Knowledge::bundled())
    }

    fn get<'a>(rs: &'a [FieldResult], key: &str) -> &'a FieldResult {
        rs.iter()
            .find(|r| r.key == key)
            .unwrap_or_else(|| panic!("no {key} in {rs:#?}"))
    }

    fn drug(name: &str, dose: &str, freq: &str, days: &str, route: &str) -> Drug {
        Drug {
            name: name.into(),
            dose: Some(dose.into()),
            frequency: Some(freq.into()),
            days: Some(days.into()),
            route: Some(route.into()),
            ..Default::default()
        }
    }

    fn prescription_fields() -> Fields {
        let mut f = Fields {
            patient_name: Some("홍길동".into()),
            drugs: vec![
                drug("타이레놀정500밀리그램", "1", "3", "7", "식후 30분"),
                drug("아모잘탄정5/50밀리그램", "1", "1", "7", "식후 30분"),
            ],
            diagnosis_codes: vec!["I10".into(), "E11.9".into()],
            ..Default::default()
        };
        f.dates.insert("issued".into(), "2024-03-05".into());
        f
    }

    const PRESCRIPTION: &str =
        "처 방 전\n교부일자: 2024년 3월 5일\n환자 성명: 홍길동\n질병분류기호: I10, E11.9\n\
        타이레놀정500밀리그램 1 3 7 식후 30분\n아모잘탄정5/50밀리그램 1 1 7 식후 30분\n";

    #[test]
    fn table_rules_read_as_bars_next_to_a_value_are_not_errors() {
        assert_eq!(strip_rule_noise("| 홍길동", "홍길동"), "홍길동");
        assert_eq!(strip_rule_noise("ㅣ홍길동 |", "홍길동"), "홍길동");
        assert_eq!(strip_rule_noise("5000", "500"), "5000");
        assert_eq!(strip_rule_noise("|a|", "|a|"), "|a|");
    }

    #[test]
    fn perfect_transcription_scores_every_field_correct() {
        let f = prescription_fields();
        let rs = run(PRESCRIPTION, PRESCRIPTION, &f);
        assert_eq!(rs.len(), 1 + 10 + 2 + 1);
        for r in &rs {
            assert!(r.located && r.correct, "{r:?}");
        }
        // Repeated values take their own occurrences: drug 2's frequency is the second `1`.
        let f1 = get(&rs, "drugs[1].dose").span.unwrap();
        let f2 = get(&rs, "drugs[1].frequency").span.unwrap();
        assert!(f2.ref_start > f1.ref_start);
        let d0 = get(&rs, "drugs[0].days").span.unwrap();
        let d1 = get(&rs, "drugs[1].days").span.unwrap();
        assert!(d1.ref_start > d0.ref_start);
    }

    #[test]
    fn ocr_errors_land_on_the_right_fields() {
        let f = prescription_fields();
        let hyp = PRESCRIPTION
            .replace("홍길동", "홍길농")
            .replace("I10", "l10")
            .replace("500밀리", "5000밀리")
            .replace("1 3 7", "1 3 1")
            .replace("3월 5일", "3월 6일");
        let rs = run(PRESCRIPTION, &hyp, &f);
        let wrong: Vec<&str> = rs
            .iter()
            .filter(|r| !r.correct)
            .map(|r| r.key.as_str())
            .collect();
        assert_eq!(
            wrong,
            [
                "patient_name",
                "drugs[0].name",
                "drugs[0].days",
                "diagnosis_codes[0]",
                "dates.issued"
            ]
        );
        assert_eq!(get(&rs, "patient_name").found.as_deref(), Some("홍길농"));
        assert_eq!(
            get(&rs, "drugs[0].name").found.as_deref(),
            Some("타이레놀정5000밀리그램")
        );
        assert_eq!(
            get(&rs, "dates.issued").found.as_deref(),
            Some("2024년 3월 6일")
        );
    }

    #[test]
    fn insertion_next_to_a_number_makes_it_wrong() {
        let f = Fields {
            labs: vec![LabRow {
                item: "칼륨".into(),
                value: "4.5".into(),
                unit: Some("mmol/L".into()),
                reference_range: Some("3.5-5.1".into()),
                flag: None,
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = "칼륨 4.5 mmol/L 3.5-5.1";
        let rs = run(r, "칼륨 4.55 mmol/L 3.5-5.1", &f);
        assert_eq!(get(&rs, "labs[0].value").found.as_deref(), Some("4.55"));
        assert!(!get(&rs, "labs[0].value").correct);
        assert!(get(&rs, "labs[0].unit").correct);
        // A spacing change around a value keeps it correct.
        let rs = run(r, "칼륨 4.5mmol/L 3.5-5.1", &f);
        assert!(rs.iter().all(|r| r.correct), "{rs:#?}");
    }

    #[test]
    fn codes_compare_case_and_space_insensitively_and_dates_by_value() {
        let mut f = Fields {
            diagnosis_codes: vec!["E11.9".into()],
            ..Default::default()
        };
        f.dates.insert("onset".into(), "2024-03-05".into());
        let r = "진단: E11.9 발병일 2024.03.05";
        let rs = run(r, "진단: e11.9 발병일 2024-03-05", &f);
        assert!(get(&rs, "diagnosis_codes[0]").correct);
        assert!(get(&rs, "dates.onset").correct);
        let rs = run(r, "진단: E11.8 발병일 2024.08.05", &f);
        assert!(!get(&rs, "diagnosis_codes[0]").correct);
        assert!(!get(&rs, "dates.onset").correct);
    }

    #[test]
    fn unlocatable_fields_are_reported_and_excluded() {
        let f = Fields {
            patient_name: Some("김철수".into()),
            diagnosis_codes: vec!["J20.9".into()],
            ..Default::default()
        };
        let rs = run("진단: J20.9", "진단: J20.9", &f);
        let name = get(&rs, "patient_name");
        assert!(!name.located && name.found.is_none());
        let agg = aggregate_fields(&rs);
        assert_eq!(agg.len(), 2);
        assert_eq!(agg[0].field_type, FieldType::PatientName);
        assert_eq!(
            (agg[0].unlocatable, agg[0].scored, agg[0].accuracy),
            (1, 0, None)
        );
        assert_eq!(agg[1].accuracy, Some(1.0));
    }

    #[test]
    fn short_numbers_prefer_clean_occurrences() {
        let f = Fields {
            drugs: vec![drug("가나정", "5", "2", "10", "경구")],
            ..Default::default()
        };
        // `5` appears inside `0.5` and `15` first; the clean one is the dose column.
        let r = "가나정 0.5g 15T 5 2 10 경구";
        let rs = run(r, r, &f);
        let dose = get(&rs, "drugs[0].dose").span.unwrap();
        assert_eq!((dose.ref_start, dose.ref_end), (13, 14));
    }

    #[test]
    fn code_extraction_and_set_scores() {
        assert_eq!(
            extract_codes("I10, E11.9 B12x K21.0. Z00.123 AI10"),
            ["I10", "E11.9", "K21.0"]
        );
        let f = prescription_fields();
        let r = normalize(PRESCRIPTION, &N1);
        let perfect = set_scores(&r, &r, &f, &N1);
        for s in &perfect {
            assert_eq!(
                (s.precision, s.recall, s.f1),
                (Some(1.0), Some(1.0), Some(1.0)),
                "{s:?}"
            );
        }
        let h = r.replace("E11.9", "E11.8").replace("아모잘탄", "아모잘단") + " J20";
        let s = set_scores(&r, &h, &f, &N1);
        assert_eq!(
            (
                s[0].true_positives,
                s[0].false_positives,
                s[0].false_negatives
            ),
            (1, 2, 1)
        );
        // E11.8 for E11.9 still earns the category.
        assert_eq!(
            (
                s[1].true_positives,
                s[1].false_positives,
                s[1].false_negatives
            ),
            (2, 1, 0)
        );
        assert_eq!(
            (
                s[2].true_positives,
                s[2].false_positives,
                s[2].false_negatives
            ),
            (1, 0, 1)
        );
        assert_eq!(s[2].recall, Some(0.5));
        // Background: a lab item shaped like a code is not a false positive.
        let lab = Fields::default();
        let s = set_scores("비타민 B12 350", "비타민 B12 350", &lab, &N1);
        assert_eq!(s[0].false_positives, 0);
        let agg = aggregate_sets(perfect.iter().chain(&s));
        assert_eq!(agg[0].set, SetKind::DiagnosisCode);
        assert_eq!(agg[0].true_positives, 2);
        assert_eq!(agg[2].set, SetKind::DrugName);
    }

    #[test]
    fn field_type_serde_names() {
        let j = serde_json::to_string(&FieldType::LabReferenceRange).unwrap();
        assert_eq!(j, "\"lab_reference_range\"");
        for t in FieldType::ALL {
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
    }
}
