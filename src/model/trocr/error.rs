//! Typed errors of the Hugging Face checkpoint loader. Every message names the file and,
//! where there is one, the config key or tensor name, and what to do.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HfError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON: {message}")]
    Json { path: PathBuf, message: String },
    /// A config value that is missing, malformed or not supported by this loader.
    #[error("{path}: `{key}`: {message}")]
    Config {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{path}: cannot read the safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: tensor `{name}` has dtype {dtype}; only F32, F16, BF16 and F64 weights can be loaded")]
    Dtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error("{path}: tensor `{name}` has shape {found:?}, but config.json implies {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// Strict loading: every tensor the module tree needs must be present, and every tensor
    /// in the file must be used (or be on the documented list of tensors that are not needed).
    #[error("{path}: the weights do not match config.json: {} missing tensor(s) [{}], {} unused tensor(s) [{}]; see docs/hf.md for the key map", missing.len(), list(missing), unused.len(), list(unused))]
    Mismatch {
        path: PathBuf,
        missing: Vec<String>,
        unused: Vec<String>,
    },
    #[error("{path}: cannot load the tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("tokenizer: {0}")]
    Decode(String),
    #[error(
        "the tokenizer has {tokenizer} tokens but config.json says decoder.vocab_size = {config}"
    )]
    VocabMismatch { config: usize, tokenizer: usize },
}

fn list(names: &[String]) -> String {
    let mut s = names.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 8 {
        s.push_str(", …");
    }
    s
}

impl HfError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HfError::Io {
            path: path.into(),
            source,
        }
    }
}
