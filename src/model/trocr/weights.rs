//! `model.safetensors` into the TrOCR module tree through `burn::store`: the checkpoint's
//! names renamed by the key map (`keymap`), values cast to the backend's float type and
//! Linear weights transposed by adapters (`adapters`, `PyTorchToBurnAdapter`), the tied
//! output projection loaded from the token embeddings. Strict: a missing tensor, a wrong
//! shape or a tensor nothing reads is an error naming the tensor as the file calls it.

use super::adapters::{ConvAsLinear, FloatCast};
use super::error::HfError;
use super::keymap::{self, OUTPUT_PROJECTION};
use super::model::TrocrModel;
use burn::store::{
    ApplyError, ApplyResult, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    SafetensorsStore, TensorSnapshot,
};
use burn::tensor::backend::Backend;
use burn::tensor::DType;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Tensors that checkpoints carry but inference does not use, skipped by name:
/// the ViT/DeiT pooler (VisionEncoderDecoderModel reads the last hidden state, not the
/// pooled output) and the placeholder buffer of old sinusoidal position embeddings.
pub const NOT_NEEDED: &[&str] = &[
    "encoder.pooler.dense.weight",
    "encoder.pooler.dense.bias",
    "decoder.model.decoder.embed_positions._float_tensor",
];

/// Dtypes the loader casts from.
const FLOAT_DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::BF16, DType::F64];

/// Loads `bytes` (the file at `path`) into `model`; returns the dtypes the file stores
/// (`F32`, `F16`, `BF16` …). `tie_word_embeddings`: config.json's setting; the output
/// projection is the token embedding unless the file stores its own.
pub fn load_into<B: Backend>(
    model: &mut TrocrModel<B>,
    bytes: Vec<u8>,
    path: &Path,
    tie_word_embeddings: bool,
    device: &B::Device,
) -> Result<BTreeSet<String>, HfError> {
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let stored: Vec<TensorSnapshot> = store
        .get_all_snapshots()
        .map_err(|e| HfError::Safetensors {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?
        .values()
        .filter(|s| !NOT_NEEDED.contains(&s.full_path().as_str()))
        .cloned()
        .collect();
    let dtypes = stored_dtypes(&stored, path)?;
    // Checkpoints saved by transformers drop the duplicate of a tied projection.
    let tied = tie_word_embeddings && !stored.iter().any(|s| s.full_path() == OUTPUT_PROJECTION);
    let (mut snapshots, renamed) = keymap::to_module().remap(stored);
    if tied {
        if let Some(embed) = snapshots
            .iter()
            .find(|s| s.full_path() == "decoder.embed_tokens")
        {
            snapshots.push(moved_to(embed, OUTPUT_PROJECTION));
        }
    }
    let shapes: HashMap<String, Vec<usize>> = snapshots
        .iter()
        .map(|s| (s.full_path(), s.shape.to_vec()))
        .collect();
    let target: DType = burn::tensor::get_device_settings::<B>(device)
        .float_dtype
        .into();
    let adapter = FloatCast { target }
        .chain(ConvAsLinear)
        .chain(PyTorchToBurnAdapter);
    let result = model.apply(snapshots, None, Some(Box::new(adapter)), false);
    let original: HashMap<String, String> = renamed.into_iter().collect();
    Checked {
        path,
        shapes: &shapes,
        original: &original,
        tied,
    }
    .finish(result)?;
    Ok(dtypes)
}

/// The dtypes of `stored`; a tensor of any other dtype (integers, booleans) is an error.
fn stored_dtypes(stored: &[TensorSnapshot], path: &Path) -> Result<BTreeSet<String>, HfError> {
    let mut dtypes = BTreeSet::new();
    for s in stored {
        if !FLOAT_DTYPES.contains(&s.dtype) {
            return Err(HfError::Dtype {
                path: path.to_path_buf(),
                name: s.full_path(),
                dtype: format!("{:?}", s.dtype),
            });
        }
        dtypes.insert(format!("{:?}", s.dtype));
    }
    Ok(dtypes)
}

/// `snapshot`'s data under another module path.
fn moved_to(snapshot: &TensorSnapshot, module_path: &str) -> TensorSnapshot {
    TensorSnapshot::from_closure(
        snapshot.clone_data_fn(),
        snapshot.dtype,
        snapshot.shape.clone(),
        module_path.split('.').map(str::to_string).collect(),
        Vec::new(),
        Default::default(),
    )
}

/// What turns Burn's apply result back into the checkpoint's names.
struct Checked<'a> {
    path: &'a Path,
    /// Stored shapes by module path.
    shapes: &'a HashMap<String, Vec<usize>>,
    /// Checkpoint name by module path, for the tensors of the file.
    original: &'a HashMap<String, String>,
    tied: bool,
}

impl Checked<'_> {
    /// Fails on the first error (a wrong shape, first of all), then on any missing tensor
    /// or any tensor left over.
    fn finish(&self, result: ApplyResult) -> Result<(), HfError> {
        if let Some(e) = result.errors.first() {
            return Err(self.apply_error(e));
        }
        let missing: Vec<String> = result
            .missing
            .iter()
            .map(|(p, _)| p.as_str())
            // A tied projection missing means its embedding is: that one is named.
            .filter(|p| !(self.tied && *p == OUTPUT_PROJECTION))
            .map(keymap::to_checkpoint)
            .collect();
        let unused: Vec<String> = result
            .unused
            .iter()
            .map(|u| self.original.get(u).unwrap_or(u).clone())
            .collect();
        if missing.is_empty() && unused.is_empty() {
            return Ok(());
        }
        Err(HfError::Mismatch {
            path: self.path_buf(),
            missing,
            unused,
        })
    }

    fn apply_error(&self, e: &ApplyError) -> HfError {
        match e {
            ApplyError::ShapeMismatch { path, expected, .. } => {
                let mut expected = expected.to_vec();
                // Linear weights are the only `*.weight` parameters of the tree (LayerNorm's
                // are gamma/beta); checkpoints store them transposed.
                if path.ends_with(".weight") {
                    expected.reverse();
                }
                HfError::Shape {
                    path: self.path_buf(),
                    name: keymap::to_checkpoint(path),
                    expected,
                    found: self.shapes.get(path).cloned().unwrap_or_default(),
                }
            }
            other => HfError::Safetensors {
                path: self.path_buf(),
                message: other.to_string(),
            },
        }
    }

    fn path_buf(&self) -> PathBuf {
        self.path.to_path_buf()
    }
}
