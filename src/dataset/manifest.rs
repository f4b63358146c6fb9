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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    let root = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let mut documents = Vec::new();
    let mut issues = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let issue = |message: String, rejected: bool| ManifestIssue {
            file: manifest.clone(),
            line: line_no,
            message,
            rejected,
        };
        let doc: Document = match serde_json::from_str(line) {
            Ok(d) => d,
            Err(e) => {
                issues.push(issue(
                    format!("not a valid document entry: {e}. Each line must be one JSON object with id, doc_type, source and text"),
                    true,
                ));
                continue;
            }
        };
        if !seen.insert(doc.id.clone()) {
            issues.push(issue(
                format!("duplicate id '{}': ids must be unique", doc.id),
                true,
            ));
            continue;
        }
        if let Some(dpi) = doc.dpi {
            if !(dpi.is_finite() && dpi > 0.0) {
                issues.push(issue(
                    format!(
                        "document '{}': dpi must be a positive number, got {dpi}",
                        doc.id
                    ),
                    true,
                ));
                continue;
            }
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
        documents.push(doc);
    }
    if documents.is_empty() {
        return Err(DatasetError::Empty {
            path: manifest,
            rejected: issues.iter().filter(|i| i.rejected).count(),
        });
    }
    use sha2::Digest;
    let manifest_sha256 = format!("{:x}", sha2::Sha256::digest(&bytes));
    Ok(Dataset {
        manifest,
        root,
        documents,
        issues,
        manifest_sha256,
    })
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
    fn empty_manifest_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "{bad}\n");
        let err = load_manifest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("manifest.jsonl"), "{err}");
    }
}
