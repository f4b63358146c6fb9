//! Greedy decoding with the KV cache: the encoder output is prefilled once (cross-attention
//! keys/values), then each step feeds the previous token of every line in the batch.
//! One generation loop, stepped by the caller so it can time and stream every token.

use super::encoder::Encoded;
use super::kv_cache::KvCache;
use super::ocr::OcrModel;
use super::tokenizer::{BOS, EOS, PAD};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burn::tensor::{Int, TensorData};

pub struct Generator<'m, B: Backend> {
    model: &'m OcrModel<B>,
    cache: KvCache<B>,
    key_bias: Option<Tensor<B, 4>>,
    last: Vec<u32>,
    finished: Vec<bool>,
    outputs: Vec<Vec<u32>>,
    /// Most tokens each line may emit (what its crop can physically hold).
    limits: Vec<usize>,
    /// Sum of the log-probabilities of each line's chosen tokens, `<eos>` included.
    logprob: Vec<f32>,
    /// Lines stopped by their limit rather than by `<eos>`.
    hit_limit: Vec<bool>,
    /// Original line index of each row still in the batch tensors.
    active: Vec<usize>,
    device: B::Device,
}

impl<'m, B: Backend> Generator<'m, B> {
    /// Prefill: cross-attention keys/values for every decoder layer, and an empty self-attention
    /// cache of `max_len` positions.
    pub fn new(model: &'m OcrModel<B>, enc: &Encoded<B>, max_len: usize) -> Self {
        let device = enc.memory.device();
        let b = enc.memory.dims()[0];
        let cross = model.decoder.cross_keys_values(&enc.memory);
        Generator {
            model,
            cache: KvCache::new(cross, max_len, &device),
            key_bias: enc.key_bias.clone(),
            last: vec![BOS; b],
            finished: vec![false; b],
            outputs: vec![Vec::new(); b],
            limits: vec![usize::MAX; b],
            logprob: vec![0.0; b],
            hit_limit: vec![false; b],
            active: (0..b).collect(),
            device,
        }
    }

    /// Caps each line's output at `limits[i]` tokens; a line that reaches its cap stops and is
    /// flagged ([`Self::hit_limit`]).
    pub fn with_limits(mut self, limits: Vec<usize>) -> Self {
        assert_eq!(limits.len(), self.limits.len(), "one limit per line");
        self.limits = limits;
        self
    }

    /// Logits `[rows, vocab]` for feeding `tokens` (one per row still in the batch) at the next
    /// position (advances the cache).
    pub fn step_logits(&mut self, tokens: &[u32]) -> Tensor<B, 2> {
        self.model.decoder.step(
            tokens,
            &mut self.cache,
            self.key_bias.as_ref(),
            &self.device,
        )
    }

    /// One greedy step for every line. Returns, per line, the new token (`None` for a line that
    /// has finished or just emitted `<eos>`), or `None` when all lines are done.
    /// Reading the argmax back to the host synchronises the device. Finished lines are dropped
    /// from the batch tensors once a quarter of the rows are done, so long lines do not keep
    /// paying for short ones.
    pub fn step(&mut self) -> Option<Vec<Option<u32>>> {
        if self.active.is_empty() {
            return None;
        }
        if self.cache.len() >= self.cache.capacity() {
            self.finished.iter_mut().for_each(|f| *f = true);
            self.active.clear();
            return None;
        }
        let tokens: Vec<u32> = self.active.iter().map(|&i| self.last[i]).collect();
        let logits = self.step_logits(&tokens);
        let (best, ids) = log_softmax(logits, 1).max_dim_with_indices(1);
        let ids: Vec<i64> = ids
            .into_data()
            .convert::<i64>()
            .to_vec()
            .expect("argmax ids");
        let best: Vec<f32> = best
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("log-probabilities");
        let mut out = vec![None; self.finished.len()];
        for (r, &id) in ids.iter().enumerate() {
            let i = self.active[r];
            let id = id as u32;
            self.logprob[i] += best[r];
            if id == EOS || id == PAD {
                self.finished[i] = true;
                self.last[i] = EOS;
            } else {
                self.outputs[i].push(id);
                self.last[i] = id;
                out[i] = Some(id);
                if self.outputs[i].len() >= self.limits[i] {
                    self.finished[i] = true;
                    self.hit_limit[i] = true;
                }
            }
        }
        let done = self.active.iter().filter(|&&i| self.finished[i]).count();
        if done > 0 && (done * 4 >= self.active.len() || done == self.active.len()) {
            let keep: Vec<usize> = (0..self.active.len())
                .filter(|&r| !self.finished[self.active[r]])
                .collect();
            if !keep.is_empty() {
                self.cache.select_rows(&keep, &self.device);
                if let Some(bias) = &self.key_bias {
                    let idx = Tensor::<B, 1, Int>::from_data(
                        TensorData::new(
                            keep.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                            [keep.len()],
                        ),
                        &self.device,
                    );
                    self.key_bias = Some(bias.clone().select(0, idx));
                }
            }
            self.active = keep.iter().map(|&r| self.active[r]).collect();
        }
        Some(out)
    }

    /// Runs to the end and returns the token ids of every line (without specials).
    pub fn run(mut self) -> Vec<Vec<u32>> {
        while self.step().is_some() {}
        self.outputs
    }

    /// Which lines have finished (emitted `<eos>` or hit the length limit).
    pub fn finished(&self) -> &[bool] {
        &self.finished
    }

    pub fn outputs(&self) -> &[Vec<u32>] {
        &self.outputs
    }

    /// Whether line `i` was stopped by its length limit (a runaway decode, not text).
    pub fn hit_limit(&self, i: usize) -> bool {
        self.hit_limit[i]
    }

    /// Line `i`'s confidence: the mean log-probability of its greedy tokens, `<eos>` included
    /// once it has been chosen (0 = certain).
    pub fn confidence(&self, i: usize) -> f32 {
        let steps = self.outputs[i].len() + usize::from(self.finished[i] && !self.hit_limit[i]);
        self.logprob[i] / steps.max(1) as f32
    }
}
