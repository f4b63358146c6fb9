//! Which engine to build and its settings, checked against one set of limits and built in
//! one place for `run`, `dpi-sweep`, `bench` and `serve`.

use super::builtin::BuiltinEngine;
use super::hf::{HfEngine, HfEngineError};
use super::openai::{OpenAiConfig, OpenAiEngine, ResponseFormat};
use super::replay::Replay;
use super::tesseract::{Tesseract, TesseractConfig};
use super::{Engine, EngineError};
use crate::model::error::ModelError;
use std::path::PathBuf;
use std::time::Duration;

/// The engines a run can use (`--engine`); the variants' comments are its help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// The built-in Burn OCR model (models/builtin, or --model).
    Builtin,
    /// Tesseract 5 (`kor+eng`), the baseline.
    Tesseract,
    /// Predictions from a JSONL file (needs --predictions).
    Replay,
    /// An OpenAI-compatible server (vLLM, SGLang, TGI, `medocr serve`; needs --base-url).
    Openai,
    /// A Hugging Face TrOCR-family checkpoint (VisionEncoderDecoder) run in Burn (needs --model).
    Hf,
}

/// Most line segments per forward pass: beyond this a batch only costs memory (the
/// encoder's activations grow with it) without running faster on any device we measured.
pub const MAX_BATCH: usize = 1024;

/// The `--piece-width` range: at least two Hangul syllables at the 32 px line height, at
/// most the widest line the model was trained on.
pub const MIN_PIECE_WIDTH: usize = 64;
pub const MAX_PIECE_WIDTH: usize = 800;

/// Largest prefix cache, in MiB (1 TiB: a bound that keeps the byte count in range).
pub const MAX_PREFIX_CACHE_MIB: usize = 1 << 20;

/// Longest per-page time limit, in seconds (a bound `Duration` can hold on every platform).
pub const MAX_TIMEOUT_PER_PAGE_S: f64 = 1e9;

/// Every engine's settings (the flags of `medocr run`); each kind reads the ones it needs.
#[derive(Debug, Clone)]
pub struct EngineSpec {
    /// The built-in model's folder, or the hf checkpoint folder.
    pub model: Option<PathBuf>,
    /// `cpu` or `cuda[:N]`, parsed only by the engines that run a model.
    pub device: String,
    pub batch: usize,
    pub piece_width: Option<usize>,
    pub min_confidence: Option<f32>,
    /// MiB of crop encodings the built-in model keeps for reuse (0: no prefix cache).
    pub prefix_cache_mib: usize,
    pub predictions: Option<PathBuf>,
    pub max_pixels: u64,
    /// Seconds; `None` leaves the built-in model unbounded (`medocr serve`).
    pub timeout_per_page: Option<f64>,
    pub tesseract_bin: String,
    pub tesseract_langs: String,
    pub tesseract_psm: u32,
    pub base_url: Option<String>,
    pub ca_cert: Option<PathBuf>,
    /// `Name: value` or `Name: env:VAR`.
    pub headers: Vec<String>,
    pub model_name: Option<String>,
    pub prompt: Option<String>,
    pub api_key_env: String,
    pub request_timeout: f64,
    pub response_format: ResponseFormat,
}

/// Why an engine cannot be built; the messages name the flag and its limit.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Invalid(String),
    #[error("--device")]
    Device(#[source] Box<ModelError>),
    #[error(transparent)]
    Locate(Box<ModelError>),
    #[error("loading the built-in model from {dir}")]
    LoadBuiltin {
        dir: PathBuf,
        #[source]
        source: Box<ModelError>,
    },
    #[error("loading the Hugging Face checkpoint from {dir}")]
    LoadHf {
        dir: PathBuf,
        #[source]
        source: Box<HfEngineError>,
    },
    #[error("starting the tesseract engine")]
    Tesseract(#[source] Box<EngineError>),
    #[error(transparent)]
    Replay(Box<EngineError>),
    #[error("setting up the openai engine")]
    Openai(#[source] Box<EngineError>),
    #[error("--header {name}: env:{var}: the variable is not set")]
    HeaderEnv {
        name: String,
        var: String,
        #[source]
        source: std::env::VarError,
    },
}

fn invalid(message: String) -> SpecError {
    SpecError::Invalid(message)
}

/// `--batch` in its valid range.
pub fn check_batch(batch: usize) -> Result<(), SpecError> {
    if !(1..=MAX_BATCH).contains(&batch) {
        return Err(invalid(format!(
            "--batch {batch}: must be from 1 to {MAX_BATCH} line segments per forward pass (default 32)"
        )));
    }
    Ok(())
}

impl EngineSpec {
    /// The built-in model with its defaults, as `medocr serve` runs it.
    pub fn builtin(model: Option<PathBuf>, device: String, batch: usize) -> EngineSpec {
        EngineSpec {
            model,
            device,
            batch,
            piece_width: None,
            min_confidence: None,
            prefix_cache_mib: 0,
            predictions: None,
            max_pixels: crate::render::RenderConfig::default().max_pixels,
            timeout_per_page: None,
            tesseract_bin: "tesseract".into(),
            tesseract_langs: "kor+eng".into(),
            tesseract_psm: 4,
            base_url: None,
            ca_cert: None,
            headers: Vec::new(),
            model_name: None,
            prompt: None,
            api_key_env: super::openai::DEFAULT_API_KEY_ENV.into(),
            request_timeout: 300.0,
            response_format: ResponseFormat::default(),
        }
    }

    /// Builds one engine of `kind`, checking the settings it uses first.
    pub fn build(&self, kind: EngineKind) -> Result<Box<dyn Engine>, SpecError> {
        self.check_common()?;
        Ok(match kind {
            EngineKind::Builtin => Box::new(self.builtin_engine()?),
            EngineKind::Hf => self.hf_engine()?,
            EngineKind::Tesseract => self.tesseract_engine()?,
            EngineKind::Replay => {
                let Some(p) = &self.predictions else {
                    return Err(invalid(
                        "--engine replay needs --predictions <file.jsonl>".into(),
                    ));
                };
                Box::new(Replay::open(p).map_err(|e| SpecError::Replay(Box::new(e)))?)
            }
            EngineKind::Openai => self.openai_engine()?,
        })
    }

    fn check_common(&self) -> Result<(), SpecError> {
        if let Some(t) = self.timeout_per_page {
            if !(t > 0.0 && t <= MAX_TIMEOUT_PER_PAGE_S) {
                return Err(invalid(format!(
                    "--timeout-per-page {t}: must be a positive number of seconds (at most 1e9)"
                )));
            }
        }
        if self.max_pixels == 0 {
            return Err(invalid("--max-pixels must be positive (default 120000000: A4 at 1200 DPI is 139 MP, at 300 DPI 8.7 MP)".into()));
        }
        Ok(())
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout_per_page.map(Duration::from_secs_f64)
    }

    /// The built-in model, concretely typed: `medocr serve` needs it as such.
    pub fn builtin_engine(&self) -> Result<BuiltinEngine, SpecError> {
        self.check_builtin_knobs()?;
        let dir = BuiltinEngine::locate(self.model.as_deref())
            .map_err(|e| SpecError::Locate(Box::new(e)))?;
        let device = self
            .device
            .parse()
            .map_err(|e| SpecError::Device(Box::new(e)))?;
        check_batch(self.batch)?;
        let mut engine = BuiltinEngine::load(&dir, device).map_err(|e| SpecError::LoadBuiltin {
            dir,
            source: Box::new(e),
        })?;
        engine.set_batch_size(self.batch);
        engine.set_timeout_per_page(self.timeout());
        engine.set_prefix_cache(self.prefix_cache_mib << 20);
        if let Some(px) = self.piece_width {
            engine.set_piece_width(px);
        }
        if let Some(c) = self.min_confidence {
            engine.set_min_confidence(c);
        }
        Ok(engine)
    }

    fn check_builtin_knobs(&self) -> Result<(), SpecError> {
        if let Some(px) = self.piece_width {
            // Narrower than a character (a quarter of the 32 px line height) reads
            // nothing whole: 45 % CER at 1 px.
            if !(MIN_PIECE_WIDTH..=MAX_PIECE_WIDTH).contains(&px) {
                return Err(invalid(format!(
                    "--piece-width {px}: must be from {MIN_PIECE_WIDTH} to {MAX_PIECE_WIDTH} pixels at the model's 32 px line height (default 160)"
                )));
            }
        }
        if self.prefix_cache_mib > MAX_PREFIX_CACHE_MIB {
            return Err(invalid(format!(
                "--prefix-cache-mib {}: must be at most {MAX_PREFIX_CACHE_MIB} (0 turns the cache off)",
                self.prefix_cache_mib
            )));
        }
        if let Some(c) = self.min_confidence {
            if c.is_nan() || c > 0.0 {
                return Err(invalid(format!(
                    "--min-confidence is a mean log-probability: a number ≤ 0 (got {c})"
                )));
            }
        }
        Ok(())
    }

    fn hf_engine(&self) -> Result<Box<dyn Engine>, SpecError> {
        let Some(dir) = &self.model else {
            return Err(invalid("--engine hf needs --model <folder> (a Hugging Face VisionEncoderDecoder checkpoint: config.json, model.safetensors, tokenizer.json, preprocessor_config.json)".into()));
        };
        let device = self
            .device
            .parse()
            .map_err(|e| SpecError::Device(Box::new(e)))?;
        check_batch(self.batch)?;
        let mut engine = HfEngine::load(dir, device).map_err(|e| SpecError::LoadHf {
            dir: dir.clone(),
            source: Box::new(e),
        })?;
        engine.set_batch_size(self.batch);
        engine.set_timeout_per_page(self.timeout());
        Ok(Box::new(engine))
    }

    fn tesseract_engine(&self) -> Result<Box<dyn Engine>, SpecError> {
        let timeout = self.timeout_per_page.unwrap_or(120.0);
        let engine = Tesseract::new(TesseractConfig {
            languages: self.tesseract_langs.clone(),
            psm: self.tesseract_psm,
            timeout: Duration::from_secs_f64(timeout),
            binary: self.tesseract_bin.clone(),
        })
        .map_err(|e| SpecError::Tesseract(Box::new(e)))?;
        Ok(Box::new(engine))
    }

    fn openai_engine(&self) -> Result<Box<dyn Engine>, SpecError> {
        let Some(url) = &self.base_url else {
            return Err(invalid("--engine openai needs --base-url http://host:port (e.g. a vLLM server, or `medocr serve`)".into()));
        };
        if !(self.request_timeout.is_finite() && self.request_timeout > 0.0) {
            return Err(invalid(format!(
                "--request-timeout {}: must be a positive number of seconds",
                self.request_timeout
            )));
        }
        let mut config = OpenAiConfig::new(url.clone());
        config.ca_cert = self.ca_cert.clone();
        for h in &self.headers {
            config.headers.push(parse_header(h)?);
        }
        config.response_format = self.response_format;
        config.model = self.model_name.clone();
        config.api_key_env = self.api_key_env.clone();
        config.request_timeout = Duration::from_secs_f64(self.request_timeout);
        if let Some(p) = &self.prompt {
            config.prompt = p.clone();
        }
        Ok(Box::new(
            OpenAiEngine::new(config).map_err(|e| SpecError::Openai(Box::new(e)))?,
        ))
    }
}

/// One `--header`: `Name: value`, or `Name: env:VAR` read from the environment.
fn parse_header(h: &str) -> Result<(String, String), SpecError> {
    let Some((name, value)) = h.split_once(':') else {
        return Err(invalid(
            "--header: expected 'Name: value' (a header without ':')".into(),
        ));
    };
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        return Err(invalid(format!(
            "--header: '{name}' is not a header name (letters, digits, '-' and '_')"
        )));
    }
    let value = value.trim();
    let value = match value.strip_prefix("env:") {
        Some(var) => std::env::var(var).map_err(|source| SpecError::HeaderEnv {
            name: name.to_string(),
            var: var.to_string(),
            source,
        })?,
        None => value.to_string(),
    };
    Ok((name.to_string(), value))
}
