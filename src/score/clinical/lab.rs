//! Matchers for a lab-result row: item name, value, unit, reference range and H/L flag.
//!
//! Values are compared as exact decimals with their comparator, or as qualitative
//! results, never as characters. Rules:
//!
//! - value: `lab.missing` (Major), `lab.unreadable` (Major, not a value),
//!   `lab.comparator` (Critical: `<0.5` read as `0.5` turns "undetectable" into a
//!   measurement), `lab.value` (Critical, a different number; the detail says when it
//!   is tenfold), `lab.precision_loss` (Minor: `13.50` read as `13.5`, same value but
//!   not the printed text), `lab.qualitative` (Critical, negative ↔ positive),
//!   `lab.qualitative_grade` (Major: same polarity, other grade, e.g. 1+ vs 3+, trace
//!   vs negative). Synonyms (음성 = Negative = (-)) are correct.
//! - unit: `lab_unit.missing`, `lab_unit.value` (Major); synonyms (U/L = IU/L) are
//!   correct.
//! - reference range: `lab_range.missing`, `lab_range.unreadable`, `lab_range.value`
//!   (Major); ranges are compared by their bounds, so `3.5-5.1` = `3.5 ~ 5.1`.
//! - flag: `lab_flag.inverted` (Critical, H ↔ L), `lab_flag.missing`,
//!   `lab_flag.spurious`, `lab_flag.unreadable` (Major).
//! - item: `lab_item.value` (Major).
//!
//! Where an expected text cannot be parsed, the texts are compared without spaces and
//! a difference is the field's value rule.

use super::decimal::Decimal;
use super::finding::{Judgement, Severity};
use super::units::same_lab_unit;

/// A comparator printed before a value or a one-sided range bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Lt,
    Le,
    Gt,
    Ge,
}

use Comparator::*;

/// Prefix spellings, longest first so that `<=` is not read as `<` then `=`.
const PREFIXES: &[(&str, Comparator)] = &[
    ("<=", Le),
    (">=", Ge),
    ("≤", Le),
    ("≦", Le),
    ("≥", Ge),
    ("≧", Ge),
    ("<", Lt),
    ("＜", Lt),
    (">", Gt),
    ("＞", Gt),
];

/// Korean suffix spellings: `200 이하`, `40 이상`, `0.5 미만`, `1000 초과`.
const SUFFIXES: &[(&str, Comparator)] = &[("이하", Le), ("이상", Ge), ("미만", Lt), ("초과", Gt)];

/// A number with an optional comparator: `13.5`, `<0.5`, `≥ 40`, `200 이하`.
fn parse_compared(text: &str) -> Option<(Option<Comparator>, Decimal)> {
    let t = text.trim();
    for &(prefix, c) in PREFIXES {
        if let Some(rest) = t.strip_prefix(prefix) {
            return Some((Some(c), Decimal::parse(rest)?));
        }
    }
    for &(suffix, c) in SUFFIXES {
        if let Some(rest) = t.strip_suffix(suffix) {
            return Some((Some(c), Decimal::parse(rest)?));
        }
    }
    Some((None, Decimal::parse(t)?))
}

/// A qualitative result. `Positive { grade: None }` is an ungraded positive (`양성`,
/// `(+)`), which counts as grade 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualitative {
    Negative,
    Trace,
    Positive { grade: Option<u8> },
}

impl Qualitative {
    fn same(self, other: Qualitative) -> bool {
        match (self, other) {
            (Qualitative::Positive { grade: a }, Qualitative::Positive { grade: b }) => {
                a.unwrap_or(1) == b.unwrap_or(1)
            }
            (a, b) => a == b,
        }
    }

    /// Negative against any positive: the clinically opposite answer.
    fn opposite(self, other: Qualitative) -> bool {
        use Qualitative::{Negative, Positive};
        matches!(
            (self, other),
            (Negative, Positive { .. }) | (Positive { .. }, Negative)
        )
    }
}

/// A parsed lab value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabValue {
    Number {
        comparator: Option<Comparator>,
        value: Decimal,
    },
    Qualitative(Qualitative),
}

/// Parses `13.5`, `<0.5`, `>1000`, `≥ 40`, `음성`, `Negative`, `(-)`, `2+`, `trace`,
/// `양성(2+)`. A bare `-` is not read as negative: tables print it for "no value".
pub fn parse_lab_value(text: &str) -> Option<LabValue> {
    if let Some(q) = parse_qualitative(text) {
        return Some(LabValue::Qualitative(q));
    }
    let (comparator, value) = parse_compared(text)?;
    Some(LabValue::Number { comparator, value })
}

fn parse_qualitative(text: &str) -> Option<Qualitative> {
    let t = fold_qualitative(text);
    qualitative_token(&t).or_else(|| qualitative_pair(&t))
}

/// Lower case, no spaces, full-width brackets and signs made ASCII.
fn fold_qualitative(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '＋' => '+',
            '－' | '−' | '–' => '-',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

fn qualitative_token(t: &str) -> Option<Qualitative> {
    let q = match t {
        "음성" | "negative" | "neg" | "(-)" | "nonreactive" | "non-reactive" => {
            Qualitative::Negative
        }
        "양성" | "positive" | "pos" | "(+)" | "+" | "reactive" => {
            Qualitative::Positive { grade: None }
        }
        "trace" | "tr" | "미량" | "±" | "(±)" | "+-" | "(+-)" | "+/-" | "(+/-)" => {
            Qualitative::Trace
        }
        _ => return graded(t),
    };
    Some(q)
}

/// `1+`…`4+`, `++`…`++++`, optionally in brackets.
fn graded(t: &str) -> Option<Qualitative> {
    let inner = t
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(t);
    let grade = match inner.strip_suffix('+')? {
        d @ ("1" | "2" | "3" | "4") => d.parse().ok()?,
        plus @ ("+" | "++" | "+++") => plus.len() as u8 + 1,
        _ => return None,
    };
    Some(Qualitative::Positive { grade: Some(grade) })
}

/// A word with its sign in brackets (`음성(-)`, `양성(2+)`, `trace(±)`): both parts
/// must agree; the graded one is kept.
fn qualitative_pair(t: &str) -> Option<Qualitative> {
    let open = t.find('(').filter(|&i| i > 0 && t.ends_with(')'))?;
    let word = qualitative_token(&t[..open])?;
    let sign = qualitative_token(&t[open..])?;
    match (word, sign) {
        (Qualitative::Positive { grade: None }, p @ Qualitative::Positive { .. }) => Some(p),
        (p @ Qualitative::Positive { .. }, Qualitative::Positive { grade: None }) => Some(p),
        (a, b) if a == b => Some(a),
        _ => None,
    }
}

/// Judges a recognised lab value against the printed one.
pub fn judge_lab_value(expected: &str, found: &str) -> Judgement {
    let (expected, found) = (expected.trim(), found.trim());
    let Some(exp) = parse_lab_value(expected) else {
        return compare_as_text(
            expected,
            found,
            "lab.missing",
            "lab.value",
            Severity::Critical,
        );
    };
    if found.is_empty() {
        return Judgement::wrong(Severity::Major, "lab.missing", "no value was read");
    }
    let Some(got) = parse_lab_value(found) else {
        return Judgement::wrong(
            Severity::Major,
            "lab.unreadable",
            format!("{found:?} is not a lab value"),
        );
    };
    let what = format!("expected {expected:?}, found {found:?}");
    match (exp, got) {
        (
            LabValue::Number {
                comparator: ec,
                value: ev,
            },
            LabValue::Number {
                comparator: fc,
                value: fv,
            },
        ) => compare_numbers((ec, ev), (fc, fv), what),
        (LabValue::Qualitative(e), LabValue::Qualitative(f)) => compare_qualitative(e, f, what),
        (LabValue::Qualitative(_), LabValue::Number { .. }) => Judgement::wrong(
            Severity::Critical,
            "lab.qualitative",
            format!("{what}: a number for a qualitative result"),
        ),
        (LabValue::Number { .. }, LabValue::Qualitative(_)) => Judgement::wrong(
            Severity::Critical,
            "lab.value",
            format!("{what}: a qualitative result for a number"),
        ),
    }
}

type Compared = (Option<Comparator>, Decimal);

/// Comparator first (losing `<` is the most dangerous misreading), then value, then
/// printed precision.
fn compare_numbers(exp: Compared, got: Compared, what: String) -> Judgement {
    let ((ec, ev), (fc, fv)) = (exp, got);
    if ec != fc {
        let how = match (ec, fc) {
            (Some(_), None) => "comparator lost",
            (None, Some(_)) => "comparator added",
            _ => "comparator changed",
        };
        return Judgement::wrong(
            Severity::Critical,
            "lab.comparator",
            format!("{what}: {how}"),
        );
    }
    if !ev.value_eq(&fv) {
        let detail = if ev.fold_at_least(&fv, 10) {
            format!("{what}: tenfold or more apart")
        } else {
            what
        };
        return Judgement::wrong(Severity::Critical, "lab.value", detail);
    }
    if ev.decimals() != fv.decimals() {
        return Judgement::wrong(
            Severity::Minor,
            "lab.precision_loss",
            format!(
                "{what}: {} decimals printed, {} read",
                ev.decimals(),
                fv.decimals()
            ),
        );
    }
    Judgement::correct()
}

fn compare_qualitative(exp: Qualitative, got: Qualitative, what: String) -> Judgement {
    if exp.same(got) {
        Judgement::correct()
    } else if exp.opposite(got) {
        Judgement::wrong(Severity::Critical, "lab.qualitative", what)
    } else {
        Judgement::wrong(Severity::Major, "lab.qualitative_grade", what)
    }
}

/// Judges a recognised lab unit; synonyms (`U/L` = `IU/L`, `×10³/μL` = `10^3/uL`) are
/// correct.
pub fn judge_lab_unit(expected: &str, found: &str) -> Judgement {
    let (expected, found) = (expected.trim(), found.trim());
    if same_lab_unit(expected, found) {
        return Judgement::correct();
    }
    if found.is_empty() {
        return Judgement::wrong(Severity::Major, "lab_unit.missing", "no unit was read");
    }
    Judgement::wrong(
        Severity::Major,
        "lab_unit.value",
        format!("expected {expected:?}, found {found:?}"),
    )
}

/// One end of a reference range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub value: Decimal,
    pub inclusive: bool,
}

impl Bound {
    fn same(&self, other: &Bound) -> bool {
        self.inclusive == other.inclusive && self.value.value_eq(&other.value)
    }
}

/// A reference range; `a-b` has both ends inclusive, `<b` only an exclusive high end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceRange {
    pub low: Option<Bound>,
    pub high: Option<Bound>,
}

impl ReferenceRange {
    /// Same bounds by value (`0.6-1.2` = `0.60-1.20`), whatever the spelling.
    pub fn same(&self, other: &ReferenceRange) -> bool {
        let same_end = |a: Option<Bound>, b: Option<Bound>| match (a, b) {
            (Some(a), Some(b)) => a.same(&b),
            (None, None) => true,
            _ => false,
        };
        same_end(self.low, other.low) && same_end(self.high, other.high)
    }
}

/// Parses `3.5-5.1`, `3.5 ~ 5.1`, `3.5–5.1`, `-2-2`, `<200`, `≤ 40`, `>40`, `≥40`,
/// `200 이하`. A bare number is not a range.
pub fn parse_reference_range(text: &str) -> Option<ReferenceRange> {
    let t = fold_dashes(text.trim());
    if let Some(range) = parse_interval(&t) {
        return Some(range);
    }
    let (comparator, value) = parse_compared(&t)?;
    let bound = |inclusive| Some(Bound { value, inclusive });
    let range = match comparator? {
        Lt => ReferenceRange {
            low: None,
            high: bound(false),
        },
        Le => ReferenceRange {
            low: None,
            high: bound(true),
        },
        Gt => ReferenceRange {
            low: bound(false),
            high: None,
        },
        Ge => ReferenceRange {
            low: bound(true),
            high: None,
        },
    };
    Some(range)
}

/// Dash-like characters as `-`, tilde-like ones as `~`.
fn fold_dashes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '–' | '—' | '−' | '‐' | '‑' | '－' => '-',
            '～' | '〜' | '∼' => '~',
            c => c,
        })
        .collect()
}

/// `a-b` or `a~b`. The separator is the first `-`/`~` after the first character with
/// numbers on both sides, so negative bounds (`-2-2`) work.
fn parse_interval(t: &str) -> Option<ReferenceRange> {
    t.char_indices()
        .skip(1)
        .filter(|&(_, c)| c == '-' || c == '~')
        .find_map(|(i, c)| {
            let low = Decimal::parse(&t[..i])?;
            let high = Decimal::parse(&t[i + c.len_utf8()..])?;
            let inclusive = |value| {
                Some(Bound {
                    value,
                    inclusive: true,
                })
            };
            Some(ReferenceRange {
                low: inclusive(low),
                high: inclusive(high),
            })
        })
}

/// Judges a recognised reference range by its bounds. An expected text that is not a
/// plain range (`남 13-17`) is compared as text without spaces.
pub fn judge_reference_range(expected: &str, found: &str) -> Judgement {
    let (expected, found) = (expected.trim(), found.trim());
    let Some(exp) = parse_reference_range(expected) else {
        let (e, f) = (fold_dashes(expected), fold_dashes(found));
        return compare_as_text(
            &e,
            &f,
            "lab_range.missing",
            "lab_range.value",
            Severity::Major,
        );
    };
    if found.is_empty() {
        return Judgement::wrong(Severity::Major, "lab_range.missing", "no range was read");
    }
    let Some(got) = parse_reference_range(found) else {
        return Judgement::wrong(
            Severity::Major,
            "lab_range.unreadable",
            format!("{found:?} is not a reference range"),
        );
    };
    if exp.same(&got) {
        return Judgement::correct();
    }
    Judgement::wrong(
        Severity::Major,
        "lab_range.value",
        format!("expected {expected:?}, found {found:?}"),
    )
}

/// An abnormality flag, or its printed absence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    High,
    Low,
    Absent,
}

/// Parses `H`, `L`, `High`, `Low`, `↑`, `↓`, `▲`, `▼`, `높음`, `낮음` (any case) and the
/// empty text. `*` marks an abnormal value without a direction and is not a flag, so it
/// is ignored (`H*` = `H`, `*` = no flag).
pub fn parse_flag(text: &str) -> Option<Flag> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .flat_map(char::to_lowercase)
        .collect();
    match t.as_str() {
        "" => Some(Flag::Absent),
        "h" | "high" | "↑" | "▲" | "높음" => Some(Flag::High),
        "l" | "low" | "↓" | "▼" | "낮음" => Some(Flag::Low),
        _ => None,
    }
}

/// Judges a recognised H/L flag.
pub fn judge_flag(expected: &str, found: &str) -> Judgement {
    let (expected, found) = (expected.trim(), found.trim());
    let Some(got) = parse_flag(found) else {
        return Judgement::wrong(
            Severity::Major,
            "lab_flag.unreadable",
            format!("{found:?} is not a flag"),
        );
    };
    let Some(exp) = parse_flag(expected) else {
        // The generator prints only H, L or nothing; anything else is compared as text.
        if fold_ascii(expected) == fold_ascii(found) {
            return Judgement::correct();
        }
        return Judgement::wrong(
            Severity::Major,
            "lab_flag.unreadable",
            format!("expected {expected:?} is not a flag; found {found:?}"),
        );
    };
    let what = format!("expected {expected:?}, found {found:?}");
    match (exp, got) {
        (e, g) if e == g => Judgement::correct(),
        (Flag::Absent, _) => Judgement::wrong(Severity::Major, "lab_flag.spurious", what),
        (_, Flag::Absent) => Judgement::wrong(Severity::Major, "lab_flag.missing", what),
        _ => Judgement::wrong(Severity::Critical, "lab_flag.inverted", what),
    }
}

/// Judges a recognised test name: equal without spaces and ASCII case.
pub fn judge_lab_item(expected: &str, found: &str) -> Judgement {
    if fold_ascii(expected) == fold_ascii(found) {
        return Judgement::correct();
    }
    let detail = if found.trim().is_empty() {
        format!("expected {:?}, nothing read", expected.trim())
    } else {
        format!("expected {:?}, found {:?}", expected.trim(), found.trim())
    };
    Judgement::wrong(Severity::Major, "lab_item.value", detail)
}

fn fold_ascii(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Fallback for an expected text that is not parseable: equal without spaces is
/// correct, nothing read is `missing`, anything else is `value`.
fn compare_as_text(
    expected: &str,
    found: &str,
    missing: &str,
    value: &str,
    severity: Severity,
) -> Judgement {
    if without_spaces(expected) == without_spaces(found) {
        return Judgement::correct();
    }
    if found.trim().is_empty() {
        return Judgement::wrong(Severity::Major, missing, "nothing was read");
    }
    Judgement::wrong(
        severity,
        value,
        format!("expected {expected:?} (compared as text), found {found:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn assert_correct(j: Judgement) {
        assert!(j.correct && j.error.is_none(), "{j:?}");
    }

    #[track_caller]
    fn assert_rule(j: Judgement, sev: Severity, id: &str) {
        assert!(!j.correct, "{j:?}");
        let e = j.error.as_ref().expect("an error");
        assert_eq!((e.rule.as_str(), e.severity), (id, sev), "{j:?}");
    }

    fn detail(j: &Judgement) -> &str {
        &j.error.as_ref().expect("an error").detail
    }

    #[test]
    fn parses_values_with_comparators() {
        for (text, c) in [
            ("<0.5", Some(Lt)),
            ("< 0.5", Some(Lt)),
            ("＜0.5", Some(Lt)),
            ("<=0.5", Some(Le)),
            ("≤0.5", Some(Le)),
            (">0.5", Some(Gt)),
            ("＞0.5", Some(Gt)),
            (">= 0.5", Some(Ge)),
            ("≥0.5", Some(Ge)),
            ("0.5 미만", Some(Lt)),
            ("0.5", None),
        ] {
            match parse_lab_value(text) {
                Some(LabValue::Number { comparator, value }) => {
                    assert_eq!(comparator, c, "{text}");
                    assert_eq!(value.canonical(), "0.5", "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        for bad in ["", "<", "5O0", "l3.5", "13.5 H", "-", "<<1"] {
            assert!(parse_lab_value(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn parses_qualitative_results() {
        use Qualitative::*;
        for (text, q) in [
            ("음성", Negative),
            ("Negative", Negative),
            ("NEG", Negative),
            ("(-)", Negative),
            ("（－）", Negative),
            ("음성(-)", Negative),
            ("양성", Positive { grade: None }),
            ("Positive", Positive { grade: None }),
            ("(+)", Positive { grade: None }),
            ("+", Positive { grade: None }),
            ("1+", Positive { grade: Some(1) }),
            ("(3+)", Positive { grade: Some(3) }),
            ("++", Positive { grade: Some(2) }),
            ("++++", Positive { grade: Some(4) }),
            ("양성(2+)", Positive { grade: Some(2) }),
            ("Trace", Trace),
            ("±", Trace),
            ("미량", Trace),
        ] {
            assert_eq!(
                parse_lab_value(text),
                Some(LabValue::Qualitative(q)),
                "{text}"
            );
        }
        for bad in ["음성(+)", "5+", "+++++", "양성(", "(음성)"] {
            assert!(parse_lab_value(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn equal_values_are_correct() {
        for (e, f) in [
            ("13.5", "13.5"),
            ("0.82", "0.82"),
            ("1,000", "1000"),
            ("<0.5", "< 0.5"),
            ("<0.5", "＜0.5"),
            (">1000", "> 1,000"),
            ("≤40", "<=40"),
        ] {
            assert_correct(judge_lab_value(e, f));
        }
    }

    #[test]
    fn missing_and_unreadable_values() {
        assert_rule(judge_lab_value("13.5", ""), Severity::Major, "lab.missing");
        for garbled in ["l3.5", "13.S", "1O", "<", "13.5.1"] {
            assert_rule(
                judge_lab_value("13.5", garbled),
                Severity::Major,
                "lab.unreadable",
            );
        }
        assert_rule(
            judge_lab_value("음성", "응성"),
            Severity::Major,
            "lab.unreadable",
        );
    }

    #[test]
    fn comparator_lost_added_or_changed_is_critical() {
        let j = judge_lab_value("<0.5", "0.5");
        assert!(detail(&j).contains("lost"), "{j:?}");
        assert_rule(j, Severity::Critical, "lab.comparator");
        assert_rule(
            judge_lab_value(">1000", "1000"),
            Severity::Critical,
            "lab.comparator",
        );
        assert_rule(
            judge_lab_value("0.5", "<0.5"),
            Severity::Critical,
            "lab.comparator",
        );
        assert_rule(
            judge_lab_value("<0.5", ">0.5"),
            Severity::Critical,
            "lab.comparator",
        );
        assert_rule(
            judge_lab_value("<0.5", "≤0.5"),
            Severity::Critical,
            "lab.comparator",
        );
    }

    #[test]
    fn different_numbers_are_critical_with_tenfold_in_the_detail() {
        let j = judge_lab_value("13.5", "135");
        assert!(detail(&j).contains("tenfold"), "{j:?}");
        assert_rule(j, Severity::Critical, "lab.value");
        let j = judge_lab_value("0.82", "0.87");
        assert!(!detail(&j).contains("tenfold"), "{j:?}");
        assert_rule(j, Severity::Critical, "lab.value");
        assert_rule(
            judge_lab_value("<0.5", "<5"),
            Severity::Critical,
            "lab.value",
        );
        assert_rule(
            judge_lab_value("1.0", "10"),
            Severity::Critical,
            "lab.value",
        );
    }

    #[test]
    fn precision_loss_is_minor_and_not_correct() {
        assert_rule(
            judge_lab_value("13.50", "13.5"),
            Severity::Minor,
            "lab.precision_loss",
        );
        assert_rule(
            judge_lab_value("13.5", "13.50"),
            Severity::Minor,
            "lab.precision_loss",
        );
        assert_rule(
            judge_lab_value("1.0", "1"),
            Severity::Minor,
            "lab.precision_loss",
        );
        assert_rule(
            judge_lab_value("<0.50", "<0.5"),
            Severity::Minor,
            "lab.precision_loss",
        );
    }

    #[test]
    fn qualitative_synonyms_and_mismatches() {
        for (e, f) in [
            ("음성", "Negative"),
            ("음성", "(-)"),
            ("Negative", "음성"),
            ("(-)", "neg"),
            ("양성", "Positive"),
            ("양성", "(+)"),
            ("1+", "+"),
            ("2+", "++"),
            ("trace", "±"),
        ] {
            assert_correct(judge_lab_value(e, f));
        }
        for (e, f) in [
            ("음성", "양성"),
            ("Negative", "Positive"),
            ("(-)", "(+)"),
            ("음성", "2+"),
            ("3+", "Negative"),
        ] {
            assert_rule(judge_lab_value(e, f), Severity::Critical, "lab.qualitative");
        }
        for (e, f) in [
            ("1+", "3+"),
            ("음성", "trace"),
            ("trace", "1+"),
            ("양성", "2+"),
        ] {
            assert_rule(
                judge_lab_value(e, f),
                Severity::Major,
                "lab.qualitative_grade",
            );
        }
    }

    #[test]
    fn qualitative_and_numeric_do_not_mix() {
        assert_rule(
            judge_lab_value("음성", "0"),
            Severity::Critical,
            "lab.qualitative",
        );
        assert_rule(
            judge_lab_value("13.5", "음성"),
            Severity::Critical,
            "lab.value",
        );
    }

    #[test]
    fn unparseable_expected_value_is_compared_as_text() {
        assert_correct(judge_lab_value("1:40", "1 : 40"));
        assert_rule(
            judge_lab_value("1:40", "1:80"),
            Severity::Critical,
            "lab.value",
        );
        assert_rule(judge_lab_value("1:40", ""), Severity::Major, "lab.missing");
    }

    #[test]
    fn unit_rules() {
        for (e, f) in [
            ("mg/dL", "mg/dL"),
            ("mg/dL", "mg / dl"),
            ("U/L", "IU/L"),
            ("×10³/μL", "10^3/uL"),
            ("×10³/μL", "K/uL"),
            ("", ""),
        ] {
            assert_correct(judge_lab_unit(e, f));
        }
        assert_rule(
            judge_lab_unit("mg/dL", ""),
            Severity::Major,
            "lab_unit.missing",
        );
        assert_rule(
            judge_lab_unit("mg/dL", "g/dL"),
            Severity::Major,
            "lab_unit.value",
        );
        assert_rule(
            judge_lab_unit("", "mg/dL"),
            Severity::Major,
            "lab_unit.value",
        );
    }

    fn range(text: &str) -> ReferenceRange {
        parse_reference_range(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn parses_ranges_into_bounds() {
        let r = range("3.5-5.1");
        assert_eq!(
            r.low.map(|b| (b.value.canonical(), b.inclusive)),
            Some((String::from("3.5"), true))
        );
        assert_eq!(
            r.high.map(|b| (b.value.canonical(), b.inclusive)),
            Some((String::from("5.1"), true))
        );
        let r = range("< 200");
        assert!(r.low.is_none() && r.high.is_some_and(|b| !b.inclusive));
        let r = range("≥40");
        assert!(r.high.is_none() && r.low.is_some_and(|b| b.inclusive));
        let r = range("-2-2");
        assert_eq!(r.low.map(|b| b.value.canonical()), Some(String::from("-2")));
        assert_eq!(r.high.map(|b| b.value.canonical()), Some(String::from("2")));
        for bad in [
            "",
            "200",
            "3.5-",
            "-5.1",
            "남 13-17",
            "3.5-5.1-7",
            "3.5 to 5.1",
        ] {
            assert!(parse_reference_range(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn equal_ranges_in_any_spelling_are_correct() {
        for (e, f) in [
            ("3.5-5.1", "3.5-5.1"),
            ("3.5-5.1", "3.5 ~ 5.1"),
            ("3.5 ~ 5.1", "3.5–5.1"),
            ("3.5-5.1", "3.5 — 5.1"),
            ("3.5-5.1", "3.5～5.1"),
            ("0.6-1.2", "0.60-1.20"),
            ("< 200", "<200"),
            ("<200", "200 미만"),
            ("≤ 40", "<=40"),
            (">40", "＞40"),
            ("≥40", ">= 40"),
        ] {
            assert_correct(judge_reference_range(e, f));
        }
    }

    #[test]
    fn range_errors() {
        assert_rule(
            judge_reference_range("3.5-5.1", ""),
            Severity::Major,
            "lab_range.missing",
        );
        for garbled in ["3.5-5.l", "3.5", "3,5-5,1", "~", "40-"] {
            assert_rule(
                judge_reference_range("3.5-5.1", garbled),
                Severity::Major,
                "lab_range.unreadable",
            );
        }
        for (e, f) in [
            ("3.5-5.1", "3.5-51"),
            ("3.5-5.1", "35-5.1"),
            ("<200", "≤200"),
            ("<200", ">200"),
            (">40", "≥40"),
            ("0.6-1.2", "<1.2"),
            ("<200", "<2000"),
        ] {
            assert_rule(
                judge_reference_range(e, f),
                Severity::Major,
                "lab_range.value",
            );
        }
    }

    #[test]
    fn unparseable_expected_range_is_compared_without_spaces() {
        assert_correct(judge_reference_range("남 13-17", "남13-17"));
        assert_correct(judge_reference_range("남 13-17", "남 13–17"));
        assert_rule(
            judge_reference_range("남 13-17", "남 13-7"),
            Severity::Major,
            "lab_range.value",
        );
        assert_rule(
            judge_reference_range("남 13-17", ""),
            Severity::Major,
            "lab_range.missing",
        );
    }

    #[test]
    fn flag_parsing() {
        for (t, f) in [
            ("H", Flag::High),
            ("h", Flag::High),
            ("High", Flag::High),
            ("↑", Flag::High),
            ("H*", Flag::High),
            ("L", Flag::Low),
            ("Low", Flag::Low),
            ("↓", Flag::Low),
            ("", Flag::Absent),
            ("*", Flag::Absent),
        ] {
            assert_eq!(parse_flag(t), Some(f), "{t:?}");
        }
        for bad in ["8", "HL", "N", "1"] {
            assert_eq!(parse_flag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn flag_rules() {
        assert_correct(judge_flag("H", "H"));
        assert_correct(judge_flag("H", "↑"));
        assert_correct(judge_flag("L", "Low"));
        assert_correct(judge_flag("", ""));
        assert_correct(judge_flag("", "*"));
        assert_rule(
            judge_flag("H", "L"),
            Severity::Critical,
            "lab_flag.inverted",
        );
        assert_rule(
            judge_flag("L", "↑"),
            Severity::Critical,
            "lab_flag.inverted",
        );
        assert_rule(judge_flag("H", ""), Severity::Major, "lab_flag.missing");
        assert_rule(judge_flag("L", "*"), Severity::Major, "lab_flag.missing");
        assert_rule(judge_flag("", "H"), Severity::Major, "lab_flag.spurious");
        assert_rule(judge_flag("H", "8"), Severity::Major, "lab_flag.unreadable");
        assert_rule(judge_flag("", "1"), Severity::Major, "lab_flag.unreadable");
    }

    #[test]
    fn item_rules() {
        assert_correct(judge_lab_item("WBC", "WBC"));
        assert_correct(judge_lab_item("White Blood Cell", "white bloodcell"));
        assert_correct(judge_lab_item("백혈구", " 백혈구 "));
        assert_rule(
            judge_lab_item("WBC", "RBC"),
            Severity::Major,
            "lab_item.value",
        );
        assert_rule(judge_lab_item("WBC", ""), Severity::Major, "lab_item.value");
    }
}
