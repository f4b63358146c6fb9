//! A run: every document of a dataset, at every DPI, through render → engine → score, then
//! aggregated per (DPI, document type) and checked against the SLA profiles.

mod aggregate;
mod clinical;
mod environment;
mod recorder;

pub use aggregate::summarize;
pub use clinical::{summarize_clinical, Privacy};
pub use environment::Environment;
pub use recorder::Recorder;

use crate::dataset::{Dataset, Document};
use crate::engine::{Engine, Request, Stage};
use crate::render::{load_image, Page, PdfRenderer, RenderConfig, RenderError};
use crate::report::DocumentResult;
use crate::score::{score_with, Knowledge, ScoreOptions};
use std::time::Instant;

/// Settings of a run that are not the engine's.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub dpis: Vec<f32>,
    pub max_pixels: u64,
    pub score: ScoreOptions,
    /// Formulary and code list the clinical matchers use.
    pub knowledge: Knowledge,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            dpis: vec![300.0],
            max_pixels: RenderConfig::default().max_pixels,
            score: ScoreOptions::default(),
            knowledge: Knowledge::bundled().clone(),
        }
    }
}

/// Renders a document's pages at a DPI: pdfium for PDFs, resampling for scans.
pub fn render_document(
    dataset: &Dataset,
    doc: &Document,
    config: &RenderConfig,
) -> Result<Vec<Page>, RenderError> {
    let path = dataset.source_path(doc);
    if doc.is_pdf() {
        PdfRenderer::global()?.render(&path, config)
    } else {
        let native = doc.dpi.ok_or_else(|| RenderError::MissingDpi {
            path: path.display().to_string(),
        })?;
        Ok(vec![load_image(&path, native, config)?])
    }
}

/// Runs one document at one DPI. Never fails: a problem becomes the result's `error`, and
/// the document is scored as an empty output so it counts against accuracy and error rate.
pub fn evaluate_document(
    dataset: &Dataset,
    doc: &Document,
    dpi: f32,
    engine: &mut dyn Engine,
    options: &RunOptions,
) -> DocumentResult {
    let info = engine.info();
    let mut recorder = Recorder::start();
    let render_config = RenderConfig {
        dpi,
        max_pixels: options.max_pixels,
    };
    let mut error = None;
    let mut pages = Vec::new();
    if engine.needs_pages() {
        let t0 = Instant::now();
        match render_document(dataset, doc, &render_config) {
            Ok(p) => pages = p,
            Err(e) => error = Some(e.to_string()),
        }
        use crate::engine::TokenSink;
        recorder.stage(Stage::Render, t0.elapsed());
    }
    if error.is_none() {
        let request = Request {
            id: &doc.id,
            pages: &pages,
        };
        if let Err(e) = engine.recognize(&request, &mut recorder) {
            error = Some(e.to_string());
        }
    }
    let end = Instant::now();
    let timing = recorder.timing(info.streaming, end);
    let text = if error.is_none() {
        recorder.text().to_string()
    } else {
        String::new()
    };
    let score = score_with(doc, &text, &options.score, &options.knowledge);
    DocumentResult {
        id: doc.id.clone(),
        doc_type: doc.doc_type,
        dpi,
        source_kind: if doc.is_pdf() { "pdf" } else { "scan" }.into(),
        pages: pages.len(),
        pixels: pages
            .iter()
            .map(|p| p.image.width() as u64 * p.image.height() as u64)
            .sum(),
        error,
        text,
        score,
        timing,
    }
}

/// Runs every document at every DPI, calling `on_result` as each one completes (for
/// progress bars and journals). Documents run one at a time so latencies are not inflated
/// by each other.
pub fn run(
    dataset: &Dataset,
    documents: &[&Document],
    engine: &mut dyn Engine,
    options: &RunOptions,
    on_result: &mut dyn FnMut(&DocumentResult),
) -> Vec<DocumentResult> {
    let mut out = Vec::with_capacity(documents.len() * options.dpis.len());
    for doc in documents {
        for &dpi in &options.dpis {
            let result = evaluate_document(dataset, doc, dpi, engine, options);
            on_result(&result);
            out.push(result);
        }
    }
    out
}
