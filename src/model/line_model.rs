//! What the greedy generator and the page loop need from a line recogniser, so one generator
//! (`generate`) and one page loop (`recognizer`) serve both the built-in model and Hugging
//! Face TrOCR checkpoints. A model differs from another in data ([`Decoding`]: start and stop
//! tokens, length, when finished rows leave the batch, whether scores are kept) and in the
//! few operations of [`LineDecoder`] and [`LineModel`].

use super::encoder::Encoded;
use super::kv_cache::KvCache;
use super::prefix_cache::Fingerprint;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use image::GrayImage;

/// The autoregressive half of a line model, one position at a time over a [`KvCache`].
pub trait LineDecoder<B: Backend> {
    /// Cross-attention keys and values of `memory` `[b, s, d]` for every decoder layer (the
    /// prefill).
    fn cross_keys_values(&self, memory: &Tensor<B, 3>) -> Vec<(Tensor<B, 4>, Tensor<B, 4>)>;

    /// Logits `[rows, vocab]` for `tokens` (one per row) at position `cache.len()`; advances
    /// the cache. `key_bias` `[rows, 1, 1, s]` hides padded memory positions.
    fn step(
        &self,
        tokens: &[u32],
        cache: &mut KvCache<B>,
        key_bias: Option<&Tensor<B, 4>>,
        device: &B::Device,
    ) -> Tensor<B, 2>;
}

/// When finished lines leave the batch tensors (a row select of the whole cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// As soon as any line stops (TrOCR: lines of a batch end at very different lengths).
    EveryStop,
    /// Once a quarter of the rows are done, or all of them (the built-in model: its pieces
    /// are a few tokens long, and a select every step costs more than it saves). Finished
    /// rows left in the batch keep being stepped; their line is already final.
    QuarterDone,
}

/// How a model decodes greedily: everything that differs between the two recognisers.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoding {
    /// First input of every line.
    pub start: u32,
    /// Any of these ends a line; a line that stays in the batch is fed the first one.
    pub stop: Vec<u32>,
    /// Whether a stop token is kept in the line's ids (as `transformers`' `generate` does).
    pub keep_stop: bool,
    /// Most decoder positions (the KV cache capacity); a line that fills it stops.
    pub max_len: usize,
    pub compaction: Compaction,
    /// Keep each line's summed log-probability (for a confidence threshold). Without it the
    /// argmax is taken on the raw logits, which `log_softmax` could tie after rounding.
    pub scores: bool,
}

/// The page-level half: how a crop becomes model input, how inputs are encoded together,
/// and how generated ids become text.
pub trait LineModel<B: Backend>: Sync {
    /// One prepared crop (normalised pixels).
    type Input: Sync;
    type Decoder: LineDecoder<B>;
    /// Per-line state of turning ids into text pieces.
    type Text: Default;
    type Error;

    /// The pieces a segment crop is read as, each with whether it continues the previous
    /// piece inside a word (no separator between them).
    fn prepare(&self, crop: GrayImage) -> Vec<(Self::Input, bool)>;

    /// Width in model pixels: inputs are encoded in batches of similar width.
    fn input_width(&self, input: &Self::Input) -> usize;

    /// The input's identity for the prefix cache: equal only for pixel-identical inputs.
    fn fingerprint(&self, input: &Self::Input) -> Fingerprint;

    /// Encoder positions of one input (its input tokens).
    fn input_tokens(&self, input: &Self::Input) -> usize;

    /// Most tokens the input can hold (`usize::MAX`: no bound but the decoding length).
    fn token_limit(&self, input: &Self::Input) -> usize;

    /// Whether all inputs are encoded before decoding starts, in width-sorted batches (inputs
    /// of different widths then pad little); else each decode batch is encoded just before it
    /// is decoded (one input size: nothing to sort, and the first tokens come sooner).
    fn encode_ahead(&self) -> bool;

    /// Encodes a batch; `lengths` are the valid memory positions per input.
    fn encode(&self, inputs: &[&Self::Input], device: &B::Device) -> Encoded<B>;

    fn decoder(&self) -> &Self::Decoder;

    fn decoding(&self) -> Decoding;

    /// `Some(threshold)`: a line is held until it has finished and dropped when it ran into
    /// its token limit or its mean log-probability is below the threshold. `None`: tokens
    /// stream as they are generated.
    fn min_confidence(&self) -> Option<f32>;

    /// The text `id` releases for its line (possibly empty); `last` releases the rest.
    fn token_text(&self, line: &mut Self::Text, id: u32, last: bool)
        -> Result<String, Self::Error>;

    /// Whether `id` stands for a character the vocabulary lacks.
    fn is_unknown(&self, id: u32) -> bool;
}
