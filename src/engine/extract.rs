//! What an engine is asked under `--task extract`: per document type, a prompt and the JSON
//! schema of the answer, read from `prompts/extract/<doc_type>.toml` (bundled) or from the
//! user's folder (`--extract-prompts DIR`, a file per type it changes).
//!
//! ```toml
//! prompt = """Read the fields … answer with one JSON object only."""
//! [schema]                       # JSON Schema, written as TOML tables
//! type = "object"
//! required = ["patient_name", "drugs"]
//! [schema.properties.patient_name]
//! type = ["string", "null"]
//! ```

use crate::dataset::DocType;
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The prompt and answer schema of one document type.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractSpec {
    pub prompt: String,
    /// JSON Schema of the answer: sent as `response_format` (vLLM: guided decoding).
    pub schema: serde_json::Value,
    /// Where it was read from: `bundled` or the file's path.
    pub source: String,
}

/// The specs of every document type, and their fingerprint for the run's config.
#[derive(Debug, Clone)]
pub struct ExtractSpecs {
    specs: BTreeMap<DocType, ExtractSpec>,
    /// SHA-256 over the files used, in document-type order.
    pub sha256: String,
    /// `bundled`, or the folder given.
    pub origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read the extraction prompts folder {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message} (each file holds `prompt = \"\"\"…\"\"\"` and a [schema] table; example: prompts/extract/prescription.toml)")]
    Parse { path: String, message: String },
    #[error("{path}: unexpected file; name a file after a document type ({types}.toml)")]
    UnknownType { path: PathBuf, types: String },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    prompt: String,
    schema: toml::Table,
}

const BUNDLED: [(DocType, &str); 5] = [
    (
        DocType::Prescription,
        include_str!("../../prompts/extract/prescription.toml"),
    ),
    (
        DocType::LabResult,
        include_str!("../../prompts/extract/lab_result.toml"),
    ),
    (
        DocType::Diagnosis,
        include_str!("../../prompts/extract/diagnosis.toml"),
    ),
    (
        DocType::DischargeSummary,
        include_str!("../../prompts/extract/discharge_summary.toml"),
    ),
    (
        DocType::MedicalRecord,
        include_str!("../../prompts/extract/medical_record.toml"),
    ),
];

impl ExtractSpecs {
    /// The bundled specs, with the files of `dir` (if given) in place of theirs. A file in
    /// `dir` that is not named after a document type is an error, so a typo does not fall
    /// back to the bundled prompt unnoticed.
    pub fn load(dir: Option<&Path>) -> Result<ExtractSpecs, SpecError> {
        let mut texts: BTreeMap<DocType, (String, String)> = BUNDLED
            .iter()
            .map(|(t, text)| (*t, ("bundled".to_string(), text.to_string())))
            .collect();
        if let Some(dir) = dir {
            let folder = |source| SpecError::Folder {
                path: dir.to_path_buf(),
                source,
            };
            for entry in std::fs::read_dir(dir).map_err(folder)? {
                let path = entry.map_err(folder)?.path();
                if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                    continue;
                }
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                let t: DocType = stem.parse().map_err(|_| SpecError::UnknownType {
                    path: path.clone(),
                    types: DocType::ALL.map(|t| t.as_str()).join(".toml, "),
                })?;
                let text = std::fs::read_to_string(&path).map_err(|e| SpecError::Parse {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                texts.insert(t, (path.display().to_string(), text));
            }
        }
        let mut hasher = sha2::Sha256::new();
        let mut specs = BTreeMap::new();
        for (t, (source, text)) in texts {
            hasher.update(text.as_bytes());
            specs.insert(t, ExtractSpec::parse(&text, &source)?);
        }
        Ok(ExtractSpecs {
            specs,
            sha256: format!("{:x}", hasher.finalize()),
            origin: dir.map_or("bundled".into(), |d| d.display().to_string()),
        })
    }

    pub fn get(&self, doc_type: DocType) -> &ExtractSpec {
        &self.specs[&doc_type]
    }
}

impl ExtractSpec {
    /// Parses one spec file; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<ExtractSpec, SpecError> {
        let err = |message: String| SpecError::Parse {
            path: source.to_string(),
            message,
        };
        let file: SpecFile =
            toml::from_str(text).map_err(|e| err(e.to_string().trim_end().replace('\n', " ")))?;
        if file.prompt.trim().is_empty() {
            return Err(err("key 'prompt': the prompt is empty".into()));
        }
        let schema = serde_json::to_value(&file.schema).map_err(|e| err(e.to_string()))?;
        if schema.get("type").and_then(|t| t.as_str()) != Some("object")
            || !schema.get("properties").is_some_and(|p| p.is_object())
        {
            return Err(err(
                "key 'schema': the answer's schema must be `type = \"object\"` with [schema.properties]"
                    .into(),
            ));
        }
        Ok(ExtractSpec {
            prompt: file.prompt.trim().to_string(),
            schema,
            source: source.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_specs_parse_and_a_folder_replaces_one_type() {
        let bundled = ExtractSpecs::load(None).unwrap();
        for t in DocType::ALL {
            let s = bundled.get(t);
            assert_eq!(s.source, "bundled");
            assert!(s.schema["properties"]["patient_name"].is_object(), "{t}");
            assert!(s.schema["properties"]["dates"].is_object(), "{t}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("prescription.toml"),
            "prompt = \"약 이름만\"\n[schema]\ntype = \"object\"\nproperties.drugs = { type = \"array\" }\n",
        )
        .unwrap();
        let mine = ExtractSpecs::load(Some(dir.path())).unwrap();
        assert_eq!(mine.get(DocType::Prescription).prompt, "약 이름만");
        assert_eq!(
            mine.get(DocType::LabResult),
            bundled.get(DocType::LabResult)
        );
        assert_ne!(mine.sha256, bundled.sha256);

        std::fs::write(dir.path().join("prescriptions.toml"), "").unwrap();
        let e = ExtractSpecs::load(Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("prescriptions.toml") && e.contains("lab_result.toml"),
            "{e}"
        );
        std::fs::remove_file(dir.path().join("prescriptions.toml")).unwrap();
        std::fs::write(
            dir.path().join("diagnosis.toml"),
            "prompt = \"x\"\n[schema]\ntype = \"array\"\n",
        )
        .unwrap();
        let e = ExtractSpecs::load(Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("diagnosis.toml") && e.contains("schema"), "{e}");
        std::fs::write(dir.path().join("diagnosis.toml"), "promt = \"x\"\n").unwrap();
        let e = ExtractSpecs::load(Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("diagnosis.toml") && e.contains("promt"), "{e}");
    }
}
