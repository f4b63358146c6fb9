//! Typed errors of the built-in model.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the built-in model was not found (looked in: {searched}). Copy the repository's models/builtin folder to {install}, set MEDOCR_MODEL to its folder, or pass --model DIR (`medocr doctor` checks)")]
    NotFound { searched: String, install: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid model config: {message}")]
    ConfigFile { path: PathBuf, message: String },
    #[error("invalid model configuration: {0}")]
    InvalidConfig(String),
    #[error("{path}: invalid tokenizer file: {message}")]
    TokenizerFile { path: PathBuf, message: String },
    #[error("the tokenizer has {tokenizer} tokens but config.json says vocab_size = {config}")]
    VocabMismatch { config: usize, tokenizer: usize },
    #[error("{path}: cannot read or write weights: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("{path}: the weights do not match config.json: {missing} missing tensor(s) [{missing_names}], {unexpected} unexpected tensor(s) [{unexpected_names}], {errors} error(s) [{error_text}]")]
    WeightMismatch {
        path: PathBuf,
        missing: usize,
        missing_names: String,
        unexpected: usize,
        unexpected_names: String,
        errors: usize,
        error_text: String,
    },
    #[error("no usable fonts: {0}")]
    NoFonts(String),
    #[error("CUDA device requested but unavailable: {0}")]
    CudaUnavailable(String),
    #[error("this binary was built without CUDA support: rebuild with `cargo build --release --features cuda`")]
    CudaNotCompiled,
    #[error("unknown device '{0}' (expected cpu, cuda or cuda:N)")]
    UnknownDevice(String),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("training: {0}")]
    Train(String),
    #[error("page crops: {message}")]
    Data { message: String },
}

impl ModelError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }
}
