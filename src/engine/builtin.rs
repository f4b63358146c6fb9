//! The built-in Burn OCR model as an [`Engine`]: line detection, batched line recognition and
//! per-token streaming (see `model::recognizer` for the token order and separators).
//! Flex on the CPU by default; `DeviceChoice::Cuda` with the `cuda` feature.

use super::{Engine, EngineError, EngineInfo, Request, Streaming, TokenSink};
use crate::model::device::{self, DeviceChoice};
use crate::model::recognizer::Recognizer;
use crate::model::weights::{self, LoadedModel};
use crate::model::ModelError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where `medocr run` looks for the shipped checkpoint.
pub const DEFAULT_MODEL_DIR: &str = "models/builtin";

enum Runner {
    Cpu(Recognizer<burn::backend::Flex>),
    #[cfg(feature = "cuda")]
    Cuda(Recognizer<burn::backend::Cuda>),
}

pub struct BuiltinEngine {
    runner: Runner,
    info: EngineInfo,
}

impl BuiltinEngine {
    /// Loads `model.safetensors` + `config.json` + `tokenizer.json` from `dir` onto `device`.
    pub fn load(dir: &Path, device: DeviceChoice) -> Result<Self, ModelError> {
        device::check(device)?;
        let (runner, sha, config, params) = match device {
            DeviceChoice::Cpu => {
                let dev = Default::default();
                let loaded: LoadedModel<burn::backend::Flex> = weights::load(dir, &dev)?;
                let (sha, config) = (loaded.sha256.clone(), loaded.config.clone());
                let params = burn::module::Module::num_params(&loaded.model);
                (Runner::Cpu(Recognizer::new(loaded, dev)), sha, config, params)
            }
            #[cfg(feature = "cuda")]
            DeviceChoice::Cuda(i) => {
                let dev = burn::backend::cuda::CudaDevice::new(i);
                let loaded: LoadedModel<burn::backend::Cuda> = weights::load(dir, &dev)?;
                let (sha, config) = (loaded.sha256.clone(), loaded.config.clone());
                let params = burn::module::Module::num_params(&loaded.model);
                (Runner::Cuda(Recognizer::new(loaded, dev)), sha, config, params)
            }
            #[cfg(not(feature = "cuda"))]
            DeviceChoice::Cuda(_) => return Err(ModelError::CudaNotCompiled),
        };
        let mut settings = BTreeMap::new();
        settings.insert("device".into(), device.to_string());
        settings.insert("model_dir".into(), dir.display().to_string());
        settings.insert("parameters".into(), params.to_string());
        settings.insert(
            "architecture".into(),
            format!(
                "{} d={} enc={} dec={} heads={} line_height={}",
                config.architecture,
                config.d_model,
                config.encoder_layers,
                config.decoder_layers,
                config.n_heads,
                config.line_height
            ),
        );
        settings.insert("batch_size".into(), "32".into());
        let version = format!(
            "{}@{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("builtin"),
            &sha[..12.min(sha.len())]
        );
        Ok(BuiltinEngine {
            runner,
            info: EngineInfo {
                name: "builtin".into(),
                version,
                checkpoint_sha256: Some(sha),
                streaming: Streaming::PerToken,
                token_unit: "character".into(),
                settings,
            },
        })
    }

    /// The default model folder: `$MEDOCR_MODEL_DIR`, else `models/builtin`.
    pub fn default_dir() -> PathBuf {
        std::env::var_os("MEDOCR_MODEL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR))
    }

    /// Segments recognised per forward pass (default 32).
    pub fn set_batch_size(&mut self, n: usize) {
        let n = n.max(1);
        match &mut self.runner {
            Runner::Cpu(r) => r.batch_size = n,
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => r.batch_size = n,
        }
        self.info.settings.insert("batch_size".into(), n.to_string());
    }
}

impl Engine for BuiltinEngine {
    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn recognize(&mut self, request: &Request<'_>, sink: &mut dyn TokenSink) -> Result<(), EngineError> {
        match &self.runner {
            Runner::Cpu(r) => {
                r.recognize(request.pages, sink);
            }
            #[cfg(feature = "cuda")]
            Runner::Cuda(r) => {
                r.recognize(request.pages, sink);
            }
        }
        Ok(())
    }
}
