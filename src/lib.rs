//! medocr: tells a medical-OCR team, with numbers they can defend, whether an OCR model
//! release is good enough to ship on Korean medical documents.
//!
//! The modules follow the pipeline (see `docs/design.md`):
//! `dataset` → `render` → `engine` → `score` → `sla` → `report`, with `stats` for the
//! formulas, `model` for the built-in Burn OCR model and `pipeline` tying a run together.
//! The library never prints; the `medocr` binary does.

pub mod bench;
pub mod compare;
pub mod dataset;
pub mod doctor;
pub mod engine;
pub mod model;
pub mod paths;
pub mod pipeline;
pub mod render;
pub mod report;
pub mod roofline;
pub mod score;
pub mod serve;
pub mod sla;
pub mod stats;
pub mod stream;
