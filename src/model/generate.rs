//! Greedy decoding with the KV cache, for any [`LineDecoder`]: the encoder output is
//! prefilled once (cross-attention keys/values), then each step feeds the previous token of
//! every line in the batch. What differs between models is data ([`Decoding`]). One
//! generation loop, stepped by the caller so it can time and stream every token.

use super::encoder::Encoded;
use super::kv_cache::KvCache;
use super::line_model::{Compaction, Decoding, LineDecoder};
use super::ocr::OcrModel;
use super::tokenizer::{BOS, EOS, PAD};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use burn::tensor::{Int, TensorData};

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
    /// Original line index of each row still in the batch tensors.
    active: Vec<usize>,
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
        Generator::from_cross(decoder, cross, enc.key_bias.clone(), decoding)
    }

    /// Prefill from cross-attention keys/values computed before (`[b, h, s, dh]` per decoder
    /// layer, e.g. from the prefix cache); `key_bias` `[b, 1, 1, s]` hides padded positions.
    pub fn from_cross(
        decoder: &'m D,
        cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
        key_bias: Option<Tensor<B, 4>>,
        decoding: Decoding,
    ) -> Self {
        let device = cross[0].0.device();
        let b = cross[0].0.dims()[0];
        Generator {
            decoder,
            cache: KvCache::new(cross, decoding.max_len, &device),
            key_bias,
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
        if self.cache.len() >= self.cache.capacity() {
            // Nothing more fits: every line still going ends here.
            for &i in &self.active {
                self.finished[i] = true;
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
