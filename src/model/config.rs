//! The model's hyper-parameters, stored next to the weights as `config.json`.

use super::error::ModelError;
use serde::{Deserialize, Serialize};

/// Architecture of the line recogniser. Everything needed to rebuild the module tree
/// before loading weights; a config/weights mismatch is caught at load time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Format tag, bumped when the architecture changes incompatibly.
    pub architecture: String,
    /// Input line height in pixels (the conv stem reduces it to 1 row).
    pub line_height: usize,
    /// Output channels of the four 3×3 stem convolutions.
    pub stem_channels: [usize; 4],
    pub d_model: usize,
    pub n_heads: usize,
    pub ff_dim: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    /// Tokenizer size (specials included).
    pub vocab_size: usize,
    /// Longest output per line (tokens, `<eos>` included); also the KV-cache capacity.
    pub max_target_len: usize,
    /// Widest line (pixels at `line_height`) used in training; wider segments are split
    /// at inference.
    pub max_line_width: usize,
    /// LayerNorm after the stem projection (absent in configs written before it existed).
    #[serde(default)]
    pub stem_norm: bool,
    /// Pieces read with a lower mean token log-probability are dropped as non-text; calibrated
    /// per checkpoint on the validation set (docs/model.md, "Rejecting non-text"). Absent:
    /// nothing is dropped for its confidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_confidence: Option<f32>,
}

pub const ARCHITECTURE: &str = "medocr-line-ocr-v1";

impl ModelConfig {
    /// A few-thousand-parameter configuration for fast unit tests: `layers` encoder and
    /// decoder layers each, `max_target_len` decoding steps.
    #[cfg(test)]
    pub(crate) fn tiny_for_tests(vocab: usize, layers: usize, max_target_len: usize) -> Self {
        let mut c = ModelConfig::small(vocab);
        c.stem_channels = [8, 8, 16, 16];
        c.d_model = 32;
        c.n_heads = 4;
        c.ff_dim = 64;
        c.encoder_layers = layers;
        c.decoder_layers = layers;
        c.max_target_len = max_target_len;
        c
    }

    /// The default recipe, sized for CPU training on 2 cores (about 4–5 M parameters).
    pub fn small(vocab_size: usize) -> Self {
        ModelConfig {
            architecture: ARCHITECTURE.to_string(),
            line_height: 32,
            stem_channels: [32, 64, 128, 192],
            d_model: 192,
            n_heads: 6,
            ff_dim: 768,
            encoder_layers: 3,
            decoder_layers: 2,
            vocab_size,
            max_target_len: 96,
            max_line_width: 800,
            stem_norm: true,
            min_confidence: None,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        if self.architecture != ARCHITECTURE {
            return bad(format!(
                "architecture '{}' is not '{ARCHITECTURE}'",
                self.architecture
            ));
        }
        if self.line_height != 32 {
            return bad(format!(
                "line_height must be 32 (the stem halves it 4 times to 2 rows), got {}",
                self.line_height
            ));
        }
        if self.d_model == 0 || self.n_heads == 0 || self.d_model % self.n_heads != 0 {
            return bad(format!(
                "d_model {} must be a positive multiple of n_heads {}",
                self.d_model, self.n_heads
            ));
        }
        if self.vocab_size < 5 || self.max_target_len < 2 || self.ff_dim == 0 {
            return bad("vocab_size, max_target_len and ff_dim are too small".into());
        }
        if self.stem_channels.contains(&0) {
            return bad("stem channels must be positive".into());
        }
        Ok(())
    }

    /// Number of encoder positions for a line `width` pixels wide (two width-halving convs).
    pub fn encoder_len(&self, width: usize) -> usize {
        width.div_ceil(2).div_ceil(2).max(1)
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }
}
