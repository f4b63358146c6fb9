//! Preallocated key/value cache for greedy decoding. Self-attention keys/values are written
//! in place at each step into tensors sized for `max_target_len`; cross-attention
//! keys/values of the image features are computed once per batch of lines.
//!
//! Rows may join a running batch (continuous batching): all rows write the same slot at each
//! step, so a row that joined at slot `s` has its first position there. Its earlier slots are
//! hidden from its self-attention ([`KvCache::self_bias`]) and its position is `len - s`
//! ([`KvCache::positions`]). Rows that all started together (the usual case) need neither.

use super::attention::MASKED;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};

pub struct LayerCache<B: Backend> {
    /// `[batch, heads, capacity, head_dim]`
    self_k: Tensor<B, 4>,
    self_v: Tensor<B, 4>,
    /// `[batch, heads, memory_len, head_dim]`, fixed for the whole generation.
    pub cross_k: Tensor<B, 4>,
    pub cross_v: Tensor<B, 4>,
}

pub struct KvCache<B: Backend> {
    pub layers: Vec<LayerCache<B>>,
    /// Number of positions already written.
    len: usize,
    capacity: usize,
    /// The slot each row's first position was written at.
    starts: Vec<usize>,
}

impl<B: Backend> KvCache<B> {
    /// `cross`: per decoder layer, the cross-attention keys and values of the memory.
    pub fn new(
        cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
        capacity: usize,
        device: &B::Device,
    ) -> Self {
        let rows = cross.first().map_or(0, |(k, _)| k.dims()[0]);
        let layers = cross
            .into_iter()
            .map(|(cross_k, cross_v)| {
                let [b, h, _, dh] = cross_k.dims();
                LayerCache {
                    self_k: Tensor::zeros([b, h, capacity, dh], device),
                    self_v: Tensor::zeros([b, h, capacity, dh], device),
                    cross_k,
                    cross_v,
                }
            })
            .collect();
        KvCache {
            layers,
            len: 0,
            capacity,
            starts: vec![0; rows],
        }
    }

    /// Whether some row joined after the others (its positions and mask differ).
    pub fn staggered(&self) -> bool {
        self.starts.iter().any(|&s| s > 0)
    }

    /// The position each row is fed at next (`len` for rows that started together).
    pub fn positions(&self) -> Vec<usize> {
        self.starts.iter().map(|&s| self.len - s).collect()
    }

    /// `[rows, 1, 1, len + 1]`: hides, from the step about to be written, the slots before each
    /// row joined; `None` when no row joined late.
    pub fn self_bias(&self, device: &B::Device) -> Option<Tensor<B, 4>> {
        if !self.staggered() {
            return None;
        }
        let slots = self.len + 1;
        let mut m = Vec::with_capacity(self.starts.len() * slots);
        for &s in &self.starts {
            m.extend((0..slots).map(|j| if j < s { MASKED } else { 0.0 }));
        }
        let rows = self.starts.len();
        Some(Tensor::from_data(
            TensorData::new(m, [rows, 1, 1, slots]),
            device,
        ))
    }

    /// Adds the rows of `fresh` (a new cache of the same capacity with nothing written yet);
    /// they start at the current slot. Cross-attention keys/values of both are padded with
    /// zeros to the longer memory (the caller masks the padding).
    pub fn join(&mut self, fresh: KvCache<B>) {
        assert!(fresh.is_empty() && fresh.capacity == self.capacity);
        for (c, f) in self.layers.iter_mut().zip(fresh.layers) {
            let s = c.cross_k.dims()[2].max(f.cross_k.dims()[2]);
            c.self_k = Tensor::cat(vec![c.self_k.clone(), f.self_k], 0);
            c.self_v = Tensor::cat(vec![c.self_v.clone(), f.self_v], 0);
            c.cross_k = Tensor::cat(
                vec![
                    pad_positions(c.cross_k.clone(), s),
                    pad_positions(f.cross_k, s),
                ],
                0,
            );
            c.cross_v = Tensor::cat(
                vec![
                    pad_positions(c.cross_v.clone(), s),
                    pad_positions(f.cross_v, s),
                ],
                0,
            );
        }
        let at = self.len;
        self.starts.extend(fresh.starts.iter().map(|_| at));
    }

    /// Drops the slots before the earliest row's start, so rows that join later find room:
    /// every row then keeps all its positions, and `len` falls by that many.
    pub fn rebase(&mut self) {
        let m = self.starts.iter().copied().min().unwrap_or(self.len);
        if m == 0 {
            return;
        }
        for c in &mut self.layers {
            let [b, h, cap, dh] = c.self_k.dims();
            let device = c.self_k.device();
            let shift = |t: Tensor<B, 4>| {
                Tensor::cat(
                    vec![
                        t.slice([0..b, 0..h, m..cap, 0..dh]),
                        Tensor::zeros([b, h, m, dh], &device),
                    ],
                    2,
                )
            };
            c.self_k = shift(c.self_k.clone());
            c.self_v = shift(c.self_v.clone());
        }
        self.len -= m;
        self.starts.iter_mut().for_each(|s| *s -= m);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes one step's key/value `[b, h, 1, dh]` of `layer` at the current position and
    /// returns views of all positions so far.
    pub fn append(
        &mut self,
        layer: usize,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        assert!(
            self.len < self.capacity,
            "KV cache full ({})",
            self.capacity
        );
        let [b, h, _, dh] = k.dims();
        let pos = self.len;
        let c = &mut self.layers[layer];
        let slot = [0..b, 0..h, pos..pos + 1, 0..dh];
        c.self_k = c.self_k.clone().slice_assign(slot.clone(), k);
        c.self_v = c.self_v.clone().slice_assign(slot, v);
        let view = [0..b, 0..h, 0..pos + 1, 0..dh];
        (
            c.self_k.clone().slice(view.clone()),
            c.self_v.clone().slice(view),
        )
    }

    /// Keeps only the given batch rows (finished lines leave the batch).
    pub fn select_rows(&mut self, rows: &[usize], device: &B::Device) {
        let idx = Tensor::<B, 1, Int>::from_data(
            TensorData::new(
                rows.iter().map(|&r| r as i64).collect::<Vec<_>>(),
                [rows.len()],
            ),
            device,
        );
        for c in &mut self.layers {
            c.self_k = c.self_k.clone().select(0, idx.clone());
            c.self_v = c.self_v.clone().select(0, idx.clone());
            c.cross_k = c.cross_k.clone().select(0, idx.clone());
            c.cross_v = c.cross_v.clone().select(0, idx.clone());
        }
        self.starts = rows.iter().map(|&r| self.starts[r]).collect();
    }

    /// Marks the current position as written (call once per step, after all layers).
    pub fn advance(&mut self) {
        self.len += 1;
    }
}

/// Keys or values `[b, h, l, dh]` padded with zeros to `s` positions (the padding is masked
/// by the caller), so rows of different memory lengths stack into one batch.
pub fn pad_positions<B: Backend>(t: Tensor<B, 4>, s: usize) -> Tensor<B, 4> {
    let [b, h, l, dh] = t.dims();
    if l == s {
        return t;
    }
    let device = t.device();
    Tensor::cat(vec![t, Tensor::zeros([b, h, s - l, dh], &device)], 2)
}
