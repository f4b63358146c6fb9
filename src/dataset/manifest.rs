//! `manifest.jsonl`: one JSON object per document (format in `docs/design.md`).

use super::DocType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One prescribed drug as printed on a prescription (values are the printed strings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Drug {
    /// Product name with strength and unit, e.g. `타이레놀정500밀리그램`.
    pub name: String,
    /// 1회 투약량, e.g. `1` or `0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<String>,
    /// 1일 투여횟수, e.g. `3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
    /// 총 투약일수, e.g. `7`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<String>,
    /// 용법 / route, e.g. `식후 30분 경구`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// One lab result row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LabRow {
    pub item: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_range: Option<String>,
    /// `H`, `L` or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Ground-truth fields. Every string value appears verbatim in the document text, except
/// dates, which are stored as ISO `YYYY-MM-DD` and printed in one of several Korean formats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Fields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drugs: Vec<Drug>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnosis_codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labs: Vec<LabRow>,
    /// Named dates (`issued`, `onset`, `admission`, `discharge`, `birth`, …) as ISO strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dates: BTreeMap<String, String>,
    /// Unknown keys are kept and reported, never silently dropped.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// One manifest entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub doc_type: DocType,
    /// PDF or image, relative to the manifest.
    pub source: PathBuf,
    /// Full transcription in reading order, lines separated by `\n`.
    pub text: String,
    #[serde(default)]
    pub fields: Fields,
    /// Scan resolution of an image source (ignored for PDFs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpi: Option<f32>,
    /// The document's data tables, each as rows of cell texts in reading order (a table
    /// split over pages is one table per page): the reference of the table metrics
    /// (`score::table`). Optional; the generators fill it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Vec<Vec<String>>>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Document {
    /// Whether the source is a PDF (by extension).
    pub fn is_pdf(&self) -> bool {
        self.source
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
    }
}

/// A problem with one manifest line: the line is skipped (or its unknown keys reported).
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestIssue {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub message: String,
    /// `true` when the line was rejected; `false` for a warning (e.g. an unknown key).
    pub rejected: bool,
}

impl std::fmt::Display for ManifestIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read manifest {path}: {source}. Pass a dataset folder that holds manifest.jsonl (or the manifest itself)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot unpack the bundled dataset into {path}: {source}. Set XDG_CACHE_HOME to a writable folder, or pass --dataset")]
    Unpack {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no usable document ({rejected} line(s) rejected); see the messages above")]
    Empty { path: PathBuf, rejected: usize },
}

/// A loaded dataset: the documents that parsed, and what was wrong with the others.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The manifest file.
    pub manifest: PathBuf,
    /// The folder sources are relative to.
    pub root: PathBuf,
    pub documents: Vec<Document>,
    pub issues: Vec<ManifestIssue>,
    /// SHA-256 of the manifest bytes, recorded in every run for reproducibility.
    pub manifest_sha256: String,
}

impl Dataset {
    /// Absolute (or root-relative) path of a document's source file.
    pub fn source_path(&self, doc: &Document) -> PathBuf {
        self.root.join(&doc.source)
    }
}

/// Loads `manifest.jsonl` from a dataset folder or a manifest path. Malformed lines are
/// reported with their line number and skipped; unknown keys are reported as warnings.
pub fn load_manifest(path: &Path) -> Result<Dataset, DatasetError> {
    let manifest = if path.is_dir() {
        path.join("manifest.jsonl")
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&manifest).map_err(|source| DatasetError::Read {
        path: manifest.clone(),
        source,
    })?;
    Dataset::parse(&bytes, &manifest)
}

impl Dataset {
    /// Parses manifest bytes; `manifest` names the file in messages and is the folder
    /// sources are relative to. Every line is judged on its own: a bad line becomes a
    /// [`ManifestIssue`] with its number and the others load.
    pub fn parse(bytes: &[u8], manifest: &Path) -> Result<Dataset, DatasetError> {
        let root = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        // A UTF-8 byte-order mark (some editors write one) is not part of the first line.
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut documents = Vec::new();
        let mut issues = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let issue = |message: String, rejected: bool| ManifestIssue {
                file: manifest.to_path_buf(),
                line: line_no,
                message,
                rejected,
            };
            let line = match std::str::from_utf8(raw) {
                Ok(l) => l.strip_suffix('\r').unwrap_or(l),
                Err(e) => {
                    issues.push(issue(
                        format!(
                            "not UTF-8 (invalid byte at column {}); save the manifest as UTF-8",
                            e.valid_up_to() + 1
                        ),
                        true,
                    ));
                    continue;
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let doc: Document = match serde_json::from_str(line) {
                Ok(d) => d,
                Err(e) => {
                    issues.push(issue(
                        format!(
                            "not a valid document entry: {} (column {}). Each line must be one JSON object with id, doc_type, source and text",
                            serde_message(&e),
                            e.column()
                        ),
                        true,
                    ));
                    continue;
                }
            };
            if let Err(message) = validate(&doc) {
                issues.push(issue(message, true));
                continue;
            }
            if !seen.insert(doc.id.clone()) {
                issues.push(issue(
                    format!("duplicate id '{}': ids must be unique", doc.id),
                    true,
                ));
                continue;
            }
            for key in unknown_keys(&doc) {
                issues.push(issue(
                    format!(
                        "document '{}': unknown key '{key}' kept but not scored",
                        doc.id
                    ),
                    false,
                ));
            }
            for key in fields_not_in_text(&doc) {
                issues.push(issue(
                    format!(
                        "document '{}': {key} does not appear in the text, so it can never be located (every field value must be printed in the transcription)",
                        doc.id
                    ),
                    false,
                ));
            }
            documents.push(doc);
        }
        if documents.is_empty() {
            return Err(DatasetError::Empty {
                path: manifest.to_path_buf(),
                rejected: issues.iter().filter(|i| i.rejected).count(),
            });
        }
        use sha2::Digest;
        let manifest_sha256 = format!("{:x}", sha2::Sha256::digest(bytes));
        Ok(Dataset {
            manifest: manifest.to_path_buf(),
            root,
            documents,
            issues,
            manifest_sha256,
        })
    }
}

/// serde_json's message without its "at line 1 column N" (the manifest line is named
/// separately, and line 1 of one JSON line would mislead).
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Checks what serde cannot: required strings not empty, a sane scan DPI, ISO dates.
/// The message names the document and the key.
fn validate(doc: &Document) -> Result<(), String> {
    let bad = |key: &str, what: String| Err(format!("document '{}': {key} {what}", doc.id));
    if doc.id.trim().is_empty() {
        return Err("id is empty: every document needs a unique id".into());
    }
    if doc.source.as_os_str().is_empty() {
        return bad("source", "is empty: name the PDF or image file".into());
    }
    if let Some(dpi) = doc.dpi {
        if !(dpi.is_finite() && dpi > 0.0 && dpi <= 2400.0) {
            return bad(
                "dpi",
                format!("must be a positive number up to 2400 (the scan resolution), got {dpi}"),
            );
        }
    }
    let f = &doc.fields;
    for (i, d) in f.drugs.iter().enumerate() {
        if d.name.trim().is_empty() {
            return bad(&format!("fields.drugs[{i}].name"), "is empty".into());
        }
    }
    for (i, l) in f.labs.iter().enumerate() {
        if l.item.trim().is_empty() {
            return bad(&format!("fields.labs[{i}].item"), "is empty".into());
        }
        if l.value.trim().is_empty() {
            return bad(&format!("fields.labs[{i}].value"), "is empty".into());
        }
    }
    for (i, c) in f.diagnosis_codes.iter().enumerate() {
        if c.trim().is_empty() {
            return bad(&format!("fields.diagnosis_codes[{i}]"), "is empty".into());
        }
    }
    for (name, value) in &f.dates {
        if !is_iso_date(value) {
            // The value may be a birth date: do not quote it.
            return bad(
                &format!("fields.dates.{name}"),
                "is not an ISO date (YYYY-MM-DD with a real month and day)".into(),
            );
        }
    }
    Ok(())
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?
            .parse()
            .ok()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Field values that the transcription does not contain (whitespace ignored), as keys.
/// Dates are printed in other formats, so they are not checked.
fn fields_not_in_text(doc: &Document) -> Vec<String> {
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let text = squash(&doc.text);
    let f = &doc.fields;
    let mut values: Vec<(String, &str)> = Vec::new();
    if let Some(n) = &f.patient_name {
        values.push(("fields.patient_name".into(), n));
    }
    for (i, d) in f.drugs.iter().enumerate() {
        values.push((format!("fields.drugs[{i}].name"), &d.name));
    }
    for (i, l) in f.labs.iter().enumerate() {
        values.push((format!("fields.labs[{i}].item"), &l.item));
        values.push((format!("fields.labs[{i}].value"), &l.value));
    }
    for (i, c) in f.diagnosis_codes.iter().enumerate() {
        values.push((format!("fields.diagnosis_codes[{i}]"), c));
    }
    values
        .into_iter()
        .filter(|(_, v)| !text.contains(&squash(v)))
        .map(|(k, _)| k)
        .collect()
}

/// Keys the manifest carries that no field of ours reads, as dotted paths.
fn unknown_keys(doc: &Document) -> Vec<String> {
    let mut out: Vec<String> = doc.extra.keys().cloned().collect();
    out.extend(doc.fields.extra.keys().map(|k| format!("fields.{k}")));
    for (i, d) in doc.fields.drugs.iter().enumerate() {
        out.extend(d.extra.keys().map(|k| format!("fields.drugs[{i}].{k}")));
    }
    for (i, l) in doc.fields.labs.iter().enumerate() {
        out.extend(l.extra.keys().map(|k| format!("fields.labs[{i}].{k}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("manifest.jsonl");
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn parses_entries_and_reports_bad_lines_with_numbers() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            concat!(
                r#"{"id":"a","doc_type":"prescription","source":"a.pdf","text":"처 방 전","fields":{"patient_name":"홍길동","diagnosis_codes":["I10"],"dates":{"issued":"2024-03-05"}}}"#,
                "\n\n",
                "{not json}\n",
                r#"{"id":"b","doc_type":"unknown_type","source":"b.pdf","text":"x"}"#,
                "\n",
                r#"{"id":"c","doc_type":"lab_result","source":"c.png","text":"x","dpi":150,"scanner":"A","fields":{"ward":"3"}}"#,
                "\n"
            ),
        );
        let ds = load_manifest(dir.path()).unwrap();
        assert_eq!(ds.documents.len(), 2);
        assert_eq!(
            ds.documents[0].fields.patient_name.as_deref(),
            Some("홍길동")
        );
        assert_eq!(ds.documents[1].dpi, Some(150.0));
        let rejected: Vec<_> = ds
            .issues
            .iter()
            .filter(|i| i.rejected)
            .map(|i| i.line)
            .collect();
        assert_eq!(rejected, vec![3, 4]);
        let warnings: Vec<_> = ds
            .issues
            .iter()
            .filter(|i| !i.rejected)
            .map(|i| i.message.clone())
            .collect();
        assert!(warnings.iter().any(|m| m.contains("'scanner'")));
        assert!(warnings.iter().any(|m| m.contains("'fields.ward'")));
        assert_eq!(ds.manifest_sha256.len(), 64);
    }

    #[test]
    fn malformed_ground_truth_is_rejected_with_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let ok = r#"{"id":"ok","doc_type":"diagnosis","source":"a.pdf","text":"진단서 I10","fields":{"diagnosis_codes":["I10"]}}"#;
        let body = [
            ok,
            r#"{"id":"d","doc_type":"diagnosis","source":"a.pdf","text":"x","fields":{"dates":{"issued":"2024-02-30"}}}"#,
            r#"{"id":"e","doc_type":"diagnosis","source":"a.pdf","text":"x","fields":{"drugs":[{"name":""}]}}"#,
            r#"{"id":"f","doc_type":"diagnosis","source":"a.png","text":"x","dpi":100000}"#,
            r#"{"id":"","doc_type":"diagnosis","source":"a.pdf","text":"x"}"#,
            r#"{"id":"g","doc_type":"diagnosis","source":"a.pdf","text":"x","fields":{"drugs":"aspirin"}}"#,
            r#"{"id":"h","doc_type":"diagnosis","source":"a.pdf","text":"I10","fields":{"diagnosis_codes":["E11"]}}"#,
        ]
        .join("\n");
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(body.as_bytes());
        bytes.extend_from_slice(b"\n{\"id\":\"\xff\"}\r\n");
        std::fs::write(dir.path().join("manifest.jsonl"), &bytes).unwrap();
        let ds = load_manifest(dir.path()).unwrap();
        let ids: Vec<_> = ds.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["ok", "h"], "the BOM does not spoil line 1");
        let msg = |line: usize| {
            ds.issues
                .iter()
                .find(|i| i.line == line)
                .map(|i| (i.rejected, i.to_string()))
                .unwrap()
        };
        assert!(msg(2).1.contains("fields.dates.issued"), "{:?}", msg(2));
        assert!(!msg(2).1.contains("2024-02-30"), "dates are not quoted");
        assert!(
            msg(3).1.contains("fields.drugs[0].name is empty"),
            "{:?}",
            msg(3)
        );
        assert!(msg(4).1.contains("dpi"), "{:?}", msg(4));
        assert!(msg(5).1.contains("id is empty"), "{:?}", msg(5));
        let m = msg(6).1;
        assert!(
            m.contains("manifest.jsonl:6") && m.contains("column") && !m.contains("at line"),
            "{m}"
        );
        let (rejected, m) = msg(7);
        assert!(
            !rejected && m.contains("fields.diagnosis_codes[0] does not appear"),
            "{m}"
        );
        assert!(msg(8).1.contains("not UTF-8"), "{:?}", msg(8));
    }

    #[test]
    fn iso_dates() {
        for ok in ["2024-02-29", "1999-12-31", "2000-02-29"] {
            assert!(is_iso_date(ok), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "1900-02-29",
            "２０２４-01-01",
        ] {
            assert!(!is_iso_date(bad), "{bad}");
        }
    }

    #[test]
    fn empty_manifest_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "{bad}\n");
        let err = load_manifest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("manifest.jsonl"), "{err}");
    }
}
