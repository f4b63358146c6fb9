//! Greedy decoding with the KV cache, for any [`LineDecoder`]: the encoder output is
//! prefilled once (cross-attention keys/values), then each step feeds the previous token of
//! every line in the batch. What differs between models is data ([`Decoding`]). One
//! generation loop, stepped by the caller so it can time and stream every token.

use super::encoder::{padding_bias, Encoded};
use super::kv_cache::KvCache;
use super::line_model::{Compaction, Decoding, LineDecoder};
use super::ocr::OcrModel;
use super::tokenizer::{BOS, EOS, PAD};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::Int;
use burn::tensor::Tensor;

impl Decoding {
    /// The built-in model: `<bos>` first, `<eos>` or `<pad>` ends a line (not kept), scores
    /// kept for the confidence threshold.
    pub fn builtin(max_len: usize) -> Self {
        Decoding {
            start: BOS,
            stop: vec![EOS, PAD],
            keep_stop: false,
            max_len,
            compaction: Compaction::QuarterDone,
            scores: true,
        }
    }
}

pub struct Generator<'m, B: Backend, D: LineDecoder<B>> {
    decoder: &'m D,
    decoding: Decoding,
    cache: KvCache<B>,
    key_bias: Option<Tensor<B, 4>>,
    last: Vec<u32>,
    finished: Vec<bool>,
    outputs: Vec<Vec<u32>>,
    /// Most tokens each line may emit (what its crop can physically hold).
    limits: Vec<usize>,
    /// Sum of the log-probabilities of each line's chosen tokens, the stop token included.
    logprob: Vec<f32>,
    /// Lines stopped by their limit rather than by a stop token.
    hit_limit: Vec<bool>,
    /// Valid memory positions of each line (the rest of its cross-attention is padding).
    mem_lens: Vec<usize>,
    /// Original line index of each row still in the batch tensors.
    active: Vec<usize>,
    /// Line indices given back with [`Generator::release`], reused by [`Generator::join`].
    free: Vec<usize>,
    device: B::Device,
}

impl<'m, B: Backend> Generator<'m, B, OcrModel<B>> {
    /// The built-in model's decoding ([`Decoding::builtin`]) over `max_len` positions.
    pub fn new(model: &'m OcrModel<B>, enc: &Encoded<B>, max_len: usize) -> Self {
        Generator::start(model, enc, Decoding::builtin(max_len))
    }
}

impl<'m, B: Backend, D: LineDecoder<B>> Generator<'m, B, D> {
    /// Prefill: cross-attention keys/values for every decoder layer, and an empty
    /// self-attention cache of `decoding.max_len` positions.
    pub fn start(decoder: &'m D, enc: &Encoded<B>, decoding: Decoding) -> Self {
        let cross = decoder.cross_keys_values(&enc.memory);
        Generator::from_cross(decoder, cross, enc.lengths.clone(), decoding)
    }

    /// Prefill from cross-attention keys/values computed before (`[b, h, s, dh]` per decoder
    /// layer, e.g. from the prefix cache); `lengths`: each row's valid positions (the rest,
    /// up to `s`, is padding and hidden).
    pub fn from_cross(
        decoder: &'m D,
        cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
        lengths: Vec<usize>,
        decoding: Decoding,
    ) -> Self {
        Generator::with_capacity(decoder, cross, lengths, decoding.max_len, decoding)
    }

    /// [`Generator::from_cross`] with room for lines to [`Generator::join`] while others run:
    /// a KV cache of twice the decoding length, so a line that joins always finds
    /// `max_len` positions after a [`KvCache::rebase`].
    pub fn joinable(
        decoder: &'m D,
        cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
        lengths: Vec<usize>,
        decoding: Decoding,
    ) -> Self {
        let capacity = 2 * decoding.max_len;
        Generator::with_capacity(decoder, cross, lengths, capacity, decoding)
    }

    fn with_capacity(
        decoder: &'m D,
        cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
        lengths: Vec<usize>,
        capacity: usize,
        decoding: Decoding,
    ) -> Self {
        let [b, _, s, _] = cross[0].0.dims();
        assert_eq!(lengths.len(), b, "one length per row");
        let device = cross[0].0.device();
        Generator {
            decoder,
            cache: KvCache::new(cross, capacity, &device),
            key_bias: padding_bias::<B>(&lengths, s, &device),
            mem_lens: lengths,
            free: Vec::new(),
            last: vec![decoding.start; b],
            finished: vec![false; b],
            outputs: vec![Vec::new(); b],
            limits: vec![usize::MAX; b],
            logprob: vec![0.0; b],
            hit_limit: vec![false; b],
            active: (0..b).collect(),
            decoding,
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

    /// Adds lines to the running batch (continuous batching): `cross` and `lengths` as for
    /// [`Generator::joinable`], which this generator must have been made with, and each line's
    /// token limit. They are fed the start token at the next step, at their own position 0.
    /// Returns their line indices (reusing released ones).
    pub fn join(
        &mut self,
        cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
        lengths: Vec<usize>,
        limits: Vec<usize>,
    ) -> Vec<usize> {
        assert_eq!(lengths.len(), limits.len(), "one limit per line");
        assert!(
            self.cache.capacity() >= 2 * self.decoding.max_len,
            "a joinable generator"
        );
        let fresh = KvCache::new(cross, self.cache.capacity(), &self.device);
        if self.active.is_empty() {
            // Nothing running: the new lines are the whole batch.
            self.cache = fresh;
        } else {
            if self.cache.len() + self.decoding.max_len > self.cache.capacity() {
                self.cache.rebase();
            }
            self.cache.join(fresh);
        }
        let lines: Vec<usize> = lengths
            .iter()
            .zip(limits)
            .map(|(&len, limit)| self.new_line(len, limit))
            .collect();
        self.active.extend(&lines);
        self.mask_padding();
        lines
    }

    /// The cross-attention padding mask of the rows in the batch, from their memory lengths.
    fn mask_padding(&mut self) {
        let lens: Vec<usize> = self.active.iter().map(|&i| self.mem_lens[i]).collect();
        let s = self.cache.layers[0].cross_k.dims()[2];
        self.key_bias = padding_bias::<B>(&lens, s, &self.device);
    }

    /// A line index for a new line: a released one, else the next.
    fn new_line(&mut self, mem_len: usize, limit: usize) -> usize {
        let i = self.free.pop().unwrap_or(self.finished.len());
        if i == self.finished.len() {
            self.last.push(0);
            self.finished.push(false);
            self.outputs.push(Vec::new());
            self.limits.push(0);
            self.logprob.push(0.0);
            self.hit_limit.push(false);
            self.mem_lens.push(0);
        }
        self.last[i] = self.decoding.start;
        self.finished[i] = false;
        self.outputs[i].clear();
        self.limits[i] = limit;
        self.logprob[i] = 0.0;
        self.hit_limit[i] = false;
        self.mem_lens[i] = mem_len;
        i
    }

    /// Gives back a finished line's index (its output has been read) for a later
    /// [`Generator::join`], so a generator that runs for ever keeps its bookkeeping bounded.
    pub fn release(&mut self, i: usize) {
        assert!(
            self.finished[i] && !self.active.contains(&i),
            "only a finished line that left the batch"
        );
        self.outputs[i] = Vec::new();
        self.free.push(i);
    }

    /// Lines still in the batch tensors.
    pub fn active(&self) -> &[usize] {
        &self.active
    }

    /// Logits `[rows, vocab]` for feeding `tokens` (one per row still in the batch) at the next
    /// position (advances the cache).
    pub fn step_logits(&mut self, tokens: &[u32]) -> Tensor<B, 2> {
        self.decoder.step(
            tokens,
            &mut self.cache,
            self.key_bias.as_ref(),
            &self.device,
        )
    }

    /// One greedy step for every line. Returns, per line, the new token (`None` for a line that
    /// has finished or just stopped, unless stop tokens are kept), or `None` when all lines
    /// are done. Reading the argmax back to the host synchronises the device, so a token is
    /// final when this returns.
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
        let (ids, scores) = self.pick(logits);
        let mut out = vec![None; self.finished.len()];
        for (r, &id) in ids.iter().enumerate() {
            let i = self.active[r];
            out[i] = self.take(i, id, scores.get(r).copied().unwrap_or(0.0));
        }
        // A line that has used its `max_len` positions ends here (all of them together, unless
        // some joined late).
        let full = self.cache.len() >= self.cache.capacity();
        for (r, pos) in self.cache.positions().into_iter().enumerate() {
            if full || pos >= self.decoding.max_len {
                self.finished[self.active[r]] = true;
            }
        }
        self.compact();
        Some(out)
    }

    /// The greedy ids of the rows, and their log-probabilities when [`Decoding::scores`].
    fn pick(&self, logits: Tensor<B, 2>) -> (Vec<u32>, Vec<f32>) {
        let host_ids = |t: Tensor<B, 2, Int>| -> Vec<u32> {
            let ids: Vec<i64> = t.into_data().convert::<i64>().to_vec().expect("argmax ids");
            ids.into_iter().map(|id| id as u32).collect()
        };
        if !self.decoding.scores {
            return (host_ids(logits.argmax(1)), Vec::new());
        }
        let (best, ids) = log_softmax(logits, 1).max_dim_with_indices(1);
        let best: Vec<f32> = best
            .into_data()
            .convert::<f32>()
            .to_vec()
            .expect("log-probabilities");
        (host_ids(ids), best)
    }

    /// Records line `i`'s greedy `id`; returns the token the step reports for it.
    fn take(&mut self, i: usize, id: u32, score: f32) -> Option<u32> {
        self.logprob[i] += score;
        if self.decoding.stop.contains(&id) {
            self.finished[i] = true;
            self.last[i] = self.decoding.stop[0];
            if !self.decoding.keep_stop {
                return None;
            }
            self.outputs[i].push(id);
            return Some(id);
        }
        self.outputs[i].push(id);
        self.last[i] = id;
        if self.outputs[i].len() >= self.limits[i] {
            self.finished[i] = true;
            self.hit_limit[i] = true;
        }
        Some(id)
    }

    /// Drops finished rows from the batch tensors when [`Decoding::compaction`] says so.
    fn compact(&mut self) {
        let n = self.active.len();
        let done = self.active.iter().filter(|&&i| self.finished[i]).count();
        let due = match self.decoding.compaction {
            Compaction::EveryStop => done > 0,
            Compaction::QuarterDone => done > 0 && (done * 4 >= n || done == n),
        };
        if !due {
            return;
        }
        let keep: Vec<usize> = (0..n).filter(|&r| !self.finished[self.active[r]]).collect();
        self.active = keep.iter().map(|&r| self.active[r]).collect();
        if !keep.is_empty() {
            self.cache.select_rows(&keep, &self.device);
            self.mask_padding();
        }
    }

    /// Runs to the end and returns the token ids of every line.
    pub fn run(mut self) -> Vec<Vec<u32>> {
        while self.step().is_some() {}
        self.outputs
    }

    /// Which lines have finished (stopped, hit their limit or filled the cache).
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

    /// Line `i`'s confidence: the mean log-probability of its greedy tokens, the stop token
    /// included once it has been chosen (0 = certain).
    pub fn confidence(&self, i: usize) -> f32 {
        let steps = self.outputs[i].len() + usize::from(self.finished[i] && !self.hit_limit[i]);
        self.logprob[i] / steps.max(1) as f32
    }
}

impl<B: Backend> LineDecoder<B> for OcrModel<B> {
    fn cross_keys_values(&self, memory: &Tensor<B, 3>) -> Vec<(Tensor<B, 4>, Tensor<B, 4>)> {
        self.decoder.cross_keys_values(memory)
    }

    fn step(
        &self,
        tokens: &[u32],
        cache: &mut KvCache<B>,
        key_bias: Option<&Tensor<B, 4>>,
        device: &B::Device,
    ) -> Tensor<B, 2> {
        self.decoder.step(tokens, cache, key_bias, device)
    }
}
