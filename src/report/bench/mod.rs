//! Bench reports, one exporter per file: `bench.json` (everything, every sample),
//! `bench.csv` (one row per request), `bench.md` (tables to read) and the SVG charts of
//! [`crate::report::chart::bench`]. The figures are computed by [`crate::bench`]; these
//! only format them.

pub mod csv;
pub mod json;
pub mod markdown;
pub mod prefix;

pub use csv::BenchCsv;
pub use json::{from_str, BenchJson};
pub use markdown::{fmt_ms, mode_name, BenchMarkdown};

use super::chart::bench::BenchChart;
use super::{atomic, export, Exporter, ReportError};
use crate::bench::BenchReport;
use std::path::{Path, PathBuf};

/// Writes every bench report into `dir` (created if needed); returns the files written.
pub fn write_all(dir: &Path, report: &BenchReport) -> Result<Vec<PathBuf>, ReportError> {
    atomic::create_dir(dir)?;
    let mut exporters: Vec<&dyn Exporter<BenchReport>> =
        vec![&BenchJson, &BenchCsv, &BenchMarkdown];
    let charts = BenchChart::ALL;
    exporters.extend(charts.iter().map(|c| c as &dyn Exporter<BenchReport>));
    export::write_all(dir, report, &exporters)
}
