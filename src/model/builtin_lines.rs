//! The built-in model as a [`LineModel`]: segments split into pieces at column gaps,
//! normalised to the model's line height, encoded in padded batches; a piece is held until
//! it has finished and dropped when it ran into the tokens its width can hold or its
//! confidence is below the checkpoint's threshold.

use super::config::ModelConfig;
use super::encoder::Encoded;
use super::line_model::{Decoding, LineModel};
use super::ocr::OcrModel;
use super::prefix_cache::Fingerprint;
use super::preprocess::{batch_tensor, line_input, LineInput};
use super::splitter::{default_piece_width, Splitter};
use super::tokenizer::{Tokenizer, UNK};
use super::weights::LoadedModel;
use burn::tensor::backend::Backend;
use image::GrayImage;
use std::convert::Infallible;

/// Narrowest character, in line heights (`.`, `1`, `l` are about a quarter of the height):
/// a piece `w` heights wide cannot hold more than `w / 0.25` characters.
pub const MIN_CHAR_ASPECT: f32 = 0.25;

/// Most tokens a piece of `width` pixels at `line_height` can hold (plus two for slack).
pub fn max_tokens(width: usize, line_height: usize) -> usize {
    (width as f32 / line_height.max(1) as f32 / MIN_CHAR_ASPECT).ceil() as usize + 2
}

pub struct BuiltinLines<B: Backend> {
    pub model: OcrModel<B>,
    pub config: ModelConfig,
    pub tokenizer: Tokenizer,
    /// Widest piece handed to the model, in pixels at `line_height`; wider segments are split
    /// at the column gap nearest their middle.
    pub max_piece_width: usize,
    /// Pieces read with a lower mean token log-probability are dropped (the checkpoint's
    /// calibrated `min_confidence`, or `--min-confidence`).
    pub min_confidence: f32,
}

impl<B: Backend> BuiltinLines<B> {
    pub fn new(loaded: LoadedModel<B>) -> Self {
        BuiltinLines {
            max_piece_width: default_piece_width(&loaded.config),
            min_confidence: loaded.config.min_confidence.unwrap_or(f32::NEG_INFINITY),
            model: loaded.model,
            config: loaded.config,
            tokenizer: loaded.tokenizer,
        }
    }

    /// How wide segments are cut.
    pub fn splitter(&self) -> Splitter {
        Splitter {
            max_piece_width: self.max_piece_width,
            line_height: self.config.line_height,
        }
    }
}

impl<B: Backend> LineModel<B> for BuiltinLines<B> {
    type Input = LineInput;
    type Decoder = OcrModel<B>;
    type Text = ();
    type Error = Infallible;

    fn prepare(&self, crop: GrayImage) -> Vec<(LineInput, bool)> {
        let (height, max_width) = (self.config.line_height, self.config.max_line_width * 2);
        self.splitter()
            .split(crop)
            .into_iter()
            .enumerate()
            .map(|(k, part)| {
                let glue = k > 0 && part.glue_to_prev;
                (line_input(&part.image, height, max_width), glue)
            })
            .collect()
    }

    fn input_width(&self, input: &LineInput) -> usize {
        input.width
    }

    fn fingerprint(&self, input: &LineInput) -> Fingerprint {
        Fingerprint::of(&[input.height, input.width], &input.pixels)
    }

    fn input_tokens(&self, input: &LineInput) -> usize {
        self.config.encoder_len(input.width)
    }

    fn token_limit(&self, input: &LineInput) -> usize {
        max_tokens(input.width, self.config.line_height)
    }

    fn encode_ahead(&self) -> bool {
        true
    }

    fn encode(&self, inputs: &[&LineInput], device: &B::Device) -> Encoded<B> {
        let (images, widths) = batch_tensor::<B>(inputs, device);
        self.model.encode(images, &widths)
    }

    fn decoder(&self) -> &OcrModel<B> {
        &self.model
    }

    fn decoding(&self) -> Decoding {
        Decoding::builtin(self.config.max_target_len)
    }

    fn min_confidence(&self) -> Option<f32> {
        Some(self.min_confidence)
    }

    fn token_text(&self, _: &mut (), id: u32, _last: bool) -> Result<String, Infallible> {
        Ok(self.tokenizer.token_text(id).to_string())
    }

    fn is_unknown(&self, id: u32) -> bool {
        id == UNK
    }
}
