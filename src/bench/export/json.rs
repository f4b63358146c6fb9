//! `bench.json`: the whole [`BenchReport`], every per-request sample included.

use super::{write_file, ExportError};
use crate::bench::BenchReport;
use std::path::{Path, PathBuf};

pub fn to_string(report: &BenchReport) -> Result<String, ExportError> {
    Ok(serde_json::to_string_pretty(report)?)
}

pub fn write(path: &Path, report: &BenchReport) -> Result<PathBuf, ExportError> {
    write_file(path, &to_string(report)?)?;
    Ok(path.to_path_buf())
}

/// Reads a `bench.json` back.
pub fn from_str(text: &str) -> Result<BenchReport, ExportError> {
    Ok(serde_json::from_str(text)?)
}
