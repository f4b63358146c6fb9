//! Replay: predictions produced elsewhere, read from a JSONL file of
//! `{"id": "...", "text": "..."}` objects, scored as if an engine had produced them.
//! Nothing is rendered and nothing is timed.
//!
//! For `--task extract` a line may also carry the extracted fields: `"fields": {…}` (the
//! manifest's shape) or `"extraction": "…"` (the JSON answer as the engine gave it, which a
//! run's predictions.jsonl keeps and which is read first, so an invalid answer stays
//! invalid when replayed).

use super::{Engine, EngineError, EngineInfo, Request, Streaming, TokenSink};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const NAME: &str = "replay";

#[derive(serde::Deserialize)]
struct Prediction {
    id: String,
    #[serde(default)]
    text: Option<String>,
    /// The answer before a run's `--output-format` turned it into `text`: replayed instead
    /// of `text`, so a run can be re-scored under another format.
    #[serde(default)]
    raw: Option<String>,
    /// Extracted fields (`--task extract`), as a JSON object.
    #[serde(default)]
    fields: Option<serde_json::Value>,
    /// The extraction answer as it came; read before `fields`.
    #[serde(default)]
    extraction: Option<String>,
}

/// One document's recorded answers.
struct Entry {
    text: Option<String>,
    /// The extraction answer (JSON text).
    extraction: Option<String>,
}

/// Replays recorded predictions.
pub struct Replay {
    file: PathBuf,
    predictions: HashMap<String, Entry>,
    sha256: String,
}

impl Replay {
    /// Reads the prediction file; a malformed line is an error naming the line.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let bytes = std::fs::read(path).map_err(|e| {
            EngineError::Config(format!("cannot read predictions {}: {e}", path.display()))
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| {
            EngineError::Config(format!("{}: predictions must be UTF-8", path.display()))
        })?;
        let mut predictions = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let p: Prediction = serde_json::from_str(line).map_err(|e| {
                EngineError::Config(format!(
                    "{}:{}: not a prediction ({e}); each line must be {{\"id\": ..., \"text\": ...}}",
                    path.display(),
                    i + 1
                ))
            })?;
            let extraction = match (p.extraction, p.fields) {
                (Some(answer), _) => Some(answer),
                (None, Some(fields)) if fields.is_object() => Some(fields.to_string()),
                (None, Some(_)) => {
                    return Err(EngineError::Config(format!(
                        "{}:{}: \"fields\" must be a JSON object (the manifest's fields: patient_name, drugs, diagnosis_codes, labs, dates)",
                        path.display(),
                        i + 1
                    )))
                }
                (None, None) => None,
            };
            let text = p.raw.or(p.text);
            if text.is_none() && extraction.is_none() {
                return Err(EngineError::Config(format!(
                    "{}:{}: the prediction for '{}' has neither \"text\" nor \"fields\"",
                    path.display(),
                    i + 1,
                    p.id
                )));
            }
            if predictions
                .insert(p.id.clone(), Entry { text, extraction })
                .is_some()
            {
                return Err(EngineError::Config(format!(
                    "{}:{}: duplicate prediction for '{}'",
                    path.display(),
                    i + 1,
                    p.id
                )));
            }
        }
        use sha2::Digest;
        Ok(Replay {
            file: path.to_path_buf(),
            predictions,
            sha256: format!("{:x}", sha2::Sha256::digest(&bytes)),
        })
    }
}

impl Engine for Replay {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            name: NAME.into(),
            version: self.file.display().to_string(),
            checkpoint_sha256: Some(self.sha256.clone()),
            streaming: Streaming::Untimed,
            token_unit: "none (replayed text)".into(),
            settings: Default::default(),
        }
    }

    fn needs_pages(&self) -> bool {
        false
    }

    fn recognize(
        &mut self,
        request: &Request<'_>,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let text = self
            .entry(request.id)?
            .text
            .as_deref()
            .ok_or_else(|| self.missing(request.id, "text"))?;
        sink.token(text);
        Ok(())
    }

    fn extracts(&self) -> bool {
        true
    }

    fn extract(
        &mut self,
        request: &Request<'_>,
        _spec: &super::extract::ExtractSpec,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let answer = self
            .entry(request.id)?
            .extraction
            .as_deref()
            .ok_or_else(|| self.missing(request.id, "fields"))?;
        sink.token(answer);
        Ok(())
    }
}

impl Replay {
    fn entry(&self, id: &str) -> Result<&Entry, EngineError> {
        self.predictions
            .get(id)
            .ok_or_else(|| EngineError::MissingPrediction {
                engine: NAME.into(),
                id: id.to_string(),
                file: self.file.display().to_string(),
            })
    }

    fn missing(&self, id: &str, key: &str) -> EngineError {
        EngineError::Failed {
            engine: NAME.into(),
            id: id.to_string(),
            message: format!(
                "its line in {} has no \"{key}\" to replay",
                self.file.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TextSink;

    #[test]
    fn replays_by_id_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pred.jsonl");
        std::fs::write(&p, "{\"id\":\"a\",\"text\":\"처방전\"}\n").unwrap();
        let mut r = Replay::open(&p).unwrap();
        let mut sink = TextSink::default();
        r.recognize(
            &Request {
                id: "a",
                pages: &[],
            },
            &mut sink,
        )
        .unwrap();
        assert_eq!(sink.text, "처방전");
        assert!(matches!(
            r.recognize(
                &Request {
                    id: "b",
                    pages: &[]
                },
                &mut sink
            ),
            Err(EngineError::MissingPrediction { .. })
        ));
        std::fs::write(&p, "{\"id\":\"a\",\"text\":\"x\"}\n{oops}\n").unwrap();
        let err = Replay::open(&p).err().unwrap().to_string();
        assert!(err.contains("pred.jsonl:2"), "{err}");
    }
}
