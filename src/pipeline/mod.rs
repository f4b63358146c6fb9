//! A run: every document of a dataset, at every DPI, through render → engine → score, then
//! aggregated per (DPI, document type) and checked against the SLA profiles.

mod aggregate;
mod clinical;
mod dpi_study;
mod environment;
mod memory;
mod recorder;

pub use aggregate::summarize;
pub use clinical::{summarize_clinical, Privacy};
pub use dpi_study::dpi_study;
pub use environment::Environment;
pub use recorder::Recorder;

use crate::dataset::{Dataset, Document};
use crate::engine::{Engine, Request, Stage};
use crate::render::{load_image, Page, PdfRenderer, RenderConfig, RenderError};
use crate::report::DocumentResult;
use crate::score::{score_with, Knowledge, ScoreOptions};
use std::time::Duration;
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

/// Pages of one document at one DPI, rendered once and shared by every engine of a run.
pub struct Rendered {
    /// The pages, or why rendering failed.
    pub pages: Result<Vec<Page>, String>,
    /// Wall time of rendering: part of each engine's E2E, as if it had rendered itself.
    pub elapsed: Duration,
}

/// Renders a document for [`evaluate_rendered`], timing it.
pub fn render_timed(dataset: &Dataset, doc: &Document, dpi: f32, options: &RunOptions) -> Rendered {
    let t0 = Instant::now();
    let config = RenderConfig {
        dpi,
        max_pixels: options.max_pixels,
    };
    let pages = render_document(dataset, doc, &config).map_err(|e| e.to_string());
    Rendered {
        pages,
        elapsed: t0.elapsed(),
    }
}

/// Runs one document at one DPI on already rendered pages (`None` for engines that need
/// none). The request is timed from when rendering started, so E2E and TTFT include it.
/// Never fails: a problem becomes the result's `error`, and the document is scored as an
/// empty output so it counts against accuracy and error rate.
pub fn evaluate_rendered(
    doc: &Document,
    dpi: f32,
    rendered: Option<&Rendered>,
    engine: &mut dyn Engine,
    options: &RunOptions,
) -> DocumentResult {
    let info = engine.info();
    let render_time = rendered.map_or(Duration::ZERO, |r| r.elapsed);
    let mut recorder = Recorder::start_at(Instant::now() - render_time);
    let mut error = None;
    let mut pages: &[Page] = &[];
    if let Some(r) = rendered {
        use crate::engine::TokenSink;
        recorder.stage(Stage::Render, r.elapsed);
        match &r.pages {
            Ok(p) => pages = p,
            Err(e) => error = Some(e.clone()),
        }
    }
    if error.is_none() {
        let request = Request { id: &doc.id, pages };
        if let Err(e) = engine.recognize(&request, &mut recorder) {
            error = Some(e.to_string());
        }
    }
    let end = Instant::now();
    let peak_rss_mib = memory::peak_rss_mib();
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
        peak_rss_mib,
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
    run_engines(dataset, documents, &mut [engine], options, &mut |_, r| {
        on_result(r)
    })
    .pop()
    .unwrap_or_default()
}

/// [`run`] for several engines over the same documents: each page is rendered once per
/// DPI and read by every engine in turn (the DPI study compares engines on identical
/// pixels). Returns one result list per engine; `on_result` gets the engine's index.
pub fn run_engines(
    dataset: &Dataset,
    documents: &[&Document],
    engines: &mut [&mut dyn Engine],
    options: &RunOptions,
    on_result: &mut dyn FnMut(usize, &DocumentResult),
) -> Vec<Vec<DocumentResult>> {
    let mut out: Vec<Vec<DocumentResult>> = engines
        .iter()
        .map(|_| Vec::with_capacity(documents.len() * options.dpis.len()))
        .collect();
    let needs_pages = engines.iter().any(|e| e.needs_pages());
    for doc in documents {
        for &dpi in &options.dpis {
            memory::reset_peak();
            let rendered = needs_pages.then(|| render_timed(dataset, doc, dpi, options));
            for (i, engine) in engines.iter_mut().enumerate() {
                if i > 0 {
                    memory::reset_peak();
                }
                let pages = rendered.as_ref().filter(|_| engine.needs_pages());
                let result = evaluate_rendered(doc, dpi, pages, &mut **engine, options);
                on_result(i, &result);
                out[i].push(result);
            }
        }
    }
    out
}
