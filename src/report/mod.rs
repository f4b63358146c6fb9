//! Reports: one result model per command (`model` for a run, [`crate::bench`]'s and
//! [`crate::compare`]'s for the others) and one export layer for all of them: an
//! [`Exporter`] per file ([`export`]), one atomic writer ([`atomic`]), one table model
//! ([`table`]) with one escaper per format ([`escape`]), and one chart module ([`chart`]).
//!
//! A run folder `reports/<run-id>/` holds `summary.json`, `documents.csv`, `report.md`,
//! `report.html` (self-contained, inline SVG charts) and `predictions.jsonl` ([`run`]); the
//! console table is rendered by [`console`] and printed by the CLI. Reports carry numbers
//! and ids; the only document text they quote is error examples, redacted of patient
//! identifiers ([`redact`]) unless the run was asked to show them. `predictions.jsonl` is
//! the raw engine output, kept so a run can be re-scored: treat it as patient data.

pub mod atomic;
pub mod bench;
pub mod chart;
pub mod console;
pub mod csv;
pub mod escape;
pub mod export;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
mod model;
pub mod redact;
pub mod run;
pub mod table;

pub use atomic::{create_private_dir, create_private_file, write_atomic};
pub use export::Exporter;
pub use model::*;
pub use run::{write_run, Run};

use std::path::PathBuf;

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
