//! Hugging Face `VisionEncoderDecoderModel` checkpoints of the TrOCR family (ViT or DeiT
//! encoder, TrOCR decoder) in Burn: a checkpoint folder (`config.json`, `model.safetensors`,
//! `tokenizer.json`, `preprocessor_config.json`, optionally `generation_config.json`) loads
//! into Burn modules with numerical parity to `transformers` (tests/hf_parity.rs).
//!
//! One concept per file:
//! - `config` (config.json, generation settings), `error`
//! - weights through `burn::store`: `keymap` (checkpoint names ↔ module paths, also written
//!   out in docs/hf.md), `adapters` (dtype cast, convolution kernel as a Linear), `weights`
//!   (the strict load and its errors)
//! - layers: `layers` (attention, MLP), `vit` (encoder), `decoder` (TrOCR decoder), `model`
//! - inference: `preprocess` (Pillow-compatible resize, rescale, normalise), `lines` (the
//!   checkpoint as a `model::line_model::LineModel`: greedy decoding settings, batches for the
//!   shared generator and page loop), `tokenizer` (tokenizer.json, streaming decode)

pub mod adapters;
pub mod config;
pub mod decoder;
pub mod error;
pub mod keymap;
pub mod layers;
pub mod lines;
pub mod model;
pub mod preprocess;
pub mod tokenizer;
pub mod vit;
pub mod weights;

pub use config::{GenerationSettings, HfConfig};
pub use error::HfError;
pub use model::TrocrModel;
pub use preprocess::Preprocessor;
pub use tokenizer::HfTokenizer;

use burn::tensor::backend::Backend;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";

/// A checkpoint ready for inference, with what describes it.
pub struct LoadedHf<B: Backend> {
    pub model: TrocrModel<B>,
    pub config: HfConfig,
    pub generation: GenerationSettings,
    pub preprocessor: Preprocessor,
    pub tokenizer: HfTokenizer,
    /// SHA-256 of `model.safetensors`.
    pub sha256: String,
    /// Dtypes stored in the file (`F32`, `F16`, `BF16` …); computation is f32.
    pub weight_dtypes: BTreeSet<String>,
    pub dir: PathBuf,
}

/// Loads a checkpoint folder onto `device`.
pub fn load<B: Backend>(dir: &Path, device: &B::Device) -> Result<LoadedHf<B>, HfError> {
    if !dir.is_dir() {
        return Err(HfError::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not a folder (expected a Hugging Face checkpoint folder with config.json, model.safetensors, tokenizer.json, preprocessor_config.json)",
            ),
        ));
    }
    let config = HfConfig::load(&dir.join(CONFIG_FILE))?;
    let generation = config::load_generation(dir)?;
    let preprocessor = Preprocessor::load(
        &dir.join(PREPROCESSOR_FILE),
        config.encoder.num_channels,
        config.encoder.image_size,
    )?;
    let tokenizer = HfTokenizer::load(&dir.join(TOKENIZER_FILE))?;
    if tokenizer.vocab_size() > config.decoder.vocab_size {
        return Err(HfError::VocabMismatch {
            config: config.decoder.vocab_size,
            tokenizer: tokenizer.vocab_size(),
        });
    }
    let wpath = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&wpath).map_err(|e| {
        let hint = if dir.join("pytorch_model.bin").exists() {
            " (only pytorch_model.bin is there: convert it with transformers' save_pretrained(safe_serialization=True))"
        } else {
            ""
        };
        HfError::io(&wpath, std::io::Error::new(e.kind(), format!("{e}{hint}")))
    })?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    let mut model = TrocrModel::new(&config, device);
    let weight_dtypes = weights::load_into(
        &mut model,
        bytes,
        &wpath,
        config.decoder.tie_word_embeddings,
        device,
    )?;
    Ok(LoadedHf {
        model,
        config,
        generation,
        preprocessor,
        tokenizer,
        sha256,
        weight_dtypes,
        dir: dir.to_path_buf(),
    })
}
