//! Reading `model.safetensors`: every tensor converted to f32 on the host (F32, F16, BF16 and
//! F64 files load the same way), then handed out by name, with its shape checked, while the
//! module tree is built. What was never asked for is reported as unused.

use super::error::HfError;
use burn::module::Param;
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Tensors that checkpoints carry but inference does not use, skipped by name:
/// the ViT/DeiT pooler (VisionEncoderDecoderModel reads the last hidden state, not the
/// pooled output) and the placeholder buffer of old sinusoidal position embeddings.
pub const NOT_NEEDED: &[&str] = &[
    "encoder.pooler.dense.weight",
    "encoder.pooler.dense.bias",
    "decoder.model.decoder.embed_positions._float_tensor",
];

struct Entry {
    shape: Vec<usize>,
    data: Vec<f32>,
}

/// The tensors of one file, taken one by one while building the model.
pub struct TensorFile {
    pub path: PathBuf,
    /// Dtypes found (for the engine's settings), e.g. `{"BF16"}`.
    pub dtypes: BTreeSet<String>,
    tensors: BTreeMap<String, Entry>,
    missing: Vec<String>,
    shape_error: Option<HfError>,
}

fn to_f32(view: &safetensors::tensor::TensorView<'_>) -> Option<Vec<f32>> {
    let b = view.data();
    Some(match view.dtype() {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| half::bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        _ => return None,
    })
}

impl TensorFile {
    pub fn read(path: &Path) -> Result<Self, HfError> {
        let bytes = std::fs::read(path).map_err(|e| HfError::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, HfError> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| HfError::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut tensors = BTreeMap::new();
        let mut dtypes = BTreeSet::new();
        for (name, view) in st.tensors() {
            let data = to_f32(&view).ok_or_else(|| HfError::Dtype {
                path: path.to_path_buf(),
                name: name.clone(),
                dtype: format!("{:?}", view.dtype()),
            })?;
            dtypes.insert(format!("{:?}", view.dtype()));
            tensors.insert(
                name,
                Entry {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        Ok(TensorFile {
            path: path.to_path_buf(),
            dtypes,
            tensors,
            missing: Vec::new(),
            shape_error: None,
        })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Removes `name` and checks its shape. A missing tensor or a wrong shape is recorded
    /// (reported by [`TensorFile::finish`]) and zeros of the expected shape are returned, so
    /// one load reports every problem at once.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        match self.tensors.remove(name) {
            Some(e) if e.shape == shape => e.data,
            Some(e) => {
                self.shape_error.get_or_insert(HfError::Shape {
                    path: self.path.clone(),
                    name: name.to_string(),
                    expected: shape.to_vec(),
                    found: e.shape,
                });
                vec![0.0; n]
            }
            None => {
                self.missing.push(name.to_string());
                vec![0.0; n]
            }
        }
    }

    pub fn tensor<B: Backend, const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        device: &B::Device,
    ) -> Tensor<B, D> {
        let data = self.take(name, &shape);
        Tensor::from_data(TensorData::new(data, shape), device)
    }

    pub fn param<B: Backend, const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        device: &B::Device,
    ) -> Param<Tensor<B, D>> {
        Param::from_tensor(self.tensor(name, shape, device))
    }

    /// A PyTorch `nn.Linear` (`{prefix}.weight` `[out, in]`, `{prefix}.bias` `[out]`) as a Burn
    /// [`Linear`] (weight `[in, out]`: transposed on the host).
    pub fn linear<B: Backend>(
        &mut self,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        device: &B::Device,
    ) -> Linear<B> {
        let w = self.take(&format!("{prefix}.weight"), &[d_out, d_in]);
        Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(transpose(&w, d_out, d_in), [d_in, d_out]),
                device,
            )),
            bias: bias.then(|| self.param(&format!("{prefix}.bias"), [d_out], device)),
        }
    }

    /// A PyTorch `nn.LayerNorm` (`weight`, `bias`) as a Burn [`LayerNorm`] (`gamma`, `beta`).
    pub fn layer_norm<B: Backend>(
        &mut self,
        prefix: &str,
        d: usize,
        eps: f64,
        device: &B::Device,
    ) -> LayerNorm<B> {
        let mut ln = LayerNormConfig::new(d).with_epsilon(eps).init(device);
        ln.gamma = self.param(&format!("{prefix}.weight"), [d], device);
        ln.beta = Some(self.param(&format!("{prefix}.bias"), [d], device));
        ln
    }

    /// Fails on the first shape error, then on any missing tensor or any tensor left over
    /// that is not on the [`NOT_NEEDED`] list.
    pub fn finish(mut self) -> Result<(), HfError> {
        if let Some(e) = self.shape_error.take() {
            return Err(e);
        }
        let unused: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| !NOT_NEEDED.contains(&k.as_str()))
            .cloned()
            .collect();
        if self.missing.is_empty() && unused.is_empty() {
            return Ok(());
        }
        Err(HfError::Mismatch {
            path: self.path,
            missing: self.missing,
            unused,
        })
    }
}

/// Row-major `[rows, cols]` → `[cols, rows]`.
pub fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_is_its_own_inverse() {
        let w: Vec<f32> = (0..6).map(|x| x as f32).collect();
        let t = transpose(&w, 2, 3);
        assert_eq!(t, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(transpose(&t, 3, 2), w);
    }
}
