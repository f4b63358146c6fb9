//! A loaded checkpoint as a [`LineModel`]: every segment resized to the encoder's fixed image
//! size (one input size, so batches are encoded as they are decoded, without padding), greedy
//! decoding as `transformers`' `generate(num_beams=1, do_sample=False)` (the first input is
//! `decoder_start_token_id`; a line ends on any `eos_token_id`, kept in its ids, or when the
//! sequence reaches `max_length`, start token included), and tokens streamed as soon as their
//! bytes make text.

use super::tokenizer::LineStream;
use super::{HfError, LoadedHf, TrocrModel};
use crate::model::encoder::Encoded;
use crate::model::kv_cache::KvCache;
use crate::model::line_model::{Compaction, Decoding, LineDecoder, LineModel};
use crate::model::prefix_cache::Fingerprint;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use image::GrayImage;

impl<B: Backend> LoadedHf<B> {
    /// Greedy decoding with the checkpoint's generation settings.
    pub fn decoding(&self) -> Decoding {
        let g = &self.generation;
        Decoding {
            start: g.decoder_start_token_id,
            stop: g.eos_token_ids.clone(),
            keep_stop: true,
            max_len: g.max_new_tokens(),
            compaction: Compaction::EveryStop,
            scores: false,
        }
    }

    /// The encoder output of normalised pixels `[b, channels, H, W]`, ready to decode (every
    /// line has the same length: nothing is padded).
    pub fn encoded(&self, pixels: Tensor<B, 4>) -> Encoded<B> {
        let memory = self.model.memory(pixels);
        let [b, s, _] = memory.dims();
        Encoded {
            memory,
            lengths: vec![s; b],
            key_bias: None,
        }
    }
}

impl<B: Backend> LineModel<B> for LoadedHf<B> {
    /// Normalised pixels, `channels · H · W`.
    type Input = Vec<f32>;
    type Decoder = TrocrModel<B>;
    type Text = LineStream;
    type Error = HfError;

    fn prepare(&self, crop: GrayImage) -> Vec<(Vec<f32>, bool)> {
        vec![(self.preprocessor.pixels(&crop), false)]
    }

    fn input_width(&self, _: &Vec<f32>) -> usize {
        self.config.encoder.image_size[1]
    }

    fn fingerprint(&self, input: &Vec<f32>) -> Fingerprint {
        // Every input has the processor's one shape.
        Fingerprint::of(&[input.len()], input)
    }

    fn input_tokens(&self, _: &Vec<f32>) -> usize {
        self.config.encoder.seq_len()
    }

    fn token_limit(&self, _: &Vec<f32>) -> usize {
        usize::MAX
    }

    fn encode_ahead(&self) -> bool {
        false
    }

    fn encode(&self, inputs: &[&Vec<f32>], device: &B::Device) -> Encoded<B> {
        let [h, w] = self.config.encoder.image_size;
        let planes: Vec<&[f32]> = inputs.iter().map(|p| p.as_slice()).collect();
        let channels = self.config.encoder.num_channels;
        self.encoded(pixel_batch::<B>(&planes, channels, h, w, device))
    }

    fn decoder(&self) -> &TrocrModel<B> {
        &self.model
    }

    fn decoding(&self) -> Decoding {
        LoadedHf::decoding(self)
    }

    fn min_confidence(&self) -> Option<f32> {
        None
    }

    fn token_text(&self, line: &mut LineStream, id: u32, last: bool) -> Result<String, HfError> {
        line.push(&self.tokenizer, id, last)
    }

    fn is_unknown(&self, _: u32) -> bool {
        false
    }
}

impl<B: Backend> LineDecoder<B> for TrocrModel<B> {
    fn cross_keys_values(&self, memory: &Tensor<B, 3>) -> Vec<(Tensor<B, 4>, Tensor<B, 4>)> {
        self.decoder.cross_keys_values(memory)
    }

    fn step(
        &self,
        tokens: &[u32],
        cache: &mut KvCache<B>,
        key_bias: Option<&Tensor<B, 4>>,
        device: &B::Device,
    ) -> Tensor<B, 2> {
        self.decoder.step(tokens, cache, key_bias, device)
    }
}

/// Pixel tensors `[b, channels, H, W]` from per-image planes (`channels · H · W` each).
pub fn pixel_batch<B: Backend>(
    images: &[&[f32]],
    channels: usize,
    height: usize,
    width: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    let mut data = Vec::with_capacity(images.len() * channels * height * width);
    for im in images {
        data.extend_from_slice(im);
    }
    Tensor::from_data(
        TensorData::new(data, [images.len(), channels, height, width]),
        device,
    )
}
