//! Preallocated key/value cache for greedy decoding. Self-attention keys/values are written
//! in place at each step into tensors sized for `max_target_len`; cross-attention
//! keys/values of the image features are computed once per batch of lines.

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
}

impl<B: Backend> KvCache<B> {
    /// `cross`: per decoder layer, the cross-attention keys and values of the memory.
    pub fn new(
        cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
        capacity: usize,
        device: &B::Device,
    ) -> Self {
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
        }
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
    }

    /// Marks the current position as written (call once per step, after all layers).
    pub fn advance(&mut self) {
        self.len += 1;
    }
}
