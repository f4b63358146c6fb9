//! The whole VisionEncoderDecoderModel: encoder, the optional `enc_to_dec_proj`, decoder.

use super::config::HfConfig;
use super::decoder::TrocrDecoder;
use super::vit::VitEncoder;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

#[derive(Module, Debug)]
pub struct TrocrModel<B: Backend> {
    pub encoder: VitEncoder<B>,
    /// Encoder width → decoder width, when they differ (`enc_to_dec_proj`).
    pub enc_to_dec: Option<Linear<B>>,
    pub decoder: TrocrDecoder<B>,
}

impl<B: Backend> TrocrModel<B> {
    /// The module tree `c` describes, its weights still to load (`weights::load_into`).
    pub fn new(c: &HfConfig, device: &B::Device) -> Self {
        TrocrModel {
            encoder: VitEncoder::new(&c.encoder, device),
            enc_to_dec: c
                .enc_to_dec_proj
                .then(|| LinearConfig::new(c.encoder.hidden_size, c.decoder.d_model).init(device)),
            decoder: TrocrDecoder::new(&c.decoder, device),
        }
    }

    /// The encoder's last hidden state `[b, s, encoder width]` (what `transformers` returns
    /// as `encoder_outputs.last_hidden_state`).
    pub fn encoder_hidden(&self, pixels: Tensor<B, 4>) -> Tensor<B, 3> {
        self.encoder.forward(pixels)
    }

    /// What the decoder cross-attends to: the hidden state, projected when needed.
    pub fn memory(&self, pixels: Tensor<B, 4>) -> Tensor<B, 3> {
        let h = self.encoder_hidden(pixels);
        match &self.enc_to_dec {
            Some(p) => p.forward(h),
            None => h,
        }
    }
}
