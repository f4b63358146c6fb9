//! `bench.json`: the whole [`BenchReport`], every per-request sample included.

use crate::bench::BenchReport;
use crate::report::{Exporter, ReportError};

/// `bench.json` (pretty, no trailing newline).
pub struct BenchJson;

impl Exporter<BenchReport> for BenchJson {
    fn file_name(&self) -> String {
        "bench.json".into()
    }

    fn render(&self, report: &BenchReport) -> Result<Vec<u8>, ReportError> {
        serde_json::to_vec_pretty(report).map_err(|e| ReportError::Encode {
            what: "bench.json".into(),
            message: e.to_string(),
        })
    }
}

/// Reads a `bench.json` back.
pub fn from_str(text: &str) -> Result<BenchReport, serde_json::Error> {
    serde_json::from_str(text)
}
