//! Replay: predictions produced elsewhere, read from a JSONL file of
//! `{"id": "...", "text": "..."}` objects, scored as if an engine had produced them.
//! Nothing is rendered and nothing is timed.

use super::{Engine, EngineError, EngineInfo, Request, Streaming, TokenSink};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const NAME: &str = "replay";

#[derive(serde::Deserialize)]
struct Prediction {
    id: String,
    text: String,
    /// The answer before a run's `--output-format` turned it into `text`: replayed instead
    /// of `text`, so a run can be re-scored under another format.
    #[serde(default)]
    raw: Option<String>,
}

/// Replays recorded predictions.
pub struct Replay {
    file: PathBuf,
    predictions: HashMap<String, String>,
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
            if predictions
                .insert(p.id.clone(), p.raw.unwrap_or(p.text))
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
        let text =
            self.predictions
                .get(request.id)
                .ok_or_else(|| EngineError::MissingPrediction {
                    engine: NAME.into(),
                    id: request.id.to_string(),
                    file: self.file.display().to_string(),
                })?;
        sink.token(text);
        Ok(())
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
