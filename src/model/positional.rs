//! Sinusoidal position encodings: no parameters, so lines wider (or outputs longer) than
//! seen in training still get well-defined positions.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Encodings for positions `start..start + len`, shape `[1, len, d]`.
pub fn sinusoidal<B: Backend>(
    start: usize,
    len: usize,
    d: usize,
    device: &B::Device,
) -> Tensor<B, 3> {
    let mut v = Vec::with_capacity(len * d);
    for p in start..start + len {
        push_encoding(p, d, &mut v);
    }
    Tensor::from_data(TensorData::new(v, [1, len, d]), device)
}

/// One encoding per row, each at its own position: shape `[rows, 1, d]`.
pub fn sinusoidal_at<B: Backend>(
    positions: &[usize],
    d: usize,
    device: &B::Device,
) -> Tensor<B, 3> {
    let mut v = Vec::with_capacity(positions.len() * d);
    for &p in positions {
        push_encoding(p, d, &mut v);
    }
    Tensor::from_data(TensorData::new(v, [positions.len(), 1, d]), device)
}

fn push_encoding(p: usize, d: usize, out: &mut Vec<f32>) {
    for i in 0..d {
        let freq = 1.0 / 10_000f32.powf((2 * (i / 2)) as f32 / d as f32);
        let a = p as f32 * freq;
        out.push(if i % 2 == 0 { a.sin() } else { a.cos() });
    }
}
