//! The TrOCR text decoder: token embeddings (optionally scaled by √d), learned or sinusoidal
//! position embeddings, an optional LayerNorm on the embeddings, post-norm layers of causal
//! self-attention, cross-attention to the image and an MLP, then the output projection
//! (tied to the token embeddings unless the checkpoint stores its own). Generation runs one
//! position at a time over the shared preallocated [`KvCache`].

use super::config::DecoderConfig;
use super::layers::{attention, Mlp};
use crate::model::attention::MultiHeadAttention;
use crate::model::kv_cache::KvCache;
use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

/// PyTorch's `nn.LayerNorm` default.
const DECODER_LN_EPS: f64 = 1e-5;
/// Learned position tables start two rows in (a fairseq convention kept by TrOCR).
const LEARNED_OFFSET: usize = 2;

#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    pub self_attn: MultiHeadAttention<B>,
    pub self_norm: LayerNorm<B>,
    pub cross_attn: MultiHeadAttention<B>,
    pub cross_norm: LayerNorm<B>,
    pub mlp: Mlp<B>,
    pub final_norm: LayerNorm<B>,
}

impl<B: Backend> DecoderLayer<B> {
    fn new(c: &DecoderConfig, device: &B::Device) -> Self {
        let d = c.d_model;
        DecoderLayer {
            self_attn: attention(d, d, c.num_heads, true, device),
            self_norm: layer_norm(d, device),
            cross_attn: attention(d, c.cross_attention_hidden_size, c.num_heads, true, device),
            cross_norm: layer_norm(d, device),
            mlp: Mlp::new(d, c.ffn_dim, c.activation, device),
            final_norm: layer_norm(d, device),
        }
    }
}

fn layer_norm<B: Backend>(d: usize, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(d)
        .with_epsilon(DECODER_LN_EPS)
        .init(device)
}

#[derive(Module, Debug)]
pub struct TrocrDecoder<B: Backend> {
    /// `[vocab, d]`
    pub embed_tokens: Param<Tensor<B, 2>>,
    /// Learned table `[max_position_embeddings + 2, d]`; `None` = sinusoidal.
    pub learned_positions: Option<Param<Tensor<B, 2>>>,
    pub layernorm_embedding: Option<LayerNorm<B>>,
    pub layers: Vec<DecoderLayer<B>>,
    /// `[d, vocab]`, no bias.
    pub output_projection: Linear<B>,
    pub embed_scale: f64,
    pub pad_token_id: usize,
    pub d_model: usize,
}

impl<B: Backend> TrocrDecoder<B> {
    /// The decoder `c` describes, its weights still to load (`weights`; key map in
    /// `keymap` and docs/hf.md). A tied output projection loads from the token embeddings.
    pub fn new(c: &DecoderConfig, device: &B::Device) -> Self {
        let d = c.d_model;
        TrocrDecoder {
            embed_tokens: Initializer::Zeros.init([c.vocab_size, d], device),
            learned_positions: c.learned_positions.then(|| {
                Initializer::Zeros.init([c.max_position_embeddings + LEARNED_OFFSET, d], device)
            }),
            layernorm_embedding: c.layernorm_embedding.then(|| layer_norm(d, device)),
            layers: (0..c.num_layers)
                .map(|_| DecoderLayer::new(c, device))
                .collect(),
            output_projection: LinearConfig::new(d, c.vocab_size)
                .with_bias(false)
                .init(device),
            embed_scale: if c.scale_embedding {
                (d as f64).sqrt()
            } else {
                1.0
            },
            pad_token_id: c.pad_token_id as usize,
            d_model: d,
        }
    }

    /// Position embeddings `[b, 1, d]` of `tokens` at decoder position `pos` (0 = the start
    /// token).
    fn positions(&self, tokens: &[u32], pos: usize, device: &B::Device) -> Tensor<B, 3> {
        let b = tokens.len();
        let d = self.d_model;
        match &self.learned_positions {
            Some(table) => {
                let row = pos + LEARNED_OFFSET;
                table
                    .val()
                    .slice([row..row + 1, 0..d])
                    .reshape([1, 1, d])
                    .expand([b, 1, d])
            }
            None => {
                let mut v = Vec::with_capacity(b * d);
                for &t in tokens {
                    // fairseq positions: padding tokens sit at `pad` (a zero row); the others
                    // count from pad + 1.
                    let row = if t as usize == self.pad_token_id {
                        None
                    } else {
                        Some(self.pad_token_id + 1 + pos)
                    };
                    v.extend(sinusoidal_row(row, d));
                }
                Tensor::from_data(TensorData::new(v, [b, 1, d]), device)
            }
        }
    }

    /// Cross-attention keys/values of the encoder states for every layer (the prefill).
    pub fn cross_keys_values(&self, memory: &Tensor<B, 3>) -> Vec<(Tensor<B, 4>, Tensor<B, 4>)> {
        self.layers
            .iter()
            .map(|l| l.cross_attn.keys_values(memory.clone()))
            .collect()
    }

    /// One decoding step: `tokens` (one per row) at position `cache.len()`; returns the logits
    /// `[rows, vocab]` and advances the cache. `key_bias` hides padded encoder positions.
    pub fn step(
        &self,
        tokens: &[u32],
        cache: &mut KvCache<B>,
        key_bias: Option<&Tensor<B, 4>>,
        device: &B::Device,
    ) -> Tensor<B, 2> {
        // Its learned positions are read for one position per batch.
        assert!(
            !cache.staggered(),
            "TrOCR decodes a batch whose rows all started together"
        );
        let b = tokens.len();
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let ids: Tensor<B, 1, Int> = Tensor::from_data(TensorData::new(ids, [b]), device);
        let d = self.d_model;
        let x = self
            .embed_tokens
            .val()
            .select(0, ids)
            .reshape([b, 1, d])
            .mul_scalar(self.embed_scale);
        let mut x = x + self.positions(tokens, cache.len(), device);
        if let Some(ln) = &self.layernorm_embedding {
            x = ln.forward(x);
        }
        for (i, layer) in self.layers.iter().enumerate() {
            let (k, v) = layer.self_attn.keys_values(x.clone());
            let (k, v) = cache.append(i, k, v);
            let h = layer.self_attn.attend(x.clone(), k, v, None);
            x = layer.self_norm.forward(x + h);
            let c = &cache.layers[i];
            let h = layer.cross_attn.attend(
                x.clone(),
                c.cross_k.clone(),
                c.cross_v.clone(),
                key_bias.cloned(),
            );
            x = layer.cross_norm.forward(x + h);
            let h = layer.mlp.forward(x.clone());
            x = layer.final_norm.forward(x + h);
        }
        cache.advance();
        let logits = self.output_projection.forward(x);
        let v = logits.dims()[2];
        logits.reshape([b, v])
    }
}

/// One row of the TrOCR sinusoidal table (`None` = the zero row of padding): the first half
/// sines, the second half cosines, frequencies `10000^(-i / (half - 1))`, a zero column for an
/// odd width.
pub fn sinusoidal_row(row: Option<usize>, d: usize) -> Vec<f32> {
    let mut v = vec![0f32; d];
    let Some(pos) = row else {
        return v;
    };
    let half = d / 2;
    let step = (10_000f64).ln() / (half.max(2) - 1) as f64;
    for i in 0..half {
        // f32 like the reference table, which is built in float32.
        let freq = (-(i as f64) * step).exp() as f32;
        let a = pos as f32 * freq;
        v[i] = a.sin();
        v[half + i] = a.cos();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoidal_layout() {
        let r = sinusoidal_row(Some(0), 6);
        assert_eq!(r, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(sinusoidal_row(None, 4), vec![0.0; 4]);
        let r = sinusoidal_row(Some(3), 7);
        assert_eq!(r.len(), 7);
        assert_eq!(r[6], 0.0, "odd width: zero column");
        assert!((r[0] - 3f32.sin()).abs() < 1e-6);
        assert!((r[3] - 3f32.cos()).abs() < 1e-6);
    }
}
