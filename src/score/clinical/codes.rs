//! KCD-8 (the Korean ICD-10) diagnosis codes: a code list, the code shape, a canonical
//! form, and a matcher that grades a recognised code against the expected one. A
//! different valid code is the dangerous error (it reads as another diagnosis); an
//! invalid one is noticed by any reader.

use std::collections::HashMap;
use std::path::Path;

use super::finding::{Judgement, Severity};
use super::formulary::{read_table, read_text, TableError};

const BUNDLED_KCD: &str = include_str!("../../../datasets/formulary/kcd.csv");

const COLUMNS: [&str; 2] = ["code", "name"];

/// A malformed code list: the same messages (file, line, column, what to fix) as a
/// malformed formulary, as its own type so that callers can tell the two files apart.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CodeListError(#[from] pub TableError);

/// A list of known codes with their Korean names.
#[derive(Debug, Clone)]
pub struct CodeList {
    codes: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl CodeList {
    /// The bundled list. Parsed on each call; callers keep it.
    pub fn bundled() -> CodeList {
        CodeList::parse(BUNDLED_KCD, "datasets/formulary/kcd.csv")
            .expect("the bundled code list is valid (tested)")
    }

    /// Loads a CSV file with the columns `code,name` (others are ignored).
    pub fn load(path: impl AsRef<Path>) -> Result<CodeList, CodeListError> {
        let (text, origin) = read_text(path.as_ref())?;
        CodeList::parse(&text, &origin)
    }

    /// Parses CSV text; `origin` names the source in errors. Codes are stored in
    /// canonical form, so `E119` in the file is `E11.9`.
    pub fn parse(text: &str, origin: &str) -> Result<CodeList, CodeListError> {
        let mut list = CodeList {
            codes: Vec::new(),
            index: HashMap::new(),
        };
        let mut lines: HashMap<String, u64> = HashMap::new();
        for row in read_table(text, origin, &COLUMNS)? {
            let code = canonical_code(row.get(0));
            if !valid_shape(&code) {
                return Err(CodeListError(row.error(
                    origin,
                    0,
                    COLUMNS[0],
                    format!(
                        "`{}` is not a KCD code; write a letter, two digits and optionally `.` with one or two digits, e.g. `E11.9`",
                        row.get(0)
                    ),
                )));
            }
            if let Some(first) = lines.insert(code.clone(), row.line) {
                return Err(CodeListError(row.error(
                    origin,
                    0,
                    COLUMNS[0],
                    format!("code {code} already appears on line {first}; codes must be unique"),
                )));
            }
            list.index.insert(code.clone(), list.codes.len());
            list.codes.push((code, row.get(1).to_string()));
        }
        Ok(list)
    }

    /// Whether the list has `code` (compared canonically: `e11.9`, `E119` = `E11.9`).
    pub fn contains(&self, code: &str) -> bool {
        self.index.contains_key(&canonical_code(code))
    }

    /// The Korean name of `code`, if listed.
    pub fn name(&self, code: &str) -> Option<&str> {
        let i = *self.index.get(&canonical_code(code))?;
        Some(&self.codes[i].1)
    }

    /// (code, name) pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.codes.iter().map(|(c, n)| (c.as_str(), n.as_str()))
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// Upper-cased, spaces removed, full-width characters folded, and the dot restored in
/// a dotless code (`e 119` → `E11.9`, `M4806` → `M48.06`). Other text is returned
/// upper-cased and unspaced, for [`valid_shape`] to reject.
pub fn canonical_code(text: &str) -> String {
    let s: String = fold(text).to_ascii_uppercase();
    let b = s.as_bytes();
    let dotless = (4..=5).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b[1..].iter().all(u8::is_ascii_digit);
    if dotless {
        format!("{}.{}", &s[..3], &s[3..])
    } else {
        s
    }
}

/// KCD/ICD-10 shape: a letter, two digits, then optionally `.` and one or two digits
/// (`I10`, `E11.9`, `M48.06`); judged on the canonical form, so `E119` passes.
pub fn valid_shape(code: &str) -> bool {
    let c = canonical_code(code);
    let b = c.as_bytes();
    let head =
        b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit();
    head && match &b[3..] {
        [] => true,
        [b'.', rest @ ..] => (1..=2).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Spaces removed and full-width ASCII folded (`Ｅ１１` → `E11`).
fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            c => c,
        })
        .collect()
}

/// The look-alike class of a glyph: 0 for zero/O, 1 for one/I/l.
fn glyph_class(c: char) -> Option<u8> {
    match c {
        '0' | 'O' | 'o' => Some(0),
        '1' | 'I' | 'l' | '|' => Some(1),
        _ => None,
    }
}

/// The (expected, found) character pairs where `found` differs from `expected` only by
/// look-alike glyphs (O↔0, I↔1, l↔1), one per position; empty when the texts are
/// equal or differ in any other way. Spaces and dots are ignored, letter case is not
/// a difference.
pub fn glyph_confusions(expected: &str, found: &str) -> Vec<(char, char)> {
    let strip = |t: &str| -> Vec<char> { fold(t).chars().filter(|&c| c != '.').collect() };
    let (e, f) = (strip(expected), strip(found));
    if e.len() != f.len() {
        return Vec::new();
    }
    let mut pairs = Vec::new();
    for (&a, &b) in e.iter().zip(&f) {
        if a.eq_ignore_ascii_case(&b) {
            continue;
        }
        match (glyph_class(a), glyph_class(b)) {
            (Some(x), Some(y)) if x == y => pairs.push((a, b)),
            _ => return Vec::new(),
        }
    }
    pairs
}

/// The 3-character category (`E11` of `E11.9`).
fn category(code: &str) -> &str {
    code.get(..3).unwrap_or(code)
}

/// Grades a recognised diagnosis code against the expected one.
///
/// Rules: `code.missing` (Major) nothing found; `code.invalid` (Major) not a code shape
/// or not in the list; `code.subcategory` (Major) another code of the same 3-character
/// category, noted `category match`; `code.substituted` (Critical) another valid code.
/// Look-alike glyph differences are noted `code.glyph_confusion: O→0` (expected→found).
pub fn judge_code(list: &CodeList, expected: &str, found: &str) -> Judgement {
    let (e, f) = (canonical_code(expected), canonical_code(found));
    if e == f {
        return Judgement::correct();
    }
    let mut judgement = if f.is_empty() {
        Judgement::wrong(
            Severity::Major,
            "code.missing",
            format!("expected {e}, no code found"),
        )
    } else if !valid_shape(&f) {
        Judgement::wrong(
            Severity::Major,
            "code.invalid",
            format!("expected {e}, found `{f}`, which is not a KCD code shape"),
        )
    } else if !list.contains(&f) {
        Judgement::wrong(
            Severity::Major,
            "code.invalid",
            format!("expected {e}, found {f}, which is not in the code list"),
        )
    } else if category(&e) == category(&f) {
        Judgement::wrong(
            Severity::Major,
            "code.subcategory",
            format!(
                "expected {e}, found {f} of the same category {}",
                category(&f)
            ),
        )
        .with_note("category match")
    } else {
        let name = |c: &str| list.name(c).map_or(String::new(), |n| format!(" ({n})"));
        Judgement::wrong(
            Severity::Critical,
            "code.substituted",
            format!("expected {e}{}, found {f}{}", name(&e), name(&f)),
        )
    };
    let mut seen = Vec::new();
    for (a, b) in glyph_confusions(expected, found) {
        if !seen.contains(&(a, b)) {
            seen.push((a, b));
            judgement = judgement.with_note(format!("code.glyph_confusion: {a}→{b}"));
        }
    }
    if !e.is_empty() && !list.contains(&e) {
        judgement = judgement.with_note("expected not in code list");
    }
    judgement
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> &'static CodeList {
        static BUNDLED: std::sync::OnceLock<CodeList> = std::sync::OnceLock::new();
        BUNDLED.get_or_init(CodeList::bundled)
    }

    fn rule(j: &Judgement) -> Option<(&str, Severity)> {
        j.error.as_ref().map(|e| (e.rule.as_str(), e.severity))
    }

    #[test]
    fn bundled_list_is_valid_and_covers_the_generator() {
        assert!((150..=300).contains(&list().len()), "{}", list().len());
        // A hand sample of the generator's codes (content/kcd.rs).
        for code in [
            "I10", "E11.9", "E78.5", "I48.9", "J06.9", "J30.4", "M54.5", "K30", "N40", "F41.9",
            "S72.0", "M81.0",
        ] {
            assert!(list().contains(code), "{code}");
        }
        assert_eq!(
            list().name("e119"),
            Some("합병증을 동반하지 않은 2형 당뇨병")
        );
        // Fifth-character extensions exist too.
        assert!(list().iter().any(|(c, _)| c.len() == 6));
        for (c, _) in list().iter() {
            assert!(valid_shape(c), "{c}");
        }
    }

    #[test]
    fn shapes_and_canonical_forms() {
        for ok in [
            "I10",
            "E11.9",
            "M48.06",
            "e11.9",
            "E119",
            "M4806",
            " E 11 . 9 ",
            "Ｅ１１．９",
        ] {
            assert!(valid_shape(ok), "{ok}");
        }
        for bad in [
            "", "E11.", "E1", "E11.123", "11.9", "EE1.9", "E11-9", "EI1.9", "E11.O", "E111234",
        ] {
            assert!(!valid_shape(bad), "{bad}");
        }
        assert_eq!(canonical_code(" e 119 "), "E11.9");
        assert_eq!(canonical_code("m4806"), "M48.06");
        assert_eq!(canonical_code("k30"), "K30");
        assert_eq!(canonical_code("E11.O"), "E11.O");
    }

    #[test]
    fn glyph_confusions_are_found_only_when_alone() {
        assert_eq!(glyph_confusions("E11.0", "E11.O"), [('0', 'O')]);
        assert_eq!(glyph_confusions("I10", "110"), [('I', '1')]);
        assert_eq!(glyph_confusions("I10", "l1O"), [('I', 'l'), ('0', 'O')]);
        assert_eq!(glyph_confusions("E11.9", "El19"), [('1', 'l')]);
        assert!(glyph_confusions("E11.9", "E11.7").is_empty());
        assert!(glyph_confusions("E11.0", "E12.O").is_empty());
        assert!(glyph_confusions("E11.9", "e11.9").is_empty());
    }

    #[test]
    fn judge_rules() {
        let j = |e: &str, f: &str| judge_code(list(), e, f);
        assert!(j("E11.9", "E11.9").correct);
        assert!(j("E11.9", "e 119").correct);
        assert_eq!(
            rule(&j("E11.9", " ")),
            Some(("code.missing", Severity::Major))
        );
        assert_eq!(
            rule(&j("E11.9", "E11")),
            Some(("code.invalid", Severity::Major))
        );
        assert_eq!(
            rule(&j("E11.9", "E11.x")),
            Some(("code.invalid", Severity::Major))
        );
        assert_eq!(
            rule(&j("E11.9", "Q99.9")),
            Some(("code.invalid", Severity::Major))
        );
        let sub = j("E11.9", "E11.7");
        assert_eq!(rule(&sub), Some(("code.subcategory", Severity::Major)));
        assert_eq!(sub.notes, ["category match"]);
        assert_eq!(
            rule(&j("S72.00", "S72.01")),
            Some(("code.subcategory", Severity::Major))
        );
        let subst = j("E11.9", "E78.5");
        assert_eq!(rule(&subst), Some(("code.substituted", Severity::Critical)));
        assert!(subst.error.unwrap().detail.contains("고지질혈증"));
        assert!(!j("I10", "Q99.9")
            .notes
            .contains(&"expected not in code list".to_string()));
        assert!(j("Q99.9", "I10")
            .notes
            .contains(&"expected not in code list".to_string()));
    }

    #[test]
    fn glyph_confusions_are_noted() {
        let j = judge_code(list(), "K59.0", "K59.O");
        assert_eq!(rule(&j), Some(("code.invalid", Severity::Major)));
        assert_eq!(j.notes, ["code.glyph_confusion: 0→O"]);
        let j = judge_code(list(), "I10", "110");
        assert_eq!(rule(&j), Some(("code.invalid", Severity::Major)));
        assert_eq!(j.notes, ["code.glyph_confusion: I→1"]);
        // Lower-case l for 1 leaves no valid code but is still a glyph confusion.
        let j = judge_code(list(), "M17.1", "M17.l");
        assert_eq!(rule(&j), Some(("code.invalid", Severity::Major)));
        assert_eq!(j.notes, ["code.glyph_confusion: 1→l"]);
        let j = judge_code(list(), "M81.0", "M8l.O");
        assert_eq!(
            j.notes,
            ["code.glyph_confusion: 1→l", "code.glyph_confusion: 0→O"]
        );
    }

    #[test]
    fn csv_errors_name_the_line() {
        let e = |t: &str| CodeList::parse(t, "kcd.csv").unwrap_err().to_string();
        let err = e("code,name\nI10,고혈압\nE11.,당뇨병\n");
        assert!(
            err.starts_with("kcd.csv:3: column 1 (code)") && err.contains("E11.9"),
            "{err}"
        );
        let err = e("code,name\nI10,고혈압\nI10,고혈압\n");
        assert!(
            err.starts_with("kcd.csv:3:") && err.contains("line 2"),
            "{err}"
        );
        let err = e("kode,name\n");
        assert!(
            err.starts_with("kcd.csv:1:") && err.contains("`code`"),
            "{err}"
        );
        let err = e("code,name\n\"I10,고혈압\n");
        assert!(err.starts_with("kcd.csv:"), "{err}");
        let ok = CodeList::parse("name,code\n당뇨병,e119\n", "t").unwrap();
        assert!(ok.contains("E11.9"));
    }

    #[test]
    fn load_reads_files() {
        let path = std::env::temp_dir().join(format!("kcd-test-{}.csv", std::process::id()));
        std::fs::write(&path, "code,name\nI10,고혈압\n").unwrap();
        assert!(CodeList::load(&path).unwrap().contains("I10"));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            CodeList::load(&path),
            Err(CodeListError(TableError::Read { .. }))
        ));
    }
}
