//! The built-in Burn OCR model: a line recogniser (convolutional stem + transformer encoder,
//! autoregressive transformer decoder with cross-attention and a preallocated KV cache) and the
//! page pipeline around it (line detection, batched recognition). Generic over the Burn backend:
//! Flex on CPU by default, CUDA behind the `cuda` feature.
//!
//! One concept per file:
//! - `config`, `tokenizer` (over `dataset::synth::ksx1001`), `error`, `device`
//! - layers: `attention`, `kv_cache`, `encoder`, `decoder`, `ocr` (the whole model)
//! - inference: `line_model` (what a line recogniser provides: the built-in model in
//!   `builtin_lines`, Hugging Face checkpoints in `trocr`), `preprocess` (crop → model input),
//!   `splitter` (wide segments cut at column gaps), `generate` (greedy decoding, one loop for
//!   both), `detect` (text lines and segments on a page), `recognizer` (batched page
//!   recognition, one loop for both)
//! - weights: `weights` (safetensors + config.json + tokenizer.json)
//! - training: `fonts`, `line_render`, `augment`, `textgen`, `page_crops` (crops cut from
//!   whole pages by the pipeline), `data`, `cer`, `eval`, `checkpoint`, `train`

pub mod attention;
pub mod augment;
pub mod builtin_lines;
pub mod checkpoint;
pub mod config;
pub mod continuous;
pub mod data;
pub mod decoder;
pub mod detect;
pub mod device;
pub mod encoder;
pub mod error;
pub mod eval;
pub mod fonts;
pub mod generate;
pub mod kv_cache;
pub mod line_model;
pub mod line_render;
pub mod ocr;
pub mod page_crops;
pub mod positional;
pub mod prefix_cache;
pub mod preprocess;
pub mod recognizer;
pub mod splitter;
pub mod textgen;
pub mod tokenizer;
pub mod train;
pub mod trocr;
pub mod weights;

pub use config::ModelConfig;
pub use device::DeviceChoice;
pub use error::ModelError;
pub use ocr::OcrModel;
pub use tokenizer::Tokenizer;

/// The CPU backend used for inference.
pub type CpuBackend = burn::backend::Flex;
/// The CPU backend used for training (Flex with reverse-mode autodiff).
pub type TrainBackend = burn::backend::Autodiff<burn::backend::Flex>;

#[cfg(test)]
mod tests;
