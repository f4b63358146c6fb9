//! The token stream every engine emits and the stages it times. It sits below both the
//! engines and the built-in model's recognizer, which streams into it, so the model never
//! imports the engine layer; `engine` re-exports both names.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A stage of an engine's work, timed separately from the token stream.
#[derive(
    schemars::JsonSchema,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Rasterising the document (done by the pipeline, before the engine runs).
    Render,
    /// Image preparation inside the engine (binarisation, resizing, encoding to PNG …).
    Preprocess,
    /// Text-line detection.
    Detect,
    /// Vision encoder and prompt prefill.
    Encode,
    /// Autoregressive decoding.
    Decode,
    /// Anything after the last token (e.g. joining lines).
    Postprocess,
}

/// Receives an engine's output. `token` calls must come in output order; the text of the
/// document is the concatenation of all tokens.
/// The sinks of the documents in flight, by ticket: a scheduler whose documents come and go
/// (continuous batching) reaches each document's sink through it, and the caller keeps them.
pub trait Sinks {
    /// The sink of a document admitted and not yet finished.
    fn sink(&mut self, ticket: u64) -> &mut dyn TokenSink;
}

pub trait TokenSink {
    /// One output token (or chunk). The sink reads the clock when this is called, so a
    /// device engine must synchronise before calling it.
    fn token(&mut self, text: &str);
    /// The duration of a stage; may be called several times per stage (summed).
    fn stage(&mut self, stage: Stage, elapsed: Duration);
    /// Input tokens consumed (image patches + prompt), where the engine knows them.
    fn input_tokens(&mut self, _count: usize) {}
    /// Of the input tokens, those whose encoding was reused from a prefix cache (OpenAI's
    /// `usage.prompt_tokens_details.cached_tokens`).
    fn cached_tokens(&mut self, _count: usize) {}
    /// The number of output tokens, for engines whose events are not single tokens
    /// (whole text, server chunks). Without it the number of `token` calls is used.
    fn output_tokens(&mut self, _count: usize) {}
    /// One page's `output_tokens` is a fallback count (stream chunks), not the server's
    /// token count: the server sent no `usage`. Recorded per document so reports flag it.
    fn page_without_usage(&mut self) {}
}
