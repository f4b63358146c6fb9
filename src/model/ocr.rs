//! The whole line recogniser: vision encoder, text decoder and an auxiliary CTC head on the
//! encoder (used only as a training signal: it makes the encoder learn character positions
//! early, which speeds up training of the attention decoder).

use super::config::ModelConfig;
use super::decoder::TextDecoder;
use super::encoder::{Encoded, VisionEncoder};
use super::tokenizer::PAD;
use burn::module::Module;
use burn::nn::loss::CTCLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

#[derive(Module, Debug)]
pub struct OcrModel<B: Backend> {
    pub encoder: VisionEncoder<B>,
    pub decoder: TextDecoder<B>,
    pub ctc_head: Linear<B>,
}

/// A training batch already on the device.
pub struct LineBatch<B: Backend> {
    /// `[b, 1, 32, w]`, ink = 1, padding = 0.
    pub images: Tensor<B, 4>,
    pub widths: Vec<usize>,
    /// `<bos> t1 … tn <pad>…`, `[b, t]`
    pub decoder_input: Tensor<B, 2, Int>,
    /// `t1 … tn <eos> <pad>…`, `[b, t]`
    pub decoder_target: Tensor<B, 2, Int>,
    /// Number of non-pad targets (for the mean).
    pub target_tokens: usize,
    /// 1 where `decoder_target` is not padding, `[b, t]`.
    pub target_mask: Tensor<B, 2>,
    /// Character ids without specials, `[b, l]` padded with `<pad>`.
    pub ctc_targets: Tensor<B, 2, Int>,
    pub ctc_target_lengths: Vec<usize>,
}

/// Loss terms of one batch (scalars, still on the autodiff graph).
pub struct Losses<B: Backend> {
    pub decoder: Tensor<B, 1>,
    pub ctc: Tensor<B, 1>,
}

impl<B: Backend> OcrModel<B> {
    pub fn new(c: &ModelConfig, device: &B::Device) -> Self {
        OcrModel {
            encoder: VisionEncoder::new(c, device),
            decoder: TextDecoder::new(c, device),
            ctc_head: LinearConfig::new(c.d_model, c.vocab_size).init(device),
        }
    }

    pub fn encode(&self, images: Tensor<B, 4>, widths: &[usize]) -> Encoded<B> {
        self.encoder.forward(images, widths)
    }

    pub fn losses(&self, batch: &LineBatch<B>) -> Losses<B> {
        let device = batch.images.device();
        let enc = self.encode(batch.images.clone(), &batch.widths);

        // Decoder: token-level cross-entropy, padding ignored.
        let logits = self.decoder.forward(batch.decoder_input.clone(), &enc);
        let logp = log_softmax(logits, 2);
        let picked = logp
            .gather(2, batch.decoder_target.clone().unsqueeze_dim::<3>(2))
            .squeeze_dim::<2>(2);
        let decoder = (picked * batch.target_mask.clone())
            .sum()
            .neg()
            .div_scalar(batch.target_tokens.max(1) as f32);

        // CTC on the encoder features, blank = <pad>.
        let ctc_logp = log_softmax(self.ctc_head.forward(enc.memory.clone()), 2).swap_dims(0, 1);
        let ints = |v: &[usize]| {
            Tensor::<B, 1, Int>::from_data(
                burn::tensor::TensorData::new(
                    v.iter().map(|&x| x as i64).collect::<Vec<_>>(),
                    [v.len()],
                ),
                &device,
            )
        };
        // Per line, divided by its target length (at least 1: a crop without text has an
        // empty target), then averaged: PyTorch's "mean" reduction without the division by 0.
        let per_line = CTCLossConfig::new()
            .with_blank(PAD as usize)
            .with_zero_infinity(true)
            .init()
            .forward(
                ctc_logp,
                batch.ctc_targets.clone(),
                ints(&enc.lengths),
                ints(&batch.ctc_target_lengths),
            );
        let lengths: Vec<f32> = batch
            .ctc_target_lengths
            .iter()
            .map(|&l| l.max(1) as f32)
            .collect();
        let n = lengths.len();
        let ctc = per_line
            .div(Tensor::from_data(
                burn::tensor::TensorData::new(lengths, [n]),
                &device,
            ))
            .mean();
        Losses { decoder, ctc }
    }
}
