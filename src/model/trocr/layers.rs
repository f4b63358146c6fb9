//! Building blocks shared by the ViT/DeiT encoder and the TrOCR decoder: loading the shared
//! multi-head attention (`model::attention`) from checkpoint names, and the two-layer MLP
//! with its activation.

use super::config::Activation;
use super::tensors::TensorFile;
use crate::model::attention::MultiHeadAttention;
use burn::module::Module;
use burn::nn::Linear;
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

/// Hugging Face names of an attention block's four projections.
pub struct AttentionNames<'a> {
    pub q: &'a str,
    pub k: &'a str,
    pub v: &'a str,
    pub o: &'a str,
}

/// Loads `{prefix}.{q,k,v,o names}` as the shared attention (queries scaled before the
/// product, as in the reference); `kv_dim` is the width keys and values are read from.
#[allow(clippy::too_many_arguments)]
pub fn load_attention<B: Backend>(
    w: &mut TensorFile,
    prefix: &str,
    names: &AttentionNames,
    d: usize,
    kv_dim: usize,
    n_heads: usize,
    qkv_bias: bool,
    device: &B::Device,
) -> MultiHeadAttention<B> {
    let mut lin = |name: &str, d_in: usize, bias: bool| {
        w.linear(&format!("{prefix}.{name}"), d_in, d, bias, device)
    };
    let parts = [
        lin(names.q, d, qkv_bias),
        lin(names.k, kv_dim, qkv_bias),
        lin(names.v, kv_dim, qkv_bias),
        lin(names.o, d, true),
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
    pub fn load(
        w: &mut TensorFile,
        fc1: &str,
        fc2: &str,
        d: usize,
        hidden: usize,
        act: Activation,
        device: &B::Device,
    ) -> Self {
        Mlp {
            fc1: w.linear(fc1, d, hidden, true, device),
            fc2: w.linear(fc2, hidden, d, true, device),
            act,
        }
    }

    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.fc2.forward(activate(self.act, self.fc1.forward(x)))
    }
}
