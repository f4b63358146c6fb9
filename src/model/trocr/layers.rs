//! Building blocks shared by the ViT/DeiT encoder and the TrOCR decoder: multi-head
//! attention with separate query/key/value/output projections (keys and values of a
//! different width for cross-attention), and the two-layer MLP with its activation.

use super::config::Activation;
use super::tensors::TensorFile;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{gelu, gelu_approximate, relu, silu, softmax};
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

#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    pub q: Linear<B>,
    pub k: Linear<B>,
    pub v: Linear<B>,
    pub o: Linear<B>,
    pub n_heads: usize,
}

/// Hugging Face names of an attention block's four projections.
pub struct AttentionNames<'a> {
    pub q: &'a str,
    pub k: &'a str,
    pub v: &'a str,
    pub o: &'a str,
}

impl<B: Backend> Attention<B> {
    /// Loads `{prefix}.{q,k,v,o names}`; `kv_dim` is the width keys and values are read from.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        w: &mut TensorFile,
        prefix: &str,
        names: &AttentionNames,
        d: usize,
        kv_dim: usize,
        n_heads: usize,
        qkv_bias: bool,
        device: &B::Device,
    ) -> Self {
        Attention {
            q: w.linear(&format!("{prefix}.{}", names.q), d, d, qkv_bias, device),
            k: w.linear(
                &format!("{prefix}.{}", names.k),
                kv_dim,
                d,
                qkv_bias,
                device,
            ),
            v: w.linear(
                &format!("{prefix}.{}", names.v),
                kv_dim,
                d,
                qkv_bias,
                device,
            ),
            o: w.linear(&format!("{prefix}.{}", names.o), d, d, true, device),
            n_heads,
        }
    }

    /// `[b, l, d]` → `[b, heads, l, d / heads]`.
    fn split(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [b, l, d] = x.dims();
        x.reshape([b, l, self.n_heads, d / self.n_heads])
            .swap_dims(1, 2)
    }

    /// Keys and values of `x` `[b, l, kv_dim]`, split into heads.
    pub fn keys_values(&self, x: Tensor<B, 3>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        (
            self.split(self.k.forward(x.clone())),
            self.split(self.v.forward(x)),
        )
    }

    /// Queries from `x` `[b, lq, d]` over keys/values `[b, h, lk, dh]`, no mask (the encoder
    /// sees every patch; a decoder step sees every cached position).
    pub fn attend(&self, x: Tensor<B, 3>, k: Tensor<B, 4>, v: Tensor<B, 4>) -> Tensor<B, 3> {
        let q = self.split(self.q.forward(x));
        let [b, h, lq, dh] = q.dims();
        // Scaled like the reference (queries before the product).
        let q = q.mul_scalar((dh as f64).powf(-0.5));
        let weights = softmax(q.matmul(k.swap_dims(2, 3)), 3);
        let out = weights.matmul(v).swap_dims(1, 2).reshape([b, lq, h * dh]);
        self.o.forward(out)
    }

    pub fn forward_self(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let (k, v) = self.keys_values(x.clone());
        self.attend(x, k, v)
    }
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
