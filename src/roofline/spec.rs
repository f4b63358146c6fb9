//! The model's shape for the roofline: parameters, layers, widths and the weight
//! precision what-if.

use super::RooflineError;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// Bytes per KV-cache element: the cache stays FP16/BF16 whatever the weight precision
/// (weight-only quantisation).
pub const KV_BYTES: f64 = 2.0;

/// Weight precision: bytes read per parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Full precision: what the built-in model computes in (its measured bench points).
    Fp32,
    Fp16,
    Bf16,
    Int8,
    Int4,
}

/// The `--precision` flag.
impl std::str::FromStr for Precision {
    type Err = RooflineError;

    fn from_str(s: &str) -> Result<Precision, RooflineError> {
        Precision::parse(s)
    }
}

impl Precision {
    /// FP32 4 B, FP16/BF16 2 B, INT8 1 B, INT4 0.5 B (scales and zero points not counted).
    pub fn bytes_per_param(self) -> f64 {
        match self {
            Precision::Fp32 => 4.0,
            Precision::Fp16 | Precision::Bf16 => 2.0,
            Precision::Int8 => 1.0,
            Precision::Int4 => 0.5,
        }
    }

    /// Bytes per KV-cache element: [`KV_BYTES`], except that an FP32 model keeps an FP32
    /// cache.
    pub fn kv_bytes(self) -> f64 {
        match self {
            Precision::Fp32 => 4.0,
            _ => KV_BYTES,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
            Precision::Int4 => "int4",
        }
    }

    pub fn parse(s: &str) -> Result<Self, RooflineError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fp32" | "f32" => Ok(Precision::Fp32),
            "fp16" => Ok(Precision::Fp16),
            "bf16" => Ok(Precision::Bf16),
            "int8" => Ok(Precision::Int8),
            "int4" => Ok(Precision::Int4),
            _ => Err(RooflineError::UnknownPrecision(s.to_string())),
        }
    }
}

/// What the roofline needs to know about a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    pub name: String,
    /// All parameters.
    pub params: f64,
    /// Parameters read once per decode step (the decoder's for an encoder-decoder model;
    /// equal to `params` for a decoder-only model).
    pub step_params: f64,
    /// Layers holding a KV cache (decoder layers).
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub vocab: usize,
}

impl ModelSpec {
    /// A decoder-only model given by its numbers (`--params 7e9 --layers 32 ...`).
    pub fn generic(
        params: f64,
        layers: usize,
        hidden: usize,
        heads: usize,
        kv_heads: usize,
        vocab: usize,
    ) -> Result<Self, RooflineError> {
        let spec = ModelSpec {
            name: format!("{:.3}B params", params / 1e9),
            params,
            step_params: params,
            layers,
            hidden,
            heads,
            kv_heads,
            vocab,
        };
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<(), RooflineError> {
        let bad = |m: &str| Err(RooflineError::InvalidSpec(m.to_string()));
        if !(self.params.is_finite() && self.params > 0.0) {
            return bad("params must be a positive number");
        }
        if !(self.step_params > 0.0 && self.step_params <= self.params) {
            return bad("step params must be positive and at most params");
        }
        if self.layers == 0 || self.hidden == 0 || self.heads == 0 || self.kv_heads == 0 {
            return bad("layers, hidden, heads and kv-heads must be positive");
        }
        if self.hidden % self.heads != 0 {
            return bad("hidden must be a multiple of heads");
        }
        if self.kv_heads > self.heads || self.heads % self.kv_heads != 0 {
            return bad("heads must be a multiple of kv-heads");
        }
        Ok(())
    }

    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Width of one layer's K (or V) per token: `kv_heads · head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim()
    }

    /// Reads `dir/config.json` (or a `config.json` path). Two layouts are understood:
    /// medocr's own (`architecture` starting with `medocr`; parameters counted exactly
    /// from `model.safetensors` next to it) and Hugging Face decoder configs
    /// (`num_hidden_layers`, `hidden_size`, `num_attention_heads`, optional
    /// `num_key_value_heads`, `intermediate_size`, `vocab_size`; parameters estimated).
    pub fn from_checkpoint(path: &Path) -> Result<Self, RooflineError> {
        let (dir, file) = if path.is_dir() {
            (path.to_path_buf(), path.join("config.json"))
        } else {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (dir, path.to_path_buf())
        };
        let text = std::fs::read_to_string(&file).map_err(|source| RooflineError::Io {
            path: file.clone(),
            source,
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|source| RooflineError::Json {
            path: file.clone(),
            source,
        })?;
        let num = |key: &str| -> Result<usize, RooflineError> {
            v.get(key)
                .and_then(Value::as_u64)
                .map(|n| n as usize)
                .ok_or_else(|| RooflineError::MissingKey {
                    path: file.clone(),
                    key: key.to_string(),
                })
        };
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_string());
        let is_medocr = v
            .get("architecture")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with("medocr"));
        let spec = if is_medocr {
            let hidden = num("d_model")?;
            let heads = num("n_heads")?;
            let layers = num("decoder_layers")?;
            let vocab = num("vocab_size")?;
            let ff = num("ff_dim")?;
            let weights = dir.join("model.safetensors");
            let (params, step_params) = if weights.is_file() {
                safetensors_counts(&weights)?
            } else {
                // Decoder: self + cross attention (4 d² + 4 d each), FFN, 3 LayerNorms,
                // embedding and output head; the encoder is not estimated.
                let (d, f, vv) = (hidden as f64, ff as f64, vocab as f64);
                let per_layer = 2.0 * (4.0 * d * d + 4.0 * d) + 2.0 * d * f + f + d + 6.0 * d;
                let dec = layers as f64 * per_layer + 2.0 * vv * d + vv;
                (dec, dec)
            };
            ModelSpec {
                name,
                params,
                step_params,
                layers,
                hidden,
                heads,
                kv_heads: heads,
                vocab,
            }
        } else {
            let layers = num("num_hidden_layers")?;
            let hidden = num("hidden_size")?;
            let heads = num("num_attention_heads")?;
            let kv_heads = num("num_key_value_heads").unwrap_or(heads);
            let vocab = num("vocab_size")?;
            let ff = num("intermediate_size").unwrap_or(4 * hidden);
            let tied = v
                .get("tie_word_embeddings")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let (d, f, vv) = (hidden as f64, ff as f64, vocab as f64);
            let kv = (kv_heads * (hidden / heads.max(1))) as f64;
            // Attention q,o (d²) and k,v (d·kv), gated MLP (3·d·f), embeddings.
            let per_layer = 2.0 * d * d + 2.0 * d * kv + 3.0 * d * f;
            let params = layers as f64 * per_layer + if tied { 1.0 } else { 2.0 } * vv * d;
            ModelSpec {
                name,
                params,
                step_params: params,
                layers,
                hidden,
                heads,
                kv_heads,
                vocab,
            }
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// (all parameters, parameters under `decoder.`) from a safetensors header.
fn safetensors_counts(path: &Path) -> Result<(f64, f64), RooflineError> {
    use std::io::Read;
    let bad = |reason: String| RooflineError::Safetensors {
        path: path.to_path_buf(),
        reason,
    };
    let io = |source| RooflineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(io)?;
    let n = u64::from_le_bytes(len);
    if n > 100 << 20 {
        return Err(bad(format!("header of {n} bytes")));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(io)?;
    let v: Value = serde_json::from_slice(&header).map_err(|e| bad(e.to_string()))?;
    let map = v.as_object().ok_or_else(|| bad("not an object".into()))?;
    let (mut all, mut dec) = (0.0, 0.0);
    for (name, t) in map.iter().filter(|(k, _)| *k != "__metadata__") {
        let shape = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("tensor `{name}` has no shape")))?;
        let count: f64 = shape
            .iter()
            .filter_map(Value::as_u64)
            .map(|x| x as f64)
            .product();
        all += count;
        if name.starts_with("decoder.") {
            dec += count;
        }
    }
    if dec == 0.0 {
        dec = all;
    }
    Ok((all, dec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roofline_int4_is_half_a_byte() {
        assert_eq!(Precision::Int4.bytes_per_param(), 0.5);
        assert_eq!(Precision::Int8.bytes_per_param(), 1.0);
        assert_eq!(Precision::parse("FP16").unwrap().bytes_per_param(), 2.0);
        assert!(Precision::parse("fp8").is_err());
    }

    #[test]
    fn roofline_builtin_config_is_read() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/builtin");
        let s = ModelSpec::from_checkpoint(&dir).unwrap();
        assert_eq!((s.layers, s.hidden, s.heads, s.kv_heads), (2, 192, 6, 6));
        assert_eq!(s.vocab, 2742);
        assert!(s.params > 1e6 && s.step_params < s.params);
    }

    #[test]
    fn roofline_hf_config_and_missing_key() {
        let tmp = std::env::temp_dir().join(format!("medocr-roof-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let cfg = r#"{"num_hidden_layers":32,"hidden_size":4096,"num_attention_heads":32,
            "num_key_value_heads":8,"intermediate_size":14336,"vocab_size":128256}"#;
        std::fs::write(tmp.join("config.json"), cfg).unwrap();
        let s = ModelSpec::from_checkpoint(&tmp).unwrap();
        assert_eq!(s.kv_dim(), 1024);
        // Llama-3-8B: about 8.0 B parameters.
        assert!((s.params / 1e9 - 8.03).abs() < 0.05, "{}", s.params);
        std::fs::write(tmp.join("config.json"), r#"{"hidden_size":8}"#).unwrap();
        let e = ModelSpec::from_checkpoint(&tmp).unwrap_err().to_string();
        assert!(
            e.contains("num_hidden_layers") && e.contains("config.json"),
            "{e}"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
