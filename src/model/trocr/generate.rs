//! Greedy decoding with the KV cache, as `transformers`' `generate(num_beams=1,
//! do_sample=False)`: the first input is `decoder_start_token_id`; each step appends the
//! argmax; a line ends on any `eos_token_id` (kept in its ids, as `generate` returns it) or
//! when the sequence reaches `max_length` (start token included). Stepped by the caller so it
//! can time and stream every token; finished lines leave the batch tensors.

use super::config::GenerationSettings;
use super::model::TrocrModel;
use crate::model::kv_cache::KvCache;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

pub struct Generator<'m, B: Backend> {
    model: &'m TrocrModel<B>,
    cache: KvCache<B>,
    eos: Vec<u32>,
    last: Vec<u32>,
    finished: Vec<bool>,
    /// Generated ids per line, eos included when reached (the start token is not).
    outputs: Vec<Vec<u32>>,
    /// Original line index of each row still in the batch tensors.
    active: Vec<usize>,
    device: B::Device,
}

impl<'m, B: Backend> Generator<'m, B> {
    /// Prefill: cross-attention keys/values of `memory` `[b, s, d]` for every layer, and an
    /// empty self-attention cache for `max_new_tokens` positions.
    pub fn new(model: &'m TrocrModel<B>, memory: &Tensor<B, 3>, gen: &GenerationSettings) -> Self {
        let device = memory.device();
        let b = memory.dims()[0];
        let cross = model.decoder.cross_keys_values(memory);
        Generator {
            model,
            cache: KvCache::new(cross, gen.max_new_tokens(), &device),
            eos: gen.eos_token_ids.clone(),
            last: vec![gen.decoder_start_token_id; b],
            finished: vec![false; b],
            outputs: vec![Vec::new(); b],
            active: (0..b).collect(),
            device,
        }
    }

    /// Logits `[rows, vocab]` of the rows still active for their last tokens (advances the
    /// cache). For tests and tools; [`Generator::step`] uses it.
    pub fn step_logits(&mut self) -> Tensor<B, 2> {
        let tokens: Vec<u32> = self.active.iter().map(|&i| self.last[i]).collect();
        self.model
            .decoder
            .step(&tokens, &mut self.cache, &self.device)
    }

    /// One greedy step for every unfinished line. Returns, per line, the new token (`None` for
    /// a line already finished), or `None` when all lines are done. Reading the argmax back to
    /// the host synchronises the device, so a token is final when this returns.
    pub fn step(&mut self) -> Option<Vec<Option<u32>>> {
        if self.active.is_empty() {
            return None;
        }
        if self.cache.len() >= self.cache.capacity() {
            self.finished.iter_mut().for_each(|f| *f = true);
            self.active.clear();
            return None;
        }
        let logits = self.step_logits();
        let ids: Vec<i64> = logits
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .to_vec()
            .expect("argmax ids");
        let mut out = vec![None; self.finished.len()];
        for (r, &id) in ids.iter().enumerate() {
            let i = self.active[r];
            let id = id as u32;
            self.outputs[i].push(id);
            self.last[i] = id;
            out[i] = Some(id);
            if self.eos.contains(&id) || self.cache.len() >= self.cache.capacity() {
                self.finished[i] = true;
            }
        }
        let keep: Vec<usize> = (0..self.active.len())
            .filter(|&r| !self.finished[self.active[r]])
            .collect();
        if keep.len() < self.active.len() && !keep.is_empty() {
            self.cache.select_rows(&keep, &self.device);
        }
        self.active = keep.iter().map(|&r| self.active[r]).collect();
        Some(out)
    }

    /// Runs to the end; the generated ids of every line (eos included where reached).
    pub fn run(mut self) -> Vec<Vec<u32>> {
        while self.step().is_some() {}
        self.outputs
    }

    pub fn finished(&self) -> &[bool] {
        &self.finished
    }

    pub fn outputs(&self) -> &[Vec<u32>] {
        &self.outputs
    }

    /// Whether `id` ends a line (not part of the text).
    pub fn is_eos(&self, id: u32) -> bool {
        self.eos.contains(&id)
    }
}

/// Pixel tensors `[b, channels, H, W]` from per-image planes (`channels · H · W` each).
pub fn pixel_batch<B: Backend>(
    images: &[&[f32]],
    channels: usize,
    height: usize,
    width: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    let mut data = Vec::with_capacity(images.len() * channels * height * width);
    for im in images {
        data.extend_from_slice(im);
    }
    Tensor::from_data(
        TensorData::new(data, [images.len(), channels, height, width]),
        device,
    )
}
