//! `--task extract`: after a document's transcription, the engine is asked for its fields
//! as JSON, and the answer is judged field by field (`score::extract`).

use super::{error_kind, panic_message};
use crate::dataset::{Document, Fields};
use crate::engine::extract::ExtractSpecs;
use crate::engine::{Engine, EngineError, Request, Stage, Streaming, TokenSink};
use crate::render::Page;
use crate::report::{ErrorKind, Extraction};
use crate::score::extract::{parse_answer, score_extracted, AnswerError};
use crate::score::{Knowledge, ScoreOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Collects the answer and the server's token count.
#[derive(Default)]
struct AnswerSink {
    text: String,
    events: usize,
    tokens: Option<usize>,
}

impl TokenSink for AnswerSink {
    fn token(&mut self, text: &str) {
        self.text.push_str(text);
        self.events += 1;
    }
    fn stage(&mut self, _stage: Stage, _elapsed: Duration) {}
    fn output_tokens(&mut self, count: usize) {
        *self.tokens.get_or_insert(0) += count;
    }
}

/// Asks `engine` for `doc`'s fields and judges them. `pages` is `Err` when the document
/// could not be rendered: nothing is asked, and the extraction fails with that reason.
pub fn extract_document(
    doc: &Document,
    pages: Result<&[Page], &str>,
    engine: &mut dyn Engine,
    specs: &ExtractSpecs,
    score: &ScoreOptions,
    knowledge: &Knowledge,
) -> Extraction {
    let info = engine.info();
    let t0 = Instant::now();
    let mut sink = AnswerSink::default();
    let outcome = match pages {
        Err(why) => Err((ErrorKind::Input, why.to_string())),
        Ok(pages) => {
            let request = Request { id: &doc.id, pages };
            catch_unwind(AssertUnwindSafe(|| {
                engine.extract(&request, specs.get(doc.doc_type), &mut sink)
            }))
            .unwrap_or_else(|panic| {
                Err(EngineError::Crashed {
                    engine: info.name.clone(),
                    id: doc.id.clone(),
                    message: format!("panicked: {}", panic_message(&*panic)),
                })
            })
            .map_err(|e| (error_kind(&e), e.to_string()))
        }
    };
    let e2e_ms = (info.streaming != Streaming::Untimed && outcome.is_ok())
        .then(|| t0.elapsed().as_secs_f64() * 1e3);
    let parsed = outcome.and_then(|()| {
        parse_answer(&sink.text).map_err(|e| {
            let kind = match e {
                AnswerError::Invalid(_) => ErrorKind::InvalidJson,
                AnswerError::Truncated(_) => ErrorKind::TruncatedJson,
            };
            (
                kind,
                format!(
                    "{} answered {} for {}: {e}",
                    info.name,
                    kind.as_str(),
                    doc.id
                ),
            )
        })
    });
    let (parsed, error) = match parsed {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    let judged = score_extracted(
        &doc.fields,
        parsed.as_ref().unwrap_or(&Fields::default()),
        &score.norm,
        knowledge,
    );
    Extraction {
        error_kind: error.as_ref().map(|(k, _)| *k),
        error: error.map(|(_, m)| m),
        fields: judged.fields,
        field_sets: judged.field_sets,
        e2e_ms,
        output_tokens: sink.tokens.unwrap_or(sink.events),
        answer: sink.text,
        parsed,
    }
}
