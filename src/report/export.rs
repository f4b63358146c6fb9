//! The exporter layer, in hyperfine's manner: each report file is an [`Exporter`] of a
//! result model (a run, a bench, a comparison) that renders bytes and computes nothing;
//! [`write_all`] writes a folder's exporters through the one atomic writer.

use super::{atomic::write_atomic, ReportError};
use std::path::{Path, PathBuf};

/// One report file of a model `M`.
pub trait Exporter<M: ?Sized> {
    /// The file's name in the report folder.
    fn file_name(&self) -> String;

    /// Whether the model has anything for this file (a chart of a scenario that did not
    /// run is left out).
    fn applies(&self, _model: &M) -> bool {
        true
    }

    /// The file's bytes.
    fn render(&self, model: &M) -> Result<Vec<u8>, ReportError>;
}

/// Renders every exporter that applies to `model`, then writes each into `dir` (which must
/// exist) atomically, so an encoding error writes nothing; returns the paths in exporter
/// order.
pub fn write_all<M: ?Sized>(
    dir: &Path,
    model: &M,
    exporters: &[&dyn Exporter<M>],
) -> Result<Vec<PathBuf>, ReportError> {
    let files = exporters
        .iter()
        .filter(|e| e.applies(model))
        .map(|e| Ok((dir.join(e.file_name()), e.render(model)?)))
        .collect::<Result<Vec<_>, ReportError>>()?;
    let mut out = Vec::new();
    for (path, bytes) in files {
        write_atomic(&path, &bytes)?;
        out.push(path);
    }
    Ok(out)
}

/// A model as pretty JSON with a trailing newline (`summary.json`, `compare.json`).
pub fn pretty_json<T: serde::Serialize + ?Sized>(
    what: &str,
    value: &T,
) -> Result<Vec<u8>, ReportError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| ReportError::Encode {
        what: what.into(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
