//! The ViT / DeiT image encoder of a VisionEncoderDecoderModel: non-overlapping patches
//! projected linearly (the reference's stride-`patch` convolution, computed as one matrix
//! product), CLS token (and DeiT's distillation token) in front, learned position embeddings,
//! pre-norm transformer layers, a final LayerNorm. The output keeps every token (CLS and
//! distillation included): that is what the decoder cross-attends to.

use super::config::{EncoderConfig, EncoderKind};
use super::layers::{attention, Mlp};
use crate::model::attention::MultiHeadAttention;
use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

#[derive(Module, Debug)]
pub struct VitLayer<B: Backend> {
    pub norm1: LayerNorm<B>,
    pub attn: MultiHeadAttention<B>,
    pub norm2: LayerNorm<B>,
    pub mlp: Mlp<B>,
}

impl<B: Backend> VitLayer<B> {
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward_self(self.norm1.forward(x), None);
        x.clone() + self.mlp.forward(self.norm2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct VitEncoder<B: Backend> {
    /// Patch projection `[channels · ph · pw, hidden]`.
    pub patch: Linear<B>,
    /// `[1, 1, hidden]`
    pub cls_token: Param<Tensor<B, 3>>,
    /// DeiT only, `[1, 1, hidden]`.
    pub dist_token: Option<Param<Tensor<B, 3>>>,
    /// `[1, prefix + patches, hidden]`
    pub positions: Param<Tensor<B, 3>>,
    pub layers: Vec<VitLayer<B>>,
    pub norm: LayerNorm<B>,
    pub patch_size: [usize; 2],
    pub grid: [usize; 2],
    pub channels: usize,
}

impl<B: Backend> VitEncoder<B> {
    /// The encoder `c` describes, its weights still to load (`weights`; key map in
    /// `keymap` and docs/hf.md).
    pub fn new(c: &EncoderConfig, device: &B::Device) -> Self {
        let d = c.hidden_size;
        let [ph, pw] = c.patch_size;
        let ch = c.num_channels;
        let ln = || {
            LayerNormConfig::new(d)
                .with_epsilon(c.layer_norm_eps)
                .init(device)
        };
        let token = || Initializer::Zeros.init([1, 1, d], device);
        let layers = (0..c.num_layers)
            .map(|_| VitLayer {
                norm1: ln(),
                attn: attention(d, d, c.num_heads, c.qkv_bias, device),
                norm2: ln(),
                mlp: Mlp::new(d, c.intermediate_size, c.activation, device),
            })
            .collect();
        VitEncoder {
            // The stride-`patch` convolution as a matrix product (its kernel flattened by
            // `adapters::ConvAsLinear`).
            patch: LinearConfig::new(ch * ph * pw, d).init(device),
            cls_token: token(),
            dist_token: (c.kind == EncoderKind::Deit).then(token),
            positions: Initializer::Zeros.init([1, c.seq_len(), d], device),
            layers,
            norm: ln(),
            patch_size: c.patch_size,
            grid: c.grid(),
            channels: ch,
        }
    }

    /// `[b, channels, H, W]` → `[b, patches, channels · ph · pw]`, patches in row-major grid
    /// order. Pixels beyond the last whole patch are dropped, as the strided convolution does.
    fn patches(&self, pixels: Tensor<B, 4>) -> Tensor<B, 3> {
        let [b, c, _, _] = pixels.dims();
        let [ph, pw] = self.patch_size;
        let [gh, gw] = self.grid;
        let x = pixels.slice([0..b, 0..c, 0..gh * ph, 0..gw * pw]);
        // [b, c, gh, ph, gw, pw] → [b, gh, gw, c, ph, pw]
        let x: Tensor<B, 6> = x.reshape([b, c, gh, ph, gw, pw]);
        x.permute([0, 2, 4, 1, 3, 5])
            .reshape([b, gh * gw, c * ph * pw])
    }

    /// Last hidden state `[b, prefix + patches, hidden]` for normalised pixels
    /// `[b, channels, H, W]` (H, W = the configured image size).
    pub fn forward(&self, pixels: Tensor<B, 4>) -> Tensor<B, 3> {
        let b = pixels.dims()[0];
        let x = self.patch.forward(self.patches(pixels));
        let d = x.dims()[2];
        let mut parts = vec![self.cls_token.val().expand([b, 1, d])];
        if let Some(t) = &self.dist_token {
            parts.push(t.val().expand([b, 1, d]));
        }
        parts.push(x);
        let x = Tensor::cat(parts, 1);
        let s = x.dims()[1];
        let mut x = x + self.positions.val().expand([b, s, d]);
        for layer in &self.layers {
            x = layer.forward(x);
        }
        self.norm.forward(x)
    }
}
