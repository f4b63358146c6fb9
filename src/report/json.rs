//! `summary.json` (the whole result model) and `predictions.jsonl` (engine output per
//! document, in the replay engine's format so a run can be re-scored).

use super::export::pretty_json;
use super::{DocumentResult, Exporter, ReportError, Run};

/// `summary.json`: the whole result model.
pub struct SummaryJson;

impl Exporter<Run<'_>> for SummaryJson {
    fn file_name(&self) -> String {
        "summary.json".into()
    }

    fn render(&self, run: &Run) -> Result<Vec<u8>, ReportError> {
        pretty_json("summary.json", run.summary)
    }
}

/// `predictions.jsonl`: raw engine output (patient data, written 0600).
pub struct Predictions;

impl Exporter<Run<'_>> for Predictions {
    fn file_name(&self) -> String {
        "predictions.jsonl".into()
    }

    fn render(&self, run: &Run) -> Result<Vec<u8>, ReportError> {
        predictions(run.documents)
    }
}

/// One `{"id", "dpi", "text", "error"}` line per document and DPI, with `raw` (the
/// engine's answer before `--output-format` made it text) where that differs, and for
/// `--task extract` the `extraction` answer, the `fields` read from it and its
/// `extraction_error`.
pub fn predictions(documents: &[DocumentResult]) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    for d in documents {
        let mut line = serde_json::json!({
            "id": d.id,
            "dpi": d.dpi,
            "text": d.text,
            "error": d.error,
        });
        if let Some(raw) = &d.raw {
            line["raw"] = serde_json::Value::String(raw.clone());
        }
        if let Some(e) = &d.extraction {
            line["extraction"] = serde_json::Value::String(e.answer.clone());
            if let Some(f) = &e.parsed {
                line["fields"] = serde_json::to_value(f).map_err(|e| ReportError::Encode {
                    what: "predictions.jsonl".into(),
                    message: e.to_string(),
                })?;
            }
            if let Some(err) = &e.error {
                line["extraction_error"] = serde_json::Value::String(err.clone());
            }
        }
        serde_json::to_writer(&mut out, &line).map_err(|e| ReportError::Encode {
            what: "predictions.jsonl".into(),
            message: e.to_string(),
        })?;
        out.push(b'\n');
    }
    Ok(out)
}
