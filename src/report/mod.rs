//! Reports: one result model ([`model`]) and one file per export format.
//!
//! A run folder `reports/<run-id>/` holds `summary.json`, `documents.csv`, `report.md`,
//! `report.html` (self-contained, inline SVG charts) and `predictions.jsonl`; the console
//! table is rendered by [`console`] and printed by the CLI. Reports carry numbers and ids;
//! the only document text they quote is error examples, redacted of patient identifiers
//! ([`redact`]) unless the run was asked to show them. `predictions.jsonl` is the raw
//! engine output, kept so a run can be re-scored: treat it as patient data.

pub mod console;
pub mod csv;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
mod model;
pub mod redact;
pub mod svg;

pub use model::*;

use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode {what}: {message}")]
    Encode { what: String, message: String },
}

/// Creates a run folder (and its parents) readable by its owner only (0700 on Unix): it
/// holds raw patient text. An existing folder is narrowed to 0700 too.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Opens `path` for writing (created or truncated), readable by its owner only (0600 on
/// Unix): for files that keep raw patient text.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Files of a run that keep raw (unredacted) text: created 0600.
const RAW_TEXT_FILES: [&str; 1] = ["predictions.jsonl"];

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, fsync'd, then
/// renamed, so a crash never leaves a half-written report. Files named in
/// [`RAW_TEXT_FILES`] are readable by their owner only.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    {
        let private = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| RAW_TEXT_FILES.contains(&n));
        let mut f = if private {
            create_private_file(&tmp)
        } else {
            std::fs::File::create(&tmp)
        }
        .map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Writes every file report of a run into `dir` and returns their paths.
pub fn write_run(
    dir: &Path,
    summary: &RunSummary,
    documents: &[DocumentResult],
) -> Result<Vec<PathBuf>, ReportError> {
    create_private_dir(dir).map_err(|source| ReportError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = [
        ("summary.json", json::summary(summary)?),
        ("documents.csv", csv::documents(documents)?),
        ("report.md", markdown::report(summary).into_bytes()),
        ("report.html", html::report(summary, documents).into_bytes()),
        ("predictions.jsonl", json::predictions(documents)?),
    ];
    let mut out = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomic(&path, &bytes)?;
        out.push(path);
    }
    Ok(out)
}
