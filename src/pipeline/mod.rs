//! A run: every document of a dataset, at every DPI, through render → engine → score, then
//! aggregated per (DPI, document type) and checked against the SLA profiles.

mod aggregate;
mod clinical;
mod dpi_study;
mod environment;
mod extract;
pub mod journal;
pub mod memory;
pub mod merge;
pub mod plan;
mod recorder;
pub mod resume;
pub mod shard;

pub use aggregate::{document_errors, summarize};
pub use clinical::{summarize_clinical, Privacy};
pub use dpi_study::dpi_study;
pub use environment::Environment;
pub use journal::{Journal, JournalError, JournalHeader};
pub use plan::{RunPlan, RunProgress, RunSettings};
pub use recorder::Recorder;
pub use resume::ResumeFrom;
pub use shard::{ResolvedShard, Shard, ShardError, ShardSpec};

use crate::dataset::{Dataset, Document};
use crate::engine::extract::ExtractSpecs;
use crate::engine::{Engine, EngineError, Request, Stage};
use crate::render::{
    check_source, load_image, load_image_dir, Page, PdfRenderer, RenderConfig, RenderError,
    SourceKind,
};
use crate::report::{DocumentResult, ErrorKind};
use crate::score::{
    canonicalize, score_answer, FormatChoice, Knowledge, OutputFormat, ScoreOptions,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use std::time::Instant;

/// Longest output accepted per page, in characters. A dense A4 page holds about 6,000;
/// anything near this is a runaway engine, and scoring it would cost minutes.
pub const MAX_OUTPUT_CHARS_PER_PAGE: usize = 200_000;

/// Settings of a run that are not the engine's.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub dpis: Vec<f32>,
    pub max_pixels: u64,
    pub score: ScoreOptions,
    /// Formulary and code list the clinical matchers use.
    pub knowledge: Knowledge,
    /// How each engine's answers are read before scoring (`--output-format`).
    pub output_format: FormatChoice,
    /// `--task extract`: after each transcription the engine is asked for the document's
    /// fields as JSON, with these prompts and schemas; `None` transcribes only.
    pub extract: Option<ExtractSpecs>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            dpis: vec![300.0],
            max_pixels: RenderConfig::default().max_pixels,
            score: ScoreOptions::default(),
            knowledge: Knowledge::bundled().clone(),
            output_format: FormatChoice::default(),
            extract: None,
        }
    }
}

/// Renders a document's pages at a DPI: pdfium for PDFs, resampling for scans (one image,
/// or a folder of page images for a multi-page scan).
pub fn render_document(
    dataset: &Dataset,
    doc: &Document,
    config: &RenderConfig,
) -> Result<Vec<Page>, RenderError> {
    let path = dataset.source_path(doc);
    // Before anything opens the source (without_dpi too): opening a FIFO blocks, a device
    // never ends, and neither is a document.
    let kind = check_source(&path, |e| {
        if doc.is_pdf() {
            crate::render::pdf_io_error(&path, e)
        } else {
            RenderError::Image {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        }
    })?;
    if doc.is_pdf() {
        PdfRenderer::global()?.render(&path, config)
    } else {
        let Some(native) = doc.dpi else {
            return Err(without_dpi(&path));
        };
        match kind {
            SourceKind::Dir => load_image_dir(&path, native, config),
            SourceKind::File => Ok(vec![load_image(&path, native, config)?]),
        }
    }
}

/// Why an image source without a `dpi` cannot be read: it needs one when it is an image (or
/// a folder of page images), but a text file, a missing file or an empty folder is told as
/// such, not as a missing DPI.
fn without_dpi(path: &std::path::Path) -> RenderError {
    let name = path.display().to_string();
    let image = |message: String| RenderError::Image {
        path: name.clone(),
        message,
    };
    if path.is_dir() {
        let has_pages = std::fs::read_dir(path).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let p = e.path();
                let ext = p.extension().and_then(|x| x.to_str()).unwrap_or("");
                ["png", "jpg", "jpeg", "tif", "tiff", "bmp"]
                    .iter()
                    .any(|k| ext.eq_ignore_ascii_case(k))
            })
        });
        if !has_pages {
            return image("a folder without page images (page-01.png, page-02.png, …)".into());
        }
        return RenderError::MissingDpi { path: name };
    }
    match image::ImageReader::open(path).and_then(|r| r.with_guessed_format()) {
        Err(e) => image(e.to_string()),
        Ok(r) if r.format().is_none() => {
            image("neither an image nor a PDF (a PDF needs the .pdf extension)".into())
        }
        Ok(_) => RenderError::MissingDpi { path: name },
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
    // pdfium-render can panic on malformed documents; one bad file must not end the run.
    let pages = catch_unwind(AssertUnwindSafe(|| render_document(dataset, doc, &config)))
        .unwrap_or_else(|panic| {
            Err(RenderError::Pdf {
                path: dataset.source_path(doc).display().to_string(),
                message: format!(
                    "the renderer panicked ({}); check or replace the file",
                    panic_message(&*panic)
                ),
            })
        })
        .map_err(|e| e.to_string());
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
    let mut error: Option<(ErrorKind, String)> = None;
    let mut pages: &[Page] = &[];
    if let Some(r) = rendered {
        use crate::engine::TokenSink;
        recorder.stage(Stage::Render, r.elapsed);
        match &r.pages {
            Ok(p) => pages = p,
            Err(e) => error = Some((ErrorKind::Input, e.clone())),
        }
    }
    if error.is_none() {
        let request = Request { id: &doc.id, pages };
        // A panicking engine is a crashed request, not a crashed run.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            engine.recognize(&request, &mut recorder)
        }))
        .unwrap_or_else(|panic| {
            Err(EngineError::Crashed {
                engine: info.name.clone(),
                id: doc.id.clone(),
                message: format!("panicked: {}", panic_message(&*panic)),
            })
        });
        if let Err(e) =
            outcome.and_then(|()| check_output(&info.name, doc, recorder.text(), pages.len()))
        {
            error = Some((error_kind(&e), e.to_string()));
        }
    }
    let end = Instant::now();
    let peak_rss_mib = memory::peak_rss_mib();
    let timing = recorder.timing(info.streaming, end);
    let answer = if error.is_none() {
        recorder.text().to_string()
    } else {
        String::new()
    };
    let format = options
        .output_format
        .for_engine(&info.name, engine.default_output_format());
    let canonical = canonicalize(&answer, format);
    let score = score_answer(doc, &canonical, &options.score, &options.knowledge);
    let text = canonical.text;
    let raw = (text != answer).then_some(answer);
    let extraction = options.extract.as_ref().map(|specs| {
        let pages = match rendered.map(|r| &r.pages) {
            Some(Err(e)) => Err(e.as_str()),
            _ => Ok(pages),
        };
        extract::extract_document(
            doc,
            pages,
            engine,
            specs,
            &options.score,
            &options.knowledge,
        )
    });
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
        error_kind: error.as_ref().map(|(k, _)| *k),
        error: error.map(|(_, m)| m),
        text,
        raw,
        score,
        timing,
        extraction,
    }
}

/// The format `engine`'s answers are read in under `options` (recorded in the run's
/// config).
pub fn output_format(options: &RunOptions, engine: &dyn Engine) -> OutputFormat {
    options
        .output_format
        .for_engine(&engine.info().name, engine.default_output_format())
}

/// Looks up a result recorded earlier by engine index, document id and DPI.
pub type DoneLookup<'a> = &'a dyn Fn(usize, &str, f32) -> Option<DocumentResult>;

/// How a run may be cut short or resumed.
#[derive(Default, Clone, Copy)]
pub struct RunControl<'a> {
    /// Checked before each document: once set (e.g. by a Ctrl-C handler), the run stops
    /// after the document in progress.
    pub stop: Option<&'a AtomicBool>,
    /// Results recorded by an earlier, interrupted run (its journal), looked up by engine
    /// index, document id and DPI; they are reused instead of run again.
    pub done: Option<DoneLookup<'a>>,
}

/// What [`run_engines_controlled`] produced.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// One list per engine, in document × DPI order (reused results included).
    pub results: Vec<Vec<DocumentResult>>,
    /// `true` when the stop flag ended the run early: `results` is then incomplete.
    pub stopped: bool,
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
    run_engines_controlled(
        dataset,
        documents,
        engines,
        options,
        RunControl::default(),
        on_result,
    )
    .results
}

/// [`run_engines`] that can be stopped between documents and can skip documents an
/// earlier run already finished. `on_result` is called for new results only.
pub fn run_engines_controlled(
    dataset: &Dataset,
    documents: &[&Document],
    engines: &mut [&mut dyn Engine],
    options: &RunOptions,
    control: RunControl<'_>,
    on_result: &mut dyn FnMut(usize, &DocumentResult),
) -> RunOutcome {
    let mut out: Vec<Vec<DocumentResult>> = engines
        .iter()
        .map(|_| Vec::with_capacity(documents.len() * options.dpis.len()))
        .collect();
    let stopped = || control.stop.is_some_and(|s| s.load(Ordering::SeqCst));
    for doc in documents {
        for &dpi in &options.dpis {
            let previous: Vec<Option<DocumentResult>> = (0..engines.len())
                .map(|i| control.done.and_then(|done| done(i, &doc.id, dpi)))
                .collect();
            if previous.iter().all(Option::is_some) {
                for (i, r) in previous.into_iter().enumerate() {
                    out[i].extend(r);
                }
                continue;
            }
            if stopped() {
                return RunOutcome {
                    results: out,
                    stopped: true,
                };
            }
            memory::reset_peak();
            let needs_pages = engines
                .iter()
                .zip(&previous)
                .any(|(e, p)| p.is_none() && e.needs_pages());
            let rendered = needs_pages.then(|| render_timed(dataset, doc, dpi, options));
            for (i, (engine, prev)) in engines.iter_mut().zip(previous).enumerate() {
                if let Some(r) = prev {
                    out[i].push(r);
                    continue;
                }
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
    RunOutcome {
        results: out,
        stopped: false,
    }
}

/// Binds libpdfium up front when any document is a PDF, so a missing library is one
/// setup error with an install hint instead of one failed document per PDF.
pub fn check_renderer(documents: &[&Document]) -> Result<(), RenderError> {
    if documents.iter().any(|d| d.is_pdf()) {
        PdfRenderer::global()?;
    }
    Ok(())
}

/// Rejects output no OCR engine should produce: NUL bytes (binary data) or far more text
/// than the pages can hold.
fn check_output(engine: &str, doc: &Document, text: &str, pages: usize) -> Result<(), EngineError> {
    let garbage = |message: String| EngineError::Garbage {
        engine: engine.to_string(),
        id: doc.id.clone(),
        message,
    };
    if text.contains('\0') {
        return Err(garbage(
            "the output contains NUL bytes (binary data, not text)".into(),
        ));
    }
    let limit = MAX_OUTPUT_CHARS_PER_PAGE * pages.max(1);
    if text.len() > limit && text.chars().count() > limit {
        return Err(garbage(format!(
            "{} characters for {} page(s), over the limit of {MAX_OUTPUT_CHARS_PER_PAGE} per page",
            text.chars().count(),
            pages.max(1)
        )));
    }
    Ok(())
}

fn error_kind(e: &EngineError) -> ErrorKind {
    match e {
        EngineError::Timeout { .. } => ErrorKind::Timeout,
        EngineError::Crashed { .. } => ErrorKind::Crash,
        EngineError::Garbage { .. } => ErrorKind::Garbage,
        _ => ErrorKind::Engine,
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{DocType, Fields};
    use crate::engine::{EngineInfo, Streaming, TokenSink};

    /// An engine that misbehaves on purpose.
    struct Faulty(&'static str);

    impl Engine for Faulty {
        fn info(&self) -> EngineInfo {
            EngineInfo {
                name: "faulty".into(),
                version: "0".into(),
                checkpoint_sha256: None,
                streaming: Streaming::WholeText,
                token_unit: "text".into(),
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
            match self.0 {
                "panic" => panic!("bad weights for {}", request.id),
                "nul" => sink.token("처방\0전"),
                "long" => sink.token(&"가".repeat(MAX_OUTPUT_CHARS_PER_PAGE + 1)),
                _ => sink.token("처방전"),
            }
            Ok(())
        }
    }

    fn doc() -> Document {
        Document {
            id: "d".into(),
            doc_type: DocType::Prescription,
            source: "d.pdf".into(),
            text: "처방전".into(),
            fields: Fields::default(),
            dpi: None,
            tables: Vec::new(),
            extra: Default::default(),
        }
    }

    #[test]
    fn engine_faults_become_recorded_errors() {
        let d = doc();
        let options = RunOptions::default();
        for (mode, kind) in [
            ("panic", Some(ErrorKind::Crash)),
            ("nul", Some(ErrorKind::Garbage)),
            ("long", Some(ErrorKind::Garbage)),
            ("ok", None),
        ] {
            let r = evaluate_rendered(&d, 300.0, None, &mut Faulty(mode), &options);
            assert_eq!(r.error_kind, kind, "{mode}: {:?}", r.error);
            assert_eq!(r.error.is_some(), kind.is_some());
            if kind.is_some() {
                assert!(r.text.is_empty());
                assert_eq!(r.score.cer.ref_len, 3, "scored as an empty output");
            }
        }
    }

    #[test]
    fn stop_flag_and_done_results_are_honoured() {
        let dataset = Dataset {
            manifest: "m.jsonl".into(),
            root: ".".into(),
            documents: vec![
                doc(),
                Document {
                    id: "e".into(),
                    ..doc()
                },
            ],
            issues: vec![],
            manifest_sha256: String::new(),
        };
        let docs: Vec<&Document> = dataset.documents.iter().collect();
        let options = RunOptions::default();
        let mut engine = Faulty("ok");
        let first = run(&dataset, &docs[..1], &mut engine, &options, &mut |_| {});
        let done = |_: usize, id: &str, _: f32| (id == "d").then(|| first[0].clone());
        let stop = AtomicBool::new(false);
        let mut fresh = 0;
        let outcome = run_engines_controlled(
            &dataset,
            &docs,
            &mut [&mut engine],
            &options,
            RunControl {
                stop: Some(&stop),
                done: Some(&done),
            },
            &mut |_, _| fresh += 1,
        );
        assert!(!outcome.stopped);
        assert_eq!(fresh, 1, "the finished document is not run again");
        assert_eq!(outcome.results[0].len(), 2);
        stop.store(true, Ordering::SeqCst);
        let outcome = run_engines_controlled(
            &dataset,
            &docs,
            &mut [&mut engine],
            &options,
            RunControl {
                stop: Some(&stop),
                done: Some(&done),
            },
            &mut |_, _| panic!("nothing runs after a stop"),
        );
        assert!(outcome.stopped);
        assert_eq!(outcome.results[0].len(), 1);
    }
}
