//! `burn::store` adapters for `transformers` checkpoints, applied to each tensor as it is
//! loaded (before `PyTorchToBurnAdapter` transposes Linear weights): stored F16/BF16/F64
//! values cast to the backend's float type (F32 here: computation is f32 whatever the file
//! stores), and a convolution kernel that feeds a Linear flattened to its matrix.

use burn::store::{ModuleAdapter, TensorSnapshot};
use burn::tensor::{DType, TensorData};
use std::rc::Rc;

/// Casts every floating-point tensor to `target` (the device's float dtype): the file may
/// store F16, BF16 or F64; the cast is exact for the half types.
#[derive(Debug, Clone)]
pub struct FloatCast {
    pub target: DType,
}

impl ModuleAdapter for FloatCast {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        if snapshot.dtype == self.target || !snapshot.dtype.is_float() {
            return snapshot.clone();
        }
        let data = snapshot.clone_data_fn();
        let target = self.target;
        rebuilt(
            snapshot,
            Rc::new(move || Ok(data()?.convert_dtype(target))),
            target,
            snapshot.shape.clone(),
        )
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

/// A stride-`patch` convolution kernel `[out, in, kh, kw]` loaded into a Linear: flattened
/// to `[out, in · kh · kw]`, rows in (in, kh, kw) order, the order `VitEncoder` lays out the
/// pixels of a patch. `PyTorchToBurnAdapter` then transposes it like any Linear weight.
#[derive(Debug, Clone, Default)]
pub struct ConvAsLinear;

impl ModuleAdapter for ConvAsLinear {
    fn adapt(&self, snapshot: &TensorSnapshot) -> TensorSnapshot {
        let is_linear_weight = snapshot.module_type().as_deref() == Some("Struct:Linear")
            && snapshot
                .path_stack
                .as_ref()
                .and_then(|p| p.last())
                .is_some_and(|p| p == "weight");
        if !is_linear_weight || snapshot.shape.len() != 4 {
            return snapshot.clone();
        }
        let out = snapshot.shape[0];
        let k = snapshot.shape[1] * snapshot.shape[2] * snapshot.shape[3];
        let data = snapshot.clone_data_fn();
        rebuilt(
            snapshot,
            Rc::new(move || {
                let d = data()?;
                Ok(TensorData::from_bytes(d.bytes, [out, k], d.dtype))
            }),
            snapshot.dtype,
            [out, k].into(),
        )
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
}

type DataFn = Rc<dyn Fn() -> Result<TensorData, burn::store::TensorSnapshotError>>;

/// `snapshot` with new (lazy) data, dtype and shape; its place in the module tree kept.
fn rebuilt(
    snapshot: &TensorSnapshot,
    data: DataFn,
    dtype: DType,
    shape: burn::tensor::Shape,
) -> TensorSnapshot {
    TensorSnapshot::from_closure(
        data,
        dtype,
        shape,
        snapshot.path_stack.clone().unwrap_or_default(),
        snapshot.container_stack.clone().unwrap_or_default(),
        snapshot.tensor_id.unwrap_or_default(),
    )
}
