//! Datasets: the manifest format (`manifest.jsonl`, see `docs/design.md`), its loading and
//! validation, and the synthetic document generator (`synth`).

mod doc_type;
pub mod font_pool;
mod manifest;
pub mod synth;

pub use doc_type::DocType;
pub use manifest::{
    load_manifest, Dataset, DatasetError, Document, Drug, Fields, LabRow, ManifestIssue,
};
