//! Autoregressive text decoder: pre-norm transformer layers with causal self-attention and
//! cross-attention to the image features. `forward` runs teacher-forced over a whole target
//! (training); `step` runs one position with the KV cache (generation).

use super::attention::{MultiHeadAttention, MASKED};
use super::config::ModelConfig;
use super::encoder::{Encoded, FeedForward};
use super::kv_cache::KvCache;
use super::positional::{sinusoidal, sinusoidal_at};
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    pub norm1: LayerNorm<B>,
    pub self_attn: MultiHeadAttention<B>,
    pub norm2: LayerNorm<B>,
    pub cross_attn: MultiHeadAttention<B>,
    pub norm3: LayerNorm<B>,
    pub ff: FeedForward<B>,
}

impl<B: Backend> DecoderLayer<B> {
    pub fn new(c: &ModelConfig, device: &B::Device) -> Self {
        let norm = || LayerNormConfig::new(c.d_model).init(device);
        DecoderLayer {
            norm1: norm(),
            self_attn: MultiHeadAttention::new(c.d_model, c.n_heads, device),
            norm2: norm(),
            cross_attn: MultiHeadAttention::new(c.d_model, c.n_heads, device),
            norm3: norm(),
            ff: FeedForward::new(c.d_model, c.ff_dim, device),
        }
    }
}

#[derive(Module, Debug)]
pub struct TextDecoder<B: Backend> {
    pub embed: Embedding<B>,
    pub layers: Vec<DecoderLayer<B>>,
    pub norm: LayerNorm<B>,
    pub head: Linear<B>,
}

impl<B: Backend> TextDecoder<B> {
    pub fn new(c: &ModelConfig, device: &B::Device) -> Self {
        TextDecoder {
            embed: EmbeddingConfig::new(c.vocab_size, c.d_model).init(device),
            layers: (0..c.decoder_layers)
                .map(|_| DecoderLayer::new(c, device))
                .collect(),
            norm: LayerNormConfig::new(c.d_model).init(device),
            head: LinearConfig::new(c.d_model, c.vocab_size).init(device),
        }
    }

    fn embed_at(&self, tokens: Tensor<B, 2, Int>, start: usize) -> Tensor<B, 3> {
        let x = self.embed.forward(tokens);
        let [b, t, d] = x.dims();
        let pos = sinusoidal::<B>(start, t, d, &x.device()).expand([b, t, d]);
        x + pos
    }

    /// Teacher-forced logits `[b, t, vocab]` for input tokens `[b, t]` (starting with `<bos>`).
    pub fn forward(&self, tokens: Tensor<B, 2, Int>, enc: &Encoded<B>) -> Tensor<B, 3> {
        let device = tokens.device();
        let t = tokens.dims()[1];
        let mut x = self.embed_at(tokens, 0);
        let causal = causal_bias::<B>(t, &device);
        for layer in &self.layers {
            let h = layer
                .self_attn
                .forward_self(layer.norm1.forward(x.clone()), Some(causal.clone()));
            x = x + h;
            let (k, v) = layer.cross_attn.keys_values(enc.memory.clone());
            let h =
                layer
                    .cross_attn
                    .attend(layer.norm2.forward(x.clone()), k, v, enc.key_bias.clone());
            x = x + h;
            x = x.clone() + layer.ff.forward(layer.norm3.forward(x));
        }
        self.head.forward(self.norm.forward(x))
    }

    /// Cross-attention keys/values of the memory for every layer (the prefill).
    pub fn cross_keys_values(&self, memory: &Tensor<B, 3>) -> Vec<(Tensor<B, 4>, Tensor<B, 4>)> {
        self.layers
            .iter()
            .map(|l| l.cross_attn.keys_values(memory.clone()))
            .collect()
    }

    /// One generation step: `tokens` `[b]`, each row at its position in the cache (rows that
    /// joined late have their own, [`KvCache::positions`]); returns logits `[b, vocab]`.
    pub fn step(
        &self,
        tokens: &[u32],
        cache: &mut KvCache<B>,
        key_bias: Option<&Tensor<B, 4>>,
        device: &B::Device,
    ) -> Tensor<B, 2> {
        let b = tokens.len();
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let tokens: Tensor<B, 2, Int> = Tensor::from_data(TensorData::new(ids, [b, 1]), device);
        let mut x = if cache.staggered() {
            let x = self.embed.forward(tokens);
            let d = x.dims()[2];
            x + sinusoidal_at::<B>(&cache.positions(), d, device)
        } else {
            self.embed_at(tokens, cache.len())
        };
        let self_bias = cache.self_bias(device);
        for (i, layer) in self.layers.iter().enumerate() {
            let h = layer.norm1.forward(x.clone());
            let (k, v) = layer.self_attn.keys_values(h.clone());
            let (k, v) = cache.append(i, k, v);
            x = x + layer.self_attn.attend(h, k, v, self_bias.clone());
            let c = &cache.layers[i];
            let h = layer.cross_attn.attend(
                layer.norm2.forward(x.clone()),
                c.cross_k.clone(),
                c.cross_v.clone(),
                key_bias.cloned(),
            );
            x = x + h;
            x = x.clone() + layer.ff.forward(layer.norm3.forward(x));
        }
        cache.advance();
        let logits = self.head.forward(self.norm.forward(x));
        let [b, _, v] = logits.dims();
        logits.reshape([b, v])
    }
}

/// `[1, 1, t, t]` additive mask: position i sees positions ≤ i.
pub fn causal_bias<B: Backend>(t: usize, device: &B::Device) -> Tensor<B, 4> {
    let mut m = Vec::with_capacity(t * t);
    for i in 0..t {
        m.extend((0..t).map(|j| if j <= i { 0.0f32 } else { MASKED }));
    }
    Tensor::from_data(TensorData::new(m, [1, 1, t, t]), device)
}
