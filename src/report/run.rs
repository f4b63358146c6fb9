//! A run's file reports: the exporters of `reports/<run-id>/` and the folder they go in.

use super::csv::DocumentsCsv;
use super::html::ReportHtml;
use super::json::{Predictions, SummaryJson};
use super::markdown::ReportMarkdown;
use super::{atomic, export, DocumentResult, Exporter, ReportError, RunSummary};
use std::path::{Path, PathBuf};

/// A run's result model as its exporters read it: the summary and the per-document
/// results (the CSV, the predictions and the HTML latency CDFs need those).
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub summary: &'a RunSummary,
    pub documents: &'a [DocumentResult],
}

/// Writes every file report of a run into `dir` (created readable by its owner only: it
/// holds raw text) and returns their paths.
pub fn write_run(
    dir: &Path,
    summary: &RunSummary,
    documents: &[DocumentResult],
) -> Result<Vec<PathBuf>, ReportError> {
    atomic::create_private_dir(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let run = Run { summary, documents };
    // Every file of a run folder, in the order they are written.
    let files: [&dyn Exporter<Run>; 5] = [
        &SummaryJson,
        &DocumentsCsv,
        &ReportMarkdown,
        &ReportHtml,
        &Predictions,
    ];
    export::write_all(dir, &run, &files)
}
