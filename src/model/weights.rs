//! Shipped weights: `model.safetensors` (tensors named after the module tree, e.g.
//! `encoder.layers.0.attn.query.weight`), `config.json` and `tokenizer.json` in one folder.
//! Loading is strict: a missing or unexpected tensor, a shape mismatch, or a config that
//! disagrees with the tokenizer is an error, never a silently half-initialised model.

use super::config::ModelConfig;
use super::error::ModelError;
use super::ocr::OcrModel;
use super::tokenizer::Tokenizer;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::backend::Backend;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const CONFIG_FILE: &str = "config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// A model ready for inference, with what describes it.
pub struct LoadedModel<B: Backend> {
    pub model: OcrModel<B>,
    pub config: ModelConfig,
    pub tokenizer: Tokenizer,
    /// SHA-256 of `model.safetensors`.
    pub sha256: String,
    pub dir: PathBuf,
}

/// Writes the three files into `dir` (created if needed).
pub fn save<B: Backend>(
    model: &OcrModel<B>,
    config: &ModelConfig,
    tokenizer: &Tokenizer,
    dir: &Path,
) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let wpath = dir.join(WEIGHTS_FILE);
    let mut store = SafetensorsStore::from_file(wpath.clone())
        .overwrite(true)
        .metadata("architecture", config.architecture.clone());
    model
        .save_into(&mut store)
        .map_err(|e| ModelError::Weights {
            path: wpath.clone(),
            message: e.to_string(),
        })?;
    let cpath = dir.join(CONFIG_FILE);
    let json = serde_json::to_string_pretty(config).expect("config serialises");
    std::fs::write(&cpath, json).map_err(|e| ModelError::io(&cpath, e))?;
    tokenizer.save(&dir.join(TOKENIZER_FILE))
}

pub fn load_config(path: &Path) -> Result<ModelConfig, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    let config: ModelConfig = serde_json::from_str(&text).map_err(|e| ModelError::ConfigFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    config.validate()?;
    Ok(config)
}

/// Loads a model folder written by [`save`].
pub fn load<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedModel<B>, ModelError> {
    let config = load_config(&dir.join(CONFIG_FILE))?;
    let tokenizer = Tokenizer::load(&dir.join(TOKENIZER_FILE))?;
    if tokenizer.len() != config.vocab_size {
        return Err(ModelError::VocabMismatch {
            config: config.vocab_size,
            tokenizer: tokenizer.len(),
        });
    }
    let wpath = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&wpath).map_err(|e| ModelError::io(&wpath, e))?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    let mut model = OcrModel::<B>::new(&config, device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .validate(true)
        .allow_partial(false);
    let result = model
        .load_from(&mut store)
        .map_err(|e| ModelError::Weights {
            path: wpath.clone(),
            message: e.to_string(),
        })?;
    if !result.missing.is_empty() || !result.unused.is_empty() || !result.errors.is_empty() {
        let list = |v: Vec<String>| {
            let n = v.len();
            let mut s = v.into_iter().take(8).collect::<Vec<_>>().join(", ");
            if n > 8 {
                s.push_str(", …");
            }
            s
        };
        return Err(ModelError::WeightMismatch {
            path: wpath,
            missing: result.missing.len(),
            missing_names: list(result.missing.iter().map(|m| m.0.clone()).collect()),
            unexpected: result.unused.len(),
            unexpected_names: list(result.unused.clone()),
            errors: result.errors.len(),
            error_text: list(result.errors.iter().map(|e| e.to_string()).collect()),
        });
    }
    Ok(LoadedModel {
        model,
        config,
        tokenizer,
        sha256,
        dir: dir.to_path_buf(),
    })
}
