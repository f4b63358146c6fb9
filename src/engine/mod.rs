//! OCR engines. An engine reads the rendered pages of one document and streams its output
//! as token events into a [`TokenSink`]; the pipeline's sink stamps each event with a
//! monotonic clock, so TTFT, TPOT and ITL come from one place for every engine.
//!
//! Implementations: [`tesseract::Tesseract`] (the baseline), [`replay::Replay`]
//! (predictions produced elsewhere), the built-in Burn model ([`builtin::BuiltinEngine`]) and
//! OpenAI-compatible servers ([`openai::OpenAiEngine`]: vLLM, SGLang, TGI, `medocr serve`) and
//! Hugging Face TrOCR-family checkpoints loaded into Burn ([`hf::HfEngine`]).

pub mod builtin;
pub mod extract;
pub mod hf;
pub mod http;
pub mod openai;
pub mod page_png;
pub mod replay;
pub mod spec;
pub mod sse;
pub mod tesseract;

pub use crate::model::continuous::StepLimits;
use crate::model::recognizer::DeadlinePassed;
use crate::render::Page;
pub use crate::stream::{Sinks, Stage, TokenSink};
use serde::{Deserialize, Serialize};
pub use spec::{EngineKind, EngineSpec, SpecError};
use std::time::{Duration, Instant};

/// How an engine's output arrives; decides which timing metrics are meaningful.
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Streaming {
    /// One event per generated token, stamped after the device is synchronised.
    PerToken,
    /// Chunks of several tokens (streaming HTTP): gaps are chunk gaps.
    Chunks,
    /// The whole text at once: TTFT equals E2E and TPOT/ITL are not defined.
    WholeText,
    /// No timing at all (replayed predictions).
    Untimed,
}

/// What an engine is, recorded in every run for reproducibility.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// Short name used on the command line (`tesseract`, `replay`, `builtin`).
    pub name: String,
    /// Engine version string (binary version, checkpoint name).
    pub version: String,
    /// SHA-256 of the weights / prediction file, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_sha256: Option<String>,
    pub streaming: Streaming,
    /// What one token is for this engine (`bpe token`, `tesseract word`, `chunk`…).
    pub token_unit: String,
    /// Free-form settings (language, page segmentation mode, device …).
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
}

/// One document handed to an engine.
pub struct Request<'a> {
    pub id: &'a str,
    pub pages: &'a [Page],
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{engine} is not installed: {hint}")]
    NotInstalled { engine: String, hint: String },
    #[error("{engine} failed on {id}: {message}")]
    Failed {
        engine: String,
        id: String,
        message: String,
    },
    #[error("{engine}: no prediction for document '{id}' in {file}")]
    MissingPrediction {
        engine: String,
        id: String,
        file: String,
    },
    #[error("{0}")]
    Config(String),
    #[error("io error in {engine}: {source}")]
    Io {
        engine: String,
        source: std::io::Error,
    },
    /// A page took longer than the per-page limit; the engine's process was killed (an
    /// in-process engine stopped itself at its next check).
    #[error("{engine} timed out on {id} (page {page}) after {seconds} s and was stopped; raise --timeout-per-page if the pages are that slow")]
    Timeout {
        engine: String,
        id: String,
        page: usize,
        seconds: f64,
    },
    /// The engine died (killed by a signal, or a panic inside an in-process engine).
    #[error("{engine} crashed on {id}: {message}")]
    Crashed {
        engine: String,
        id: String,
        message: String,
    },
    /// The engine answered with something that is not text (invalid UTF-8, NUL bytes,
    /// absurdly long output).
    #[error("{engine} returned garbage for {id}: {message}")]
    Garbage {
        engine: String,
        id: String,
        message: String,
    },
}

/// An OCR engine.
pub trait Engine: Send {
    fn info(&self) -> EngineInfo;

    /// Whether the engine needs rendered pages (`false` for replay, which skips rendering).
    fn needs_pages(&self) -> bool {
        true
    }

    /// How its answers are read when the run does not say (`--output-format`): plain text
    /// for OCR engines; `Auto` for VLMs, which answer in Markdown or HTML.
    fn default_output_format(&self) -> crate::score::OutputFormat {
        crate::score::OutputFormat::Text
    }

    /// Reads one document, streaming tokens into `sink`.
    fn recognize(
        &mut self,
        request: &Request<'_>,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError>;

    /// Whether the engine can answer `--task extract` ([`Engine::extract`]).
    fn extracts(&self) -> bool {
        false
    }

    /// Asks for the document's fields as one JSON object (`--task extract`): `spec` holds
    /// the prompt and the answer's schema for the document's type. The answer streams into
    /// `sink` like a transcription. Engines that only transcribe refuse.
    fn extract(
        &mut self,
        request: &Request<'_>,
        spec: &extract::ExtractSpec,
        sink: &mut dyn TokenSink,
    ) -> Result<(), EngineError> {
        let _ = (request, spec, sink);
        Err(EngineError::Config(format!(
            "the {} engine only transcribes; --task extract needs an engine that answers in JSON (openai, or replay of predictions with \"fields\")",
            self.info().name
        )))
    }

    /// Whether [`Engine::recognize_batch`] runs its requests through shared batched forward
    /// passes (`true`) or one after another (`false`, the default).
    fn batches_natively(&self) -> bool {
        false
    }

    /// Reads several documents, `sinks[i]` receiving the tokens of `requests[i]`. An engine
    /// that batches natively recognises them together (the built-in model puts the lines of
    /// all requests into the same forward passes); the default reads them one after another.
    fn recognize_batch(
        &mut self,
        requests: &[Request<'_>],
        sinks: &mut [&mut dyn TokenSink],
    ) -> Result<(), EngineError> {
        assert_eq!(requests.len(), sinks.len(), "one sink per request");
        for (request, sink) in requests.iter().zip(sinks.iter_mut()) {
            self.recognize(request, &mut **sink)?;
        }
        Ok(())
    }

    /// Continuous batching, for an engine that decodes in steps (the built-in model);
    /// `None` for the others, which `medocr serve` then batches per call.
    fn stepping(&self, _limits: StepLimits) -> Option<Stepping<'_>> {
        None
    }

    /// Whether the engine keeps a prefix cache, so every request's input tokens count as
    /// cache lookups (`medocr serve`'s `medocr:prefix_cache_queries_total`).
    fn has_prefix_cache(&self) -> bool {
        false
    }

    /// Starts every later request with `salt` (`None`: no salt), ahead of the page, so
    /// requests with different salts share no text prefix (`bench --scenario prefix`).
    /// Returns whether the engine sends any text; one that does not ignores the salt.
    fn set_prompt_salt(&mut self, salt: Option<&str>) -> bool {
        let _ = salt;
        false
    }

    /// The Prometheus text of the server behind the engine (`GET /metrics`): `None` for an
    /// engine without one, `Some(Err)` when it cannot be read.
    fn server_metrics(&self) -> Option<Result<String, String>> {
        None
    }
}

/// An engine's continuous (iteration-level) batching: a [`Preparer`] detects and cuts up
/// each document, on a thread of its own, and the [`Stepper`] admits it, between two steps,
/// to the running decode batch ([`crate::model::continuous`]).
pub struct Stepping<'a> {
    pub stepper: Box<dyn Stepper + 'a>,
    pub preparer: Box<dyn Preparer + Send + 'a>,
}

/// Readies documents for a [`Stepper`]; runs beside its steps.
pub trait Preparer {
    /// Detects and cuts up a document's pages, reporting stages and input tokens to `sink`.
    fn prepare(&self, pages: &[Page], sink: &mut dyn TokenSink) -> Prepared;
}

/// A document a [`Preparer`] readied, for the [`Stepper`] of the same [`Stepping`]: only that
/// engine knows what is inside.
pub struct Prepared(pub(crate) Box<dyn std::any::Any + Send>);

/// The scheduler of [`Stepping`].
pub trait Stepper {
    /// Takes in a prepared document; its tokens go to `sinks.sink(ticket)` as they become
    /// final.
    fn admit(&mut self, ticket: u64, doc: Prepared);
    /// One step of every running row; returns the documents read to the end.
    fn step(&mut self, sinks: &mut dyn Sinks) -> Vec<(u64, Result<(), EngineError>)>;
    /// Drops a document (its client left): its pieces leave the batch, nothing more is sent.
    fn cancel(&mut self, ticket: u64);
    /// Documents admitted and not yet finished.
    fn in_flight(&self) -> usize;
    /// Forgets every document, as a fresh scheduler (after a panic).
    fn reset(&mut self);
}

/// The deadline of a batch of requests for an in-process engine, which cannot be killed and
/// checks the clock itself. The pages share forward passes, so n pages get n × the per-page
/// `limit`; a limit too far away to represent is no limit.
pub(crate) fn batch_deadline(limit: Option<Duration>, requests: &[Request<'_>]) -> Option<Instant> {
    let pages: usize = requests.iter().map(|r| r.pages.len()).sum();
    limit.and_then(|t| Instant::now().checked_add(t.saturating_mul(pages.max(1) as u32)))
}

/// The error of an in-process engine that stopped at its [`batch_deadline`].
pub(crate) fn deadline_error(
    engine: &str,
    requests: &[Request<'_>],
    passed: DeadlinePassed,
    limit: Option<Duration>,
) -> EngineError {
    EngineError::Timeout {
        engine: engine.to_string(),
        id: requests[passed.doc].id.to_string(),
        page: passed.page + 1,
        seconds: limit.unwrap_or_default().as_secs_f64(),
    }
}

/// A sink that only collects the text; for callers that do not time anything.
#[derive(Debug, Default)]
pub struct TextSink {
    pub text: String,
    pub tokens: usize,
}

impl TokenSink for TextSink {
    fn token(&mut self, text: &str) {
        self.text.push_str(text);
        self.tokens += 1;
    }
    fn stage(&mut self, _stage: Stage, _elapsed: Duration) {}
}

/// Test sink of the in-process engines: every token, every stage and the input tokens.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct RecordingSink {
    pub tokens: Vec<String>,
    pub stages: Vec<Stage>,
    pub input: usize,
}

#[cfg(test)]
impl TokenSink for RecordingSink {
    fn token(&mut self, text: &str) {
        self.tokens.push(text.to_string());
    }
    fn stage(&mut self, stage: Stage, _elapsed: Duration) {
        self.stages.push(stage);
    }
    fn input_tokens(&mut self, n: usize) {
        self.input += n;
    }
}
