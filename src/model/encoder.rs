//! Vision encoder: a convolutional stem that reduces a 32-pixel-high line to one row of
//! features every 4 pixels, then pre-norm transformer layers. Padding columns of a batch
//! are zeroed after every convolution and masked in attention, so a line encodes the same
//! alone or in a batch.

use super::attention::{MultiHeadAttention, MASKED};
use super::config::ModelConfig;
use super::positional::sinusoidal;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Position-wise feed-forward block.
#[derive(Module, Debug)]
pub struct FeedForward<B: Backend> {
    pub up: Linear<B>,
    pub down: Linear<B>,
}

impl<B: Backend> FeedForward<B> {
    pub fn new(d: usize, ff: usize, device: &B::Device) -> Self {
        FeedForward {
            up: LinearConfig::new(d, ff).init(device),
            down: LinearConfig::new(ff, d).init(device),
        }
    }
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.down.forward(gelu(self.up.forward(x)))
    }
}

#[derive(Module, Debug)]
pub struct ConvStem<B: Backend> {
    pub conv1: Conv2d<B>,
    pub conv2: Conv2d<B>,
    pub conv3: Conv2d<B>,
    pub conv4: Conv2d<B>,
    /// Two remaining rows × channels → d_model.
    pub proj: Linear<B>,
    /// LayerNorm of the projected features (`config.stem_norm`, with He-initialised convs):
    /// without both, the image-dependent part of the encoder output starts ~500× smaller than
    /// the position encodings, and training sits on a language-model plateau for ~700 steps
    /// before the encoder starts to read.
    pub norm: Option<LayerNorm<B>>,
}

impl<B: Backend> ConvStem<B> {
    pub fn new(c: &ModelConfig, device: &B::Device) -> Self {
        let [c1, c2, c3, c4] = c.stem_channels;
        // With `stem_norm` (the v2 recipe) the convolutions also get He initialisation, which
        // keeps activation magnitudes through the GELU stack (burn's default shrinks them layer
        // by layer until the features barely depend on the image).
        let conv = |i: usize, o: usize, stride: [usize; 2]| {
            let cfg = Conv2dConfig::new([i, o], [3, 3])
                .with_stride(stride)
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
            let cfg = if c.stem_norm {
                cfg.with_initializer(Initializer::KaimingNormal {
                    gain: std::f64::consts::SQRT_2,
                    fan_out_only: false,
                })
            } else {
                cfg
            };
            cfg.init(device)
        };
        ConvStem {
            conv1: conv(1, c1, [2, 2]),
            conv2: conv(c1, c2, [2, 2]),
            conv3: conv(c2, c3, [2, 1]),
            conv4: conv(c3, c4, [2, 1]),
            proj: LinearConfig::new(c4 * 2, c.d_model).init(device),
            norm: c
                .stem_norm
                .then(|| LayerNormConfig::new(c.d_model).init(device)),
        }
    }

    /// `images`: `[b, 1, 32, w]`, ink = 1, background and padding = 0;
    /// `widths`: valid width per line. Returns `[b, w/4, d]`.
    pub fn forward(&self, images: Tensor<B, 4>, widths: &[usize]) -> Tensor<B, 3> {
        let device = images.device();
        let half: Vec<usize> = widths.iter().map(|w| w.div_ceil(2)).collect();
        let quarter: Vec<usize> = half.iter().map(|w| w.div_ceil(2)).collect();
        let x = masked(gelu(self.conv1.forward(images)), &half, &device);
        let x = masked(gelu(self.conv2.forward(x)), &quarter, &device);
        let x = masked(gelu(self.conv3.forward(x)), &quarter, &device);
        let x = masked(gelu(self.conv4.forward(x)), &quarter, &device);
        let [b, c, h, w] = x.dims();
        let x = x.permute([0, 3, 1, 2]).reshape([b, w, c * h]);
        let x = self.proj.forward(x);
        match &self.norm {
            Some(n) => n.forward(x),
            None => x,
        }
    }
}

/// Zeroes the columns at or beyond each line's valid width.
fn masked<B: Backend>(x: Tensor<B, 4>, valid: &[usize], device: &B::Device) -> Tensor<B, 4> {
    let [b, c, h, w] = x.dims();
    if valid.iter().all(|&v| v >= w) {
        return x;
    }
    let mut m = Vec::with_capacity(b * w);
    for &v in valid {
        m.extend((0..w).map(|j| if j < v { 1.0f32 } else { 0.0 }));
    }
    let mask: Tensor<B, 4> = Tensor::from_data(TensorData::new(m, [b, 1, 1, w]), device);
    x * mask.expand([b, c, h, w])
}

#[derive(Module, Debug)]
pub struct EncoderLayer<B: Backend> {
    pub norm1: LayerNorm<B>,
    pub attn: MultiHeadAttention<B>,
    pub norm2: LayerNorm<B>,
    pub ff: FeedForward<B>,
}

impl<B: Backend> EncoderLayer<B> {
    pub fn new(c: &ModelConfig, device: &B::Device) -> Self {
        EncoderLayer {
            norm1: LayerNormConfig::new(c.d_model).init(device),
            attn: MultiHeadAttention::new(c.d_model, c.n_heads, device),
            norm2: LayerNormConfig::new(c.d_model).init(device),
            ff: FeedForward::new(c.d_model, c.ff_dim, device),
        }
    }
    pub fn forward(&self, x: Tensor<B, 3>, bias: Option<Tensor<B, 4>>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward_self(self.norm1.forward(x), bias);
        x.clone() + self.ff.forward(self.norm2.forward(x))
    }
}

/// Encoder output: features plus what the decoder needs to ignore padding.
pub struct Encoded<B: Backend> {
    /// `[b, s, d]`
    pub memory: Tensor<B, 3>,
    /// Valid positions per line.
    pub lengths: Vec<usize>,
    /// `[b, 1, 1, s]`: 0 for valid positions, [`MASKED`] for padding; `None` without padding.
    pub key_bias: Option<Tensor<B, 4>>,
}

#[derive(Module, Debug)]
pub struct VisionEncoder<B: Backend> {
    pub stem: ConvStem<B>,
    pub layers: Vec<EncoderLayer<B>>,
    pub norm: LayerNorm<B>,
}

impl<B: Backend> VisionEncoder<B> {
    pub fn new(c: &ModelConfig, device: &B::Device) -> Self {
        VisionEncoder {
            stem: ConvStem::new(c, device),
            layers: (0..c.encoder_layers)
                .map(|_| EncoderLayer::new(c, device))
                .collect(),
            norm: LayerNormConfig::new(c.d_model).init(device),
        }
    }

    pub fn forward(&self, images: Tensor<B, 4>, widths: &[usize]) -> Encoded<B> {
        let device = images.device();
        let x = self.stem.forward(images, widths);
        let [b, s, d] = x.dims();
        let x = x + sinusoidal::<B>(0, s, d, &device).expand([b, s, d]);
        let lengths: Vec<usize> = widths
            .iter()
            .map(|w| w.div_ceil(2).div_ceil(2).min(s))
            .collect();
        let key_bias = padding_bias::<B>(&lengths, s, &device);
        let mut x = x;
        for layer in &self.layers {
            x = layer.forward(x, key_bias.clone());
        }
        Encoded {
            memory: self.norm.forward(x),
            lengths,
            key_bias,
        }
    }
}

/// `[b, 1, 1, s]` additive mask hiding positions at or beyond each length.
pub fn padding_bias<B: Backend>(
    lengths: &[usize],
    s: usize,
    device: &B::Device,
) -> Option<Tensor<B, 4>> {
    if lengths.iter().all(|&l| l >= s) {
        return None;
    }
    let mut m = Vec::with_capacity(lengths.len() * s);
    for &l in lengths {
        m.extend((0..s).map(|j| if j < l { 0.0f32 } else { MASKED }));
    }
    Some(Tensor::from_data(
        TensorData::new(m, [lengths.len(), 1, 1, s]),
        device,
    ))
}
