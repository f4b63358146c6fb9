//! Multi-head scaled dot-product attention with separate query/key/value/output projections,
//! so keys and values can be computed once (cross-attention) or appended step by step
//! (self-attention with a KV cache). One module for both recognisers: the built-in model
//! scales the scores, TrOCR checkpoints scale the queries before the product (as
//! `transformers` does), and the two orders round differently, so each keeps its own.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Large negative score for masked positions (added before the softmax).
pub const MASKED: f32 = -1.0e9;

#[derive(Module, Debug)]
pub struct MultiHeadAttention<B: Backend> {
    pub query: Linear<B>,
    pub key: Linear<B>,
    pub value: Linear<B>,
    pub output: Linear<B>,
    n_heads: usize,
    /// Scale the queries by `1/√head_dim` before the product (TrOCR) rather than the scores.
    #[module(skip)]
    scale_queries: bool,
}

impl<B: Backend> MultiHeadAttention<B> {
    /// The built-in model's attention: `d_model` wide throughout, scores scaled.
    pub fn new(d_model: usize, n_heads: usize, device: &B::Device) -> Self {
        let lin = || LinearConfig::new(d_model, d_model).init(device);
        Self::from_parts([lin(), lin(), lin(), lin()], n_heads, false)
    }

    /// From loaded projections `[query, key, value, output]` (keys and values may read a
    /// wider input, as cross-attention over another model's states does).
    pub fn from_parts(parts: [Linear<B>; 4], n_heads: usize, scale_queries: bool) -> Self {
        let [query, key, value, output] = parts;
        MultiHeadAttention {
            query,
            key,
            value,
            output,
            n_heads,
            scale_queries,
        }
    }

    /// `[batch, len, d_model]` → `[batch, heads, len, head_dim]`.
    fn split_heads(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [b, l, d] = x.dims();
        x.reshape([b, l, self.n_heads, d / self.n_heads])
            .swap_dims(1, 2)
    }

    /// Keys and values of `x`, split into heads.
    pub fn keys_values(&self, x: Tensor<B, 3>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let k = self.split_heads(self.key.forward(x.clone()));
        let v = self.split_heads(self.value.forward(x));
        (k, v)
    }

    /// Attends queries from `x` `[b, lq, d]` over given keys/values `[b, h, lk, dh]`.
    /// `bias` is added to the scores: `[b, 1, 1 or lq, lk]` (0 = visible, [`MASKED`] = hidden).
    pub fn attend(
        &self,
        x: Tensor<B, 3>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        bias: Option<Tensor<B, 4>>,
    ) -> Tensor<B, 3> {
        let q = self.split_heads(self.query.forward(x));
        let [b, h, lq, dh] = q.dims();
        let lk = k.dims()[2];
        let mut scores = if self.scale_queries {
            q.mul_scalar((dh as f64).powf(-0.5))
                .matmul(k.swap_dims(2, 3))
        } else {
            q.matmul(k.swap_dims(2, 3))
                .mul_scalar(1.0 / (dh as f32).sqrt())
        };
        if let Some(bias) = bias {
            scores = scores + bias.expand([b, h, lq, lk]);
        }
        let weights = softmax(scores, 3);
        let out = weights.matmul(v).swap_dims(1, 2).reshape([b, lq, h * dh]);
        self.output.forward(out)
    }

    /// Self-attention over the whole sequence (training, encoder).
    pub fn forward_self(&self, x: Tensor<B, 3>, bias: Option<Tensor<B, 4>>) -> Tensor<B, 3> {
        let (k, v) = self.keys_values(x.clone());
        self.attend(x, k, v, bias)
    }
}
