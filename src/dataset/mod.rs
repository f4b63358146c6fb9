//! Datasets: the manifest format (`manifest.jsonl`, see `docs/design.md`), its loading and
//! validation, the synthetic document generator (`synth`), the second toolchain that
//! prints the same content as HTML through headless Chromium (`print`), fax, photo
//! and scan images of rendered pages (`variants`), and the release preset over both
//! sources (`release`).

pub mod bundled;
mod doc_type;
pub mod font_pool;
pub mod jpeg_opt;
mod manifest;
pub mod print;
pub mod release;
pub mod synth;
pub mod variants;

pub use doc_type::DocType;
pub use manifest::{
    load_manifest, Dataset, DatasetError, Document, Drug, Fields, LabRow, ManifestIssue,
};
