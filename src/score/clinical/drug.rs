//! Grades a recognised drug name against the expected one through the formulary: a
//! name that reads as another real product or another strength is the dangerous
//! error; a misspelling that still identifies the same product is minor.
//!
//! Rules (stable ids):
//! - `drug.missing` (Major): nothing recognised.
//! - `drug.look_alike` (Critical): resolves, exactly or fuzzily, to a different product.
//! - `drug.strength` (Critical): the same product with a different strength.
//! - `drug.strength_missing` (Major): the same product with the strength lost.
//! - `drug.misspelled` (Minor): resolves fuzzily to the expected entry.
//! - `drug.unresolved` (Major): resolves to no product.
//! - `drug.mismatch` (Major): the expected name is not in the formulary and the
//!   normalised texts differ (noted `expected not in formulary`).

use super::finding::{Judgement, Severity};
use super::formulary::{
    normalized_name, parse_drug_name, Formulary, MatchKind, Resolution, StrengthMatch,
};

/// How a found name resolved, for error details.
fn how(r: &Resolution) -> String {
    match r.kind {
        MatchKind::Exact => "exact".to_string(),
        _ if r.levenshtein == 1.0 => "exact product".to_string(),
        _ => format!(
            "fuzzy, Jaro-Winkler {:.2}, Levenshtein {:.2}",
            r.jaro_winkler, r.levenshtein
        ),
    }
}

/// The printed strength of a name in canonical units, e.g. `5000mg`.
fn printed_strength(text: &str) -> String {
    let p = parse_drug_name(text);
    let unit = p.unit.map_or("", |u| u.canonical);
    format!("{}{unit}", p.strength_text)
}

/// Judges a recognised drug name (`found`) against the expected one.
pub fn judge_drug(formulary: &Formulary, expected: &str, found: &str) -> Judgement {
    let found_blank = found.trim().is_empty();
    let expected_res = formulary.resolve(expected);
    let want = match expected_res.entry {
        Some(i) if expected_res.kind == MatchKind::Exact => i,
        _ => return judge_text(expected, found),
    };
    let want_entry = formulary.entry(want);
    if found_blank {
        return Judgement::wrong(
            Severity::Major,
            "drug.missing",
            format!("expected {}, nothing recognised", want_entry.printed_name()),
        );
    }
    let got_res = formulary.resolve(found);
    let Some(got) = got_res.entry else {
        return Judgement::wrong(
            Severity::Major,
            "drug.unresolved",
            format!(
                "expected {}, found `{found}`, which matches no formulary product (best Jaro-Winkler {:.2}, Levenshtein {:.2})",
                want_entry.printed_name(),
                got_res.jaro_winkler,
                got_res.levenshtein
            ),
        );
    };
    let got_entry = formulary.entry(got);
    if !formulary.same_product(want, got) {
        let mut j = Judgement::wrong(
            Severity::Critical,
            "drug.look_alike",
            format!(
                "expected {}, found `{found}` reads as {} ({})",
                want_entry.printed_name(),
                got_entry.product,
                how(&got_res)
            ),
        );
        if got_entry.ingredient == want_entry.ingredient {
            j = j.with_note(format!("same ingredient: {}", want_entry.ingredient));
        }
        return j;
    }
    match got_res.strength {
        Some(StrengthMatch::Missing) => {
            return Judgement::wrong(
                Severity::Major,
                "drug.strength_missing",
                format!(
                    "expected {}, found `{found}` without a strength",
                    want_entry.printed_name()
                ),
            )
        }
        Some(StrengthMatch::Different) => {
            return Judgement::wrong(
                Severity::Critical,
                "drug.strength",
                format!(
                    "expected {}, found {} {}",
                    want_entry.printed_name(),
                    want_entry.product,
                    printed_strength(found)
                ),
            )
        }
        _ if got != want => {
            return Judgement::wrong(
                Severity::Critical,
                "drug.strength",
                format!(
                    "expected {}, found {}",
                    want_entry.printed_name(),
                    got_entry.printed_name()
                ),
            )
        }
        _ => {}
    }
    if got_res.kind == MatchKind::Exact {
        Judgement::correct()
    } else {
        Judgement::wrong(
            Severity::Minor,
            "drug.misspelled",
            format!(
                "found `{found}`, a misspelling of {} ({})",
                want_entry.printed_name(),
                how(&got_res)
            ),
        )
    }
}

/// Without a formulary entry for the expected name, only normalised text can be
/// compared (spaces, unit spelling and number format do not count).
fn judge_text(expected: &str, found: &str) -> Judgement {
    let (e, f) = (normalized_name(expected), normalized_name(found));
    let judgement = if e == f {
        Judgement::correct()
    } else if f.is_empty() {
        Judgement::wrong(
            Severity::Major,
            "drug.missing",
            format!("expected `{expected}`, nothing recognised"),
        )
    } else {
        Judgement::wrong(
            Severity::Major,
            "drug.mismatch",
            format!("expected `{expected}`, found `{found}`"),
        )
    };
    if e.is_empty() {
        judgement
    } else {
        judgement.with_note("expected not in formulary")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(expected: &str, found: &str) -> Judgement {
        static BUNDLED: std::sync::OnceLock<Formulary> = std::sync::OnceLock::new();
        judge_drug(BUNDLED.get_or_init(Formulary::bundled), expected, found)
    }

    fn rule(j: &Judgement) -> Option<(String, Severity)> {
        j.error.as_ref().map(|e| (e.rule.clone(), e.severity))
    }

    fn is(j: &Judgement, id: &str, severity: Severity) {
        assert_eq!(rule(j), Some((id.to_string(), severity)), "{j:?}");
    }

    #[test]
    fn equal_after_normalisation_is_correct() {
        for found in [
            "타이레놀정500mg",
            "타이레놀정 500 밀리그램",
            "타이레놀정500㎎",
            "타이레놀정500밀리그람",
            "타이레놀정0.5g",
        ] {
            let j = judge("타이레놀정500밀리그램", found);
            assert!(j.correct && j.error.is_none(), "{found}: {j:?}");
        }
        assert!(judge("씬지로이드정0.1mg", "씬지로이드정100mcg").correct);
        assert!(judge("울트라셋정", "울트라셋 정").correct);
    }

    #[test]
    fn missing_and_unresolved() {
        is(
            &judge("타이레놀정500mg", "  "),
            "drug.missing",
            Severity::Major,
        );
        is(
            &judge("타이레놀정500mg", "혈압약"),
            "drug.unresolved",
            Severity::Major,
        );
        is(
            &judge("코자정50mg", "ㅋㅈ정50mg"),
            "drug.unresolved",
            Severity::Major,
        );
    }

    #[test]
    fn look_alike_products_are_critical() {
        for (expected, found) in [
            ("자낙스정0.25mg", "잔탁정150mg"),
            ("자이로릭정100mg", "자이프렉사정5mg"),
            ("라식스정40mg", "로섹캡슐20mg"),
            ("가스터정20mg", "가스모틴정5mg"),
            ("스티렌정60mg", "스틸녹스정10mg"),
            ("씬지로이드정0.1mg", "씬지록신정100mcg"),
            ("리바로정2mg", "리바로젯정2/10mg"),
            ("코자정50mg", "조코정20mg"),
            // A misspelled look-alike still reads as the other product.
            ("자낙스정0.25mg", "잔탁졍150mg"),
        ] {
            is(
                &judge(expected, found),
                "drug.look_alike",
                Severity::Critical,
            );
        }
        let j = judge("아모잘탄정5/50mg", "코자엑스큐정5/50mg");
        is(&j, "drug.look_alike", Severity::Critical);
        assert!(
            j.notes.is_empty(),
            "camsylate and besylate salts differ: {j:?}"
        );
        let j = judge("씬지로이드정0.1mg", "씬지록신정100mcg");
        assert_eq!(j.notes, ["same ingredient: 레보티록신나트륨"]);
    }

    #[test]
    fn strength_substitutions_are_critical() {
        for (expected, found) in [
            ("타이레놀정500mg", "타이레놀정5000mg"),
            ("타이레놀정500mg", "타이레놀정50mg"),
            ("타이레놀정500mg", "타이레놀정500mcg"),
            ("노바스크정5mg", "노바스크정10mg"),
            ("아모잘탄정5/50mg", "아모잘탄정5/100mg"),
            ("자낙스정0.25mg", "자낙스정2.5mg"),
            ("타이레놀정500mg", "타이래놀정5000mg"),
        ] {
            is(&judge(expected, found), "drug.strength", Severity::Critical);
        }
        let j = judge("타이레놀정500mg", "타이레놀정5000mg");
        assert!(j.error.unwrap().detail.contains("5000mg"));
        is(
            &judge("타이레놀정500mg", "타이레놀정"),
            "drug.strength_missing",
            Severity::Major,
        );
    }

    #[test]
    fn misspellings_of_the_same_entry_are_minor() {
        for found in [
            "타이래놀정500mg",
            "타이레놀정5O0mg",
            "타이레놀정500",
            "타이레놀정500밀리그림",
            "타이레놀500mg",
        ] {
            let j = judge("타이레놀정500mg", found);
            assert!(!j.correct, "{found}");
            is(&j, "drug.misspelled", Severity::Minor);
        }
        is(
            &judge("씬지로이드정0.1mg", "씬지로이드정0.lmg"),
            "drug.misspelled",
            Severity::Minor,
        );
    }

    #[test]
    fn expected_outside_the_formulary_falls_back_to_text() {
        let j = judge("없는약정10mg", "없는약정 10 밀리그램");
        assert!(j.correct);
        assert_eq!(j.notes, ["expected not in formulary"]);
        let j = judge("없는약정10mg", "없는약정100mg");
        is(&j, "drug.mismatch", Severity::Major);
        assert_eq!(j.notes, ["expected not in formulary"]);
        is(&judge("없는약정10mg", ""), "drug.missing", Severity::Major);
        assert!(judge("", "").correct);
    }
}
