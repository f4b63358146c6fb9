//! Resumable training state: `<run>/ckpt-NNNNNNN/{model.mpk, optim.mpk, state.json}` and a
//! `<run>/LATEST` pointer written last, so a run killed mid-save resumes from the previous
//! complete checkpoint. The data stream is a pure function of (seed, step), so the step is
//! the whole RNG/data position.

use super::config::ModelConfig;
use super::error::ModelError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One validation measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValPoint {
    pub step: usize,
    pub cer: f64,
    pub train_loss: f64,
    pub elapsed_s: f64,
}

/// Everything besides tensors needed to continue a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps completed.
    pub step: usize,
    pub seed: u64,
    pub config: ModelConfig,
    /// Training wall time so far (all sessions).
    pub elapsed_s: f64,
    pub history: Vec<ValPoint>,
    pub best_cer: Option<f64>,
    /// The page-crop bank the run draws from (`page_crops`), if any: a resumed run keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_crops: Option<PathBuf>,
}

pub const LATEST: &str = "LATEST";
pub const MODEL: &str = "model";
pub const OPTIM: &str = "optim";
pub const STATE: &str = "state.json";

pub fn dir_for(run: &Path, step: usize) -> PathBuf {
    run.join(format!("ckpt-{step:07}"))
}

/// The latest complete checkpoint folder of a run, if any.
pub fn latest(run: &Path) -> Result<Option<PathBuf>, ModelError> {
    let p = run.join(LATEST);
    if !p.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&p).map_err(|e| ModelError::io(&p, e))?;
    let dir = run.join(name.trim());
    if !dir.join(STATE).exists() {
        return Err(ModelError::Checkpoint {
            path: dir,
            message: "LATEST points to a folder without state.json".into(),
        });
    }
    Ok(Some(dir))
}

pub fn read_state(dir: &Path) -> Result<TrainState, ModelError> {
    let p = dir.join(STATE);
    let text = std::fs::read_to_string(&p).map_err(|e| ModelError::io(&p, e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::Checkpoint {
        path: p,
        message: e.to_string(),
    })
}

pub fn write_state(dir: &Path, state: &TrainState) -> Result<(), ModelError> {
    let p = dir.join(STATE);
    let json = serde_json::to_string_pretty(state).expect("state serialises");
    std::fs::write(&p, json).map_err(|e| ModelError::io(&p, e))
}

/// Points LATEST at `dir` and removes older checkpoint folders, keeping `keep`.
pub fn commit(run: &Path, dir: &Path, keep: usize) -> Result<(), ModelError> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let tmp = run.join("LATEST.tmp");
    std::fs::write(&tmp, &name).map_err(|e| ModelError::io(&tmp, e))?;
    std::fs::rename(&tmp, run.join(LATEST)).map_err(|e| ModelError::io(run.join(LATEST), e))?;
    let mut dirs: Vec<String> = std::fs::read_dir(run)
        .map_err(|e| ModelError::io(run, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("ckpt-"))
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep);
    for d in dirs.into_iter().take(excess) {
        if d != name {
            let _ = std::fs::remove_dir_all(run.join(d));
        }
    }
    Ok(())
}
