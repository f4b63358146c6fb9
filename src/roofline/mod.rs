//! Roofline analysis: where a model's decode and prefill steps sit between a device's
//! memory bandwidth and its compute peak, and the tokens/s that bound allows.
//!
//! - [`hardware`]: vendor presets (dense FP16/BF16 tensor peak, no sparsity) and a short
//!   CPU probe;
//! - [`spec`]: the model's shape, from a checkpoint's `config.json` or from flags, and the
//!   weight precision what-if;
//! - [`analysis`]: FLOPs and bytes per step (weights, attention, KV cache), arithmetic
//!   intensity, attainable FLOP/s, bound and estimated tokens/s;
//! - [`measured`]: a `medocr bench` measurement placed on the roofline (achieved FLOP/s and
//!   bandwidth as fractions of the bound).
//!
//! See `docs/roofline.md` for the formulas and the datasheet sources.

pub mod analysis;
pub mod hardware;
pub mod measured;
pub mod spec;

pub use analysis::{analyze, analyze_grid, Bound, Phase, RoofRow, StepCost, Workload};
pub use hardware::{measure_cpu, preset, presets, Hardware};
pub use measured::{place, place_bench, place_measurement, MeasuredPoint};
pub use spec::{ModelSpec, Precision};

use std::path::PathBuf;

/// Errors of the roofline module; each names the file, key or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum RooflineError {
    #[error("unknown hardware preset `{0}` (known: {1})")]
    UnknownHardware(String, String),
    #[error("unknown precision `{0}` (known: fp32, fp16, bf16, int8, int4)")]
    UnknownPrecision(String),
    #[error("unknown phase `{0}` (known: decode, prefill)")]
    UnknownPhase(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: missing or non-numeric key `{key}`")]
    MissingKey { path: PathBuf, key: String },
    #[error("{path}: bad safetensors header: {reason}")]
    Safetensors { path: PathBuf, reason: String },
    #[error("invalid model spec: {0}")]
    InvalidSpec(String),
}
