//! Checks a printed PDF against its model: the text layer (`pdftotext -raw`, which keeps
//! the content stream's order) must equal the ground truth line for line after whitespace
//! normalisation, and the embedded fonts (`pdffonts`) must all be named faces of the
//! printout's stacks, none of them reserved.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::fonts::is_reserved_ps_name;
use super::PrintError;
use crate::dataset::Fields;

/// Runs a poppler tool, mapping a missing binary to a clear error.
fn poppler(tool: &'static str, args: &[&std::ffi::OsStr]) -> Result<String, PrintError> {
    let out = Command::new(tool).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            PrintError::ToolMissing { tool }
        } else {
            PrintError::Tool {
                tool,
                reason: e.to_string(),
            }
        }
    })?;
    if !out.status.success() {
        return Err(PrintError::Tool {
            tool,
            reason: format!(
                "exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    String::from_utf8(out.stdout).map_err(|e| PrintError::Tool {
        tool,
        reason: format!("output is not UTF-8: {e}"),
    })
}

/// The PDF's text layer, per page, per line (`pdftotext -raw`).
pub fn text_layer(pdf: &Path) -> Result<Vec<Vec<String>>, PrintError> {
    let text = poppler(
        "pdftotext",
        &[
            "-raw".as_ref(),
            "-enc".as_ref(),
            "UTF-8".as_ref(),
            pdf.as_os_str(),
            "-".as_ref(),
        ],
    )?;
    let mut pages: Vec<Vec<String>> = text
        .split('\u{c}')
        .map(|p| p.lines().map(str::to_string).collect())
        .collect();
    // pdftotext ends every page with a form feed: the last piece is empty.
    if pages
        .last()
        .is_some_and(|p| p.iter().all(|l| l.trim().is_empty()))
    {
        pages.pop();
    }
    Ok(pages)
}

/// Whitespace normalisation: every run of whitespace becomes one space; trimmed.
pub fn normalise(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Compares the expected lines of every page with the text layer. The first difference is
/// an error naming the document, the page and the line.
pub fn compare(
    id: &str,
    expected: &[Vec<String>],
    found: &[Vec<String>],
) -> Result<(), PrintError> {
    if expected.len() != found.len() {
        return Err(PrintError::TextMismatch {
            id: id.to_string(),
            page: expected.len().min(found.len()) + 1,
            line: 0,
            expected: format!("{} page(s)", expected.len()),
            found: format!("{} page(s)", found.len()),
        });
    }
    for (p, (e, f)) in expected.iter().zip(found).enumerate() {
        let e: Vec<String> = e
            .iter()
            .map(|l| normalise(l))
            .filter(|l| !l.is_empty())
            .collect();
        let f: Vec<String> = f
            .iter()
            .map(|l| normalise(l))
            .filter(|l| !l.is_empty())
            .collect();
        for i in 0..e.len().max(f.len()) {
            let (a, b) = (e.get(i), f.get(i));
            if a != b {
                return Err(PrintError::TextMismatch {
                    id: id.to_string(),
                    page: p + 1,
                    line: i + 1,
                    expected: a.cloned().unwrap_or_else(|| "(no more lines)".into()),
                    found: b.cloned().unwrap_or_else(|| "(no more lines)".into()),
                });
            }
        }
    }
    Ok(())
}

/// One font a PDF embeds or references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfFont {
    /// PostScript name with its subset tag (`ABCDEF+`) removed; `[none]` for unnamed fonts.
    pub name: String,
    /// `CID TrueType`, `Type 3`, …
    pub kind: String,
    pub embedded: bool,
}

/// The fonts of a PDF (`pdffonts`).
pub fn fonts(pdf: &Path) -> Result<Vec<PdfFont>, PrintError> {
    let out = poppler("pdffonts", &[pdf.as_os_str()])?;
    let mut lines = out.lines();
    // Header, then a dashed rule whose runs give the column widths.
    let _ = lines.next();
    let rule = lines.next().unwrap_or_default();
    let mut cols = Vec::new();
    let mut start = None;
    for (i, c) in rule.char_indices() {
        match (c, start) {
            ('-', None) => start = Some(i),
            (' ', Some(s)) => {
                cols.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        cols.push((s, rule.len()));
    }
    let field = |line: &str, k: usize| -> String {
        cols.get(k)
            .map(|&(s, e)| {
                let end = if k + 1 == cols.len() { line.len() } else { e };
                line.get(s..end.min(line.len()))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    };
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let raw = field(l, 0);
            let name = match raw.split_once('+') {
                Some((tag, rest))
                    if tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()) =>
                {
                    rest.to_string()
                }
                _ => raw,
            };
            PdfFont {
                name,
                kind: field(l, 1),
                embedded: field(l, 3) == "yes",
            }
        })
        .collect())
}

/// Every font must be embedded, named, one of `allowed` and not reserved; Type 3 fonts
/// (Chromium's synthesised faces) are refused since their origin cannot be told.
pub fn check_fonts(
    id: &str,
    found: &[PdfFont],
    allowed: &BTreeSet<String>,
) -> Result<(), PrintError> {
    for f in found {
        let problem = if is_reserved_ps_name(&f.name) {
            Some("a reserved family")
        } else if f.kind.starts_with("Type 3") || f.name == "[none]" {
            Some("an unnamed Type 3 font (a synthesised face)")
        } else if !f.embedded {
            Some("not embedded")
        } else if !allowed.contains(&f.name) {
            Some("not one of the printout's fonts")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(PrintError::FontCheck {
                id: id.to_string(),
                font: f.name.clone(),
                problem: problem.to_string(),
            });
        }
    }
    Ok(())
}

/// Every string field value must appear verbatim on one line of the text.
pub fn check_fields(id: &str, text: &str, fields: &Fields) -> Result<(), PrintError> {
    let mut values: Vec<(String, &str)> = Vec::new();
    if let Some(n) = &fields.patient_name {
        values.push(("patient_name".into(), n));
    }
    for (i, d) in fields.drugs.iter().enumerate() {
        values.push((format!("drugs[{i}].name"), &d.name));
        for (k, v) in [
            ("dose", &d.dose),
            ("frequency", &d.frequency),
            ("days", &d.days),
            ("route", &d.route),
        ] {
            if let Some(v) = v {
                values.push((format!("drugs[{i}].{k}"), v));
            }
        }
    }
    for (i, c) in fields.diagnosis_codes.iter().enumerate() {
        values.push((format!("diagnosis_codes[{i}]"), c));
    }
    for (i, l) in fields.labs.iter().enumerate() {
        values.push((format!("labs[{i}].item"), &l.item));
        values.push((format!("labs[{i}].value"), &l.value));
        for (k, v) in [
            ("unit", &l.unit),
            ("reference_range", &l.reference_range),
            ("flag", &l.flag),
        ] {
            if let Some(v) = v {
                values.push((format!("labs[{i}].{k}"), v));
            }
        }
    }
    for (key, value) in values {
        if !value.is_empty() && !text.lines().any(|l| l.contains(value)) {
            return Err(PrintError::FieldMissing {
                id: id.to_string(),
                field: key,
                value: value.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(pages: &[&[&str]]) -> Vec<Vec<String>> {
        pages
            .iter()
            .map(|p| p.iter().map(|l| l.to_string()).collect())
            .collect()
    }

    #[test]
    fn comparison_normalises_whitespace_and_names_the_first_difference() {
        let e = lines(&[&["처 방 전", "환자 성명 홍길동"], &["- 2 -"]]);
        let f = lines(&[&["처 방 전 ", "환자  성명\t홍길동", ""], &["- 2 -"]]);
        compare("a", &e, &f).unwrap();
        let g = lines(&[&["처 방 전", "환자 성명 홍길동"], &["- 3 -"]]);
        let err = compare("prescription-000", &e, &g).unwrap_err().to_string();
        assert!(
            err.contains("prescription-000") && err.contains("page 2") && err.contains("- 2 -"),
            "{err}"
        );
        let err = compare("x", &e, &lines(&[&["처 방 전"]]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 page(s)"), "{err}");
    }

    #[test]
    fn font_checks() {
        let allowed: BTreeSet<String> = ["NanumSquare_acR".to_string()].into();
        let ok = PdfFont {
            name: "NanumSquare_acR".into(),
            kind: "CID TrueType".into(),
            embedded: true,
        };
        check_fonts("a", std::slice::from_ref(&ok), &allowed).unwrap();
        for bad in [
            PdfFont {
                name: "UnShinmun".into(),
                ..ok.clone()
            },
            PdfFont {
                name: "[none]".into(),
                kind: "Type 3".into(),
                embedded: true,
            },
            PdfFont {
                name: "DejaVuSans".into(),
                ..ok.clone()
            },
        ] {
            assert!(check_fonts("a", &[bad], &allowed).is_err());
        }
    }

    #[test]
    fn fields_must_be_printed_verbatim() {
        let mut f = Fields {
            patient_name: Some("홍길동".into()),
            ..Fields::default()
        };
        check_fields("a", "환자명 홍길동", &f).unwrap();
        f.diagnosis_codes.push("I10".into());
        let e = check_fields("a", "환자명 홍길동", &f)
            .unwrap_err()
            .to_string();
        assert!(e.contains("diagnosis_codes[0]"), "{e}");
    }
}
