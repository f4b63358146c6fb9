//! Building blocks shared by the ViT/DeiT encoder and the TrOCR decoder: the shared
//! multi-head attention (`model::attention`) shaped for a checkpoint, and the two-layer MLP
//! with its activation.

use super::config::Activation;
use crate::model::attention::MultiHeadAttention;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{gelu, gelu_approximate, relu, silu};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

pub fn activate<B: Backend, const D: usize>(a: Activation, x: Tensor<B, D>) -> Tensor<B, D> {
    match a {
        Activation::Gelu => gelu(x),
        Activation::GeluTanh => gelu_approximate(x),
        Activation::Relu => relu(x),
        Activation::Silu => silu(x),
    }
}

/// The shared attention (queries scaled before the product, as in the reference), shaped
/// for a checkpoint: `kv_dim` is the width keys and values are read from; the output
/// projection always has a bias. Weights come from the checkpoint (`weights`).
pub fn attention<B: Backend>(
    d: usize,
    kv_dim: usize,
    n_heads: usize,
    qkv_bias: bool,
    device: &B::Device,
) -> MultiHeadAttention<B> {
    let lin = |d_in: usize, bias: bool| LinearConfig::new(d_in, d).with_bias(bias).init(device);
    let parts = [
        lin(d, qkv_bias),
        lin(kv_dim, qkv_bias),
        lin(kv_dim, qkv_bias),
        lin(d, true),
    ];
    MultiHeadAttention::from_parts(parts, n_heads, true)
}

/// `fc2(act(fc1(x)))`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
    #[module(skip)]
    pub act: Activation,
}

impl<B: Backend> Mlp<B> {
    pub fn new(d: usize, hidden: usize, act: Activation, device: &B::Device) -> Self {
        Mlp {
            fc1: LinearConfig::new(d, hidden).init(device),
            fc2: LinearConfig::new(hidden, d).init(device),
            act,
        }
    }

    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.fc2.forward(activate(self.act, self.fc1.forward(x)))
    }
}
