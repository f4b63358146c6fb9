//! Matchers for a prescription row's 1회 투약량 (dose), 1일 투여횟수 (frequency) and
//! 총 투약일수 (days).
//!
//! Values are compared as exact quantities, never as characters: `1.0` read as `10`
//! differs by one character but is a tenfold overdose, while `0.25mg` and `250mcg` are
//! the same dose. Rules, by field:
//!
//! - dose: `dose.missing` (Major, nothing read), `dose.unreadable` (Major, not an
//!   amount), `dose.tenfold` (Critical, ≥10× apart or zero vs non-zero: the classic
//!   decimal-point error), `dose.value` (Critical, any other difference; a doubled dose
//!   harms too), `dose.unit` (Major, same number in an incompatible unit such as mg vs
//!   mL or 정 vs 캡슐). A unit printed on one side only is accepted (`1` = `1정`): the
//!   table column already implies it.
//! - Error-prone notation (ISMP): `dose.trailing_zero` (`1.0`, misread as `10`) and
//!   `dose.naked_decimal` (`.5`, misread as `5`) are reported as notes, prefixed with
//!   `expected: ` or `found: `, whatever the verdict. They describe the document or the
//!   reading, not a recognition error.
//! - frequency: `frequency.missing`, `frequency.unreadable` (Major), `frequency.value`
//!   (Critical: the frequency multiplies the daily dose).
//! - days: `days.missing`, `days.unreadable` (Major), `days.tenfold` (Critical: 7 → 70
//!   days of a drug), `days.value` (Major: the supply is wrong but each dose is not).
//!
//! Where the expected text itself cannot be parsed, the texts are compared without
//! spaces, and a difference is the field's value rule.

use super::decimal::Decimal;
use super::finding::{Judgement, Severity};
use super::units::{Amount, Dimension, DoseUnit};

/// Judges a recognised 1회 투약량 against the printed one.
pub fn judge_dose(expected: &str, found: &str) -> Judgement {
    let verdict = dose_verdict(expected.trim(), found.trim());
    with_notation_notes(verdict, expected, found)
}

fn dose_verdict(expected: &str, found: &str) -> Judgement {
    let Some(exp) = Amount::parse(expected) else {
        return compare_as_text(expected, found, "dose", Severity::Critical);
    };
    if found.is_empty() {
        return Judgement::wrong(Severity::Major, "dose.missing", "no dose was read");
    }
    let Some(got) = Amount::parse(found) else {
        return Judgement::wrong(
            Severity::Major,
            "dose.unreadable",
            format!("{found:?} is not a dose"),
        );
    };
    compare_amounts(&exp, &got, expected, found)
}

fn compare_amounts(exp: &Amount, got: &Amount, expected: &str, found: &str) -> Judgement {
    if exp.same_quantity(got) {
        return Judgement::correct();
    }
    let (x, y, compatible) = comparable_values(exp, got);
    if x.value_eq(&y) {
        if compatible {
            return Judgement::correct();
        }
        return Judgement::wrong(
            Severity::Major,
            "dose.unit",
            format!("expected {expected:?}, found {found:?}: same number, other unit"),
        );
    }
    if x.fold_at_least(&y, 10) {
        return Judgement::wrong(
            Severity::Critical,
            "dose.tenfold",
            format!("expected {expected:?}, found {found:?}: tenfold or more apart"),
        );
    }
    Judgement::wrong(
        Severity::Critical,
        "dose.value",
        format!("expected {expected:?}, found {found:?}"),
    )
}

/// The two values to compare and whether the units are compatible. Convertible units
/// compare in the base unit (so `500mg` vs `500mcg` is a thousandfold error);
/// incompatible units or a unit on one side only compare the printed numbers.
fn comparable_values(exp: &Amount, got: &Amount) -> (Decimal, Decimal, bool) {
    match (exp.unit, got.unit) {
        (Some(a), Some(b)) if convertible(a, b) => {
            (exp.value.shift(a.pow10), got.value.shift(b.pow10), true)
        }
        (Some(_), Some(_)) => (exp.value, got.value, false),
        _ => (exp.value, got.value, true),
    }
}

/// Same dimension, and for dosage forms the same form: 1정 is not 1캡슐.
fn convertible(a: DoseUnit, b: DoseUnit) -> bool {
    a.dimension == b.dimension && (a.dimension != Dimension::Count || a == b)
}

fn with_notation_notes(mut verdict: Judgement, expected: &str, found: &str) -> Judgement {
    for risk in notation_risks(expected) {
        verdict = verdict.with_note(format!("expected: {risk}"));
    }
    for risk in notation_risks(found) {
        verdict = verdict.with_note(format!("found: {risk}"));
    }
    verdict
}

/// ISMP error-prone dose notation in `text`: `dose.trailing_zero` (`1.0`, `1.00 mg`)
/// and `dose.naked_decimal` (`.5 mg`), each at most once, in that order.
pub fn notation_risks(text: &str) -> Vec<&'static str> {
    let numbers: Vec<Decimal> = number_runs(text).filter_map(Decimal::parse).collect();
    let mut risks = Vec::new();
    if numbers.iter().any(Decimal::trailing_zero) {
        risks.push("dose.trailing_zero");
    }
    if numbers.iter().any(Decimal::naked) {
        risks.push("dose.naked_decimal");
    }
    risks
}

/// Maximal runs of digits, points and commas (`1.00 mg x .5` → `1.00`, `.5`).
fn number_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .filter(|run| !run.is_empty())
}

/// Judges a recognised 1일 투여횟수 (`3`, `3회`, `1일 3회`).
pub fn judge_frequency(expected: &str, found: &str) -> Judgement {
    let (expected, found) = (expected.trim(), found.trim());
    let Some(exp) = parse_frequency(expected) else {
        return compare_as_text(expected, found, "frequency", Severity::Critical);
    };
    if found.is_empty() {
        return Judgement::wrong(
            Severity::Major,
            "frequency.missing",
            "no frequency was read",
        );
    }
    let Some(got) = parse_frequency(found) else {
        return Judgement::wrong(
            Severity::Major,
            "frequency.unreadable",
            format!("{found:?} is not a daily frequency"),
        );
    };
    if exp == got {
        return Judgement::correct();
    }
    Judgement::wrong(
        Severity::Critical,
        "frequency.value",
        format!("expected {exp} times a day, found {got}"),
    )
}

fn parse_frequency(text: &str) -> Option<u64> {
    let compact = without_spaces(text);
    let t = compact.strip_prefix("1일").unwrap_or(&compact);
    parse_count(t.strip_suffix('회').unwrap_or(t))
}

/// Judges a recognised 총 투약일수 (`7`, `7일`, `7일분`).
pub fn judge_days(expected: &str, found: &str) -> Judgement {
    let (expected, found) = (expected.trim(), found.trim());
    let Some(exp) = parse_days(expected) else {
        return compare_as_text(expected, found, "days", Severity::Major);
    };
    if found.is_empty() {
        return Judgement::wrong(Severity::Major, "days.missing", "no day count was read");
    }
    let Some(got) = parse_days(found) else {
        return Judgement::wrong(
            Severity::Major,
            "days.unreadable",
            format!("{found:?} is not a day count"),
        );
    };
    if exp == got {
        return Judgement::correct();
    }
    if tenfold_apart(exp, got) {
        return Judgement::wrong(
            Severity::Critical,
            "days.tenfold",
            format!("expected {exp} days, found {got}: tenfold or more apart"),
        );
    }
    Judgement::wrong(
        Severity::Major,
        "days.value",
        format!("expected {exp} days, found {got}"),
    )
}

fn parse_days(text: &str) -> Option<u64> {
    let compact = without_spaces(text);
    let t = compact.strip_suffix("일분").unwrap_or(&compact);
    parse_count(t.strip_suffix('일').unwrap_or(t))
}

/// A plain non-negative integer of ASCII digits (OCR's `l` for `1` is not one).
fn parse_count(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `max ≥ 10 × min`, or exactly one of them zero.
fn tenfold_apart(a: u64, b: u64) -> bool {
    let (lo, hi) = (a.min(b), a.max(b));
    if lo == 0 {
        return hi != 0;
    }
    hi >= lo * 10
}

fn without_spaces(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Fallback for an expected text this module cannot parse: equal without spaces is
/// correct, nothing read is `<field>.missing`, anything else is `<field>.value`.
fn compare_as_text(expected: &str, found: &str, field: &str, severity: Severity) -> Judgement {
    if without_spaces(expected) == without_spaces(found) {
        return Judgement::correct();
    }
    if found.is_empty() {
        return Judgement::wrong(
            Severity::Major,
            &format!("{field}.missing"),
            "nothing was read",
        );
    }
    Judgement::wrong(
        severity,
        &format!("{field}.value"),
        format!("expected {expected:?} (compared as text), found {found:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(j: &Judgement) -> Option<&str> {
        j.error.as_ref().map(|e| e.rule.as_str())
    }

    fn severity(j: &Judgement) -> Option<Severity> {
        j.error.as_ref().map(|e| e.severity)
    }

    #[track_caller]
    fn assert_correct(j: Judgement) {
        assert!(j.correct && j.error.is_none(), "{j:?}");
    }

    #[track_caller]
    fn assert_rule(j: Judgement, sev: Severity, id: &str) {
        assert!(!j.correct, "{j:?}");
        assert_eq!(rule(&j), Some(id), "{j:?}");
        assert_eq!(severity(&j), Some(sev), "{j:?}");
    }

    #[test]
    fn same_dose_in_any_spelling_is_correct() {
        for (e, f) in [
            ("1", "1"),
            ("0.5", "0.5"),
            ("0.5", ".5"),
            ("1.00", "1"),
            ("1", "1.00"),
            ("1", "1정"),
            ("1정", "1"),
            ("1정", "1 T"),
            ("1캡슐", "1cap"),
            ("10mL", "10 ml"),
            ("10mL", "10"),
            ("0.25mg", "250mcg"),
            ("500밀리그램", "500mg"),
            ("1g", "1,000 mg"),
        ] {
            assert_correct(judge_dose(e, f));
        }
    }

    #[test]
    fn empty_and_garbled_reads() {
        assert_rule(judge_dose("1", ""), Severity::Major, "dose.missing");
        assert_rule(judge_dose("1", "   "), Severity::Major, "dose.missing");
        for garbled in ["5O0", "l", "1정씩", "mg", "1,0", "1.2.3"] {
            assert_rule(
                judge_dose("500", garbled),
                Severity::Major,
                "dose.unreadable",
            );
        }
    }

    #[test]
    fn tenfold_errors_are_judged_by_value_not_characters() {
        for (e, f) in [
            ("1.0", "10"),
            ("0.5", "5"),
            (".5", "5"),
            ("500", "5000"),
            ("5000", "500"),
            ("1.00", "100"),
            ("1", "0"),
            ("0", "1"),
            ("0.25mg", "25mg"),
            ("500mg", "500mcg"),
            ("1g", "1mg"),
        ] {
            assert_rule(judge_dose(e, f), Severity::Critical, "dose.tenfold");
        }
    }

    #[test]
    fn smaller_differences_are_still_critical() {
        for (e, f) in [
            ("1", "2"),
            ("2", "1"),
            ("0.5", "0.25"),
            ("1정", "2정"),
            ("500mg", "250000mcg"),
        ] {
            assert_rule(judge_dose(e, f), Severity::Critical, "dose.value");
        }
        // Nine-fold is not tenfold.
        assert_rule(judge_dose("1", "9"), Severity::Critical, "dose.value");
    }

    #[test]
    fn incompatible_units_with_same_number() {
        for (e, f) in [
            ("5mL", "5mg"),
            ("1정", "1캡슐"),
            ("1포", "1정"),
            ("10IU", "10mg"),
        ] {
            assert_rule(judge_dose(e, f), Severity::Major, "dose.unit");
        }
        // A different number wins over the unit: judged on the printed numbers.
        assert_rule(judge_dose("1정", "2캡슐"), Severity::Critical, "dose.value");
        assert_rule(
            judge_dose("1정", "10캡슐"),
            Severity::Critical,
            "dose.tenfold",
        );
    }

    #[test]
    fn notation_risks_in_dose_texts() {
        assert_eq!(notation_risks("1.0"), vec!["dose.trailing_zero"]);
        assert_eq!(notation_risks("1.00 mg"), vec!["dose.trailing_zero"]);
        assert_eq!(notation_risks(".5 mg"), vec!["dose.naked_decimal"]);
        assert_eq!(
            notation_risks(".50"),
            vec!["dose.trailing_zero", "dose.naked_decimal"]
        );
        for safe in ["1", "0.5", "10", "1,000", "1.05", "500mg", "", "정"] {
            assert!(notation_risks(safe).is_empty(), "{safe}");
        }
    }

    #[test]
    fn notation_notes_are_attached_even_when_correct() {
        let j = judge_dose("1.00", "1");
        assert!(j.correct);
        assert_eq!(j.notes, vec!["expected: dose.trailing_zero"]);

        let j = judge_dose("0.5", ".5");
        assert!(j.correct);
        assert_eq!(j.notes, vec!["found: dose.naked_decimal"]);

        let j = judge_dose(".5", "5");
        assert_eq!(rule(&j), Some("dose.tenfold"));
        assert_eq!(j.notes, vec!["expected: dose.naked_decimal"]);

        assert!(judge_dose("1", "1").notes.is_empty());
    }

    #[test]
    fn unparseable_expected_dose_falls_back_to_text() {
        assert_correct(judge_dose("1/2 정", "1/2정"));
        assert_rule(
            judge_dose("1/2정", "1/3정"),
            Severity::Critical,
            "dose.value",
        );
        assert_rule(judge_dose("1/2정", ""), Severity::Major, "dose.missing");
        assert_correct(judge_dose("", ""));
    }

    #[test]
    fn frequency_rules() {
        assert_correct(judge_frequency("3", "3"));
        assert_correct(judge_frequency("3", "3회"));
        assert_correct(judge_frequency("3", "3 회"));
        assert_correct(judge_frequency("3", "1일 3회"));
        assert_rule(
            judge_frequency("3", ""),
            Severity::Major,
            "frequency.missing",
        );
        for garbled in ["l", "3O", "회", "3.0", "세번"] {
            assert_rule(
                judge_frequency("3", garbled),
                Severity::Major,
                "frequency.unreadable",
            );
        }
        assert_rule(
            judge_frequency("3", "2"),
            Severity::Critical,
            "frequency.value",
        );
        assert_rule(
            judge_frequency("1", "4회"),
            Severity::Critical,
            "frequency.value",
        );
    }

    #[test]
    fn days_rules() {
        assert_correct(judge_days("7", "7"));
        assert_correct(judge_days("7", "7일"));
        assert_correct(judge_days("7", "7 일"));
        assert_correct(judge_days("30", "30일분"));
        assert_rule(judge_days("7", ""), Severity::Major, "days.missing");
        for garbled in ["T", "7l", "일", "7.5"] {
            assert_rule(judge_days("7", garbled), Severity::Major, "days.unreadable");
        }
        for (e, f) in [("7", "70"), ("30", "3"), ("3", "30일"), ("7", "0")] {
            assert_rule(judge_days(e, f), Severity::Critical, "days.tenfold");
        }
        for (e, f) in [("7", "1"), ("14", "4"), ("3", "8"), ("30", "28")] {
            assert_rule(judge_days(e, f), Severity::Major, "days.value");
        }
    }

    #[test]
    fn integer_tenfold_boundaries() {
        assert!(tenfold_apart(3, 30));
        assert!(!tenfold_apart(3, 29));
        assert!(tenfold_apart(0, 5));
        assert!(!tenfold_apart(0, 0));
    }
}
