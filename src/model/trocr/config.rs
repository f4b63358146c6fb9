//! The checkpoint's `config.json` (a `VisionEncoderDecoderModel`: ViT or DeiT encoder, TrOCR
//! decoder) and generation settings (`generation_config.json`, else `config.json`).
//!
//! Keys that change the computation are read and checked; a value this implementation does
//! not support is an error naming the key. Keys that only matter for training or for other
//! frameworks (dropout, `torchscript`, `initializer_range` …) are ignored. Beam-search
//! settings are recorded but not applied: decoding is greedy.

use super::error::HfError;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Element-wise activation, by its Hugging Face name (`ACT2FN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `gelu`: exact (erf) GELU.
    Gelu,
    /// `gelu_new`, `gelu_pytorch_tanh`, `gelu_fast`: the tanh approximation.
    GeluTanh,
    Relu,
    /// `silu`, `swish`.
    Silu,
}

impl Activation {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            _ => return None,
        })
    }
}

/// The vision encoder variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderKind {
    /// ViT: a CLS token before the patches.
    Vit,
    /// DeiT: CLS and distillation tokens before the patches.
    Deit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    pub kind: EncoderKind,
    /// `[height, width]` of the input image in pixels.
    pub image_size: [usize; 2],
    /// `[height, width]` of a patch.
    pub patch_size: [usize; 2],
    pub num_channels: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    pub activation: Activation,
    pub layer_norm_eps: f64,
    pub qkv_bias: bool,
}

impl EncoderConfig {
    /// Patches along height and width.
    pub fn grid(&self) -> [usize; 2] {
        [
            self.image_size[0] / self.patch_size[0],
            self.image_size[1] / self.patch_size[1],
        ]
    }

    /// Tokens before the patches: CLS (ViT), CLS + distillation (DeiT).
    pub fn prefix_tokens(&self) -> usize {
        match self.kind {
            EncoderKind::Vit => 1,
            EncoderKind::Deit => 2,
        }
    }

    /// Encoder output length: prefix tokens + patches.
    pub fn seq_len(&self) -> usize {
        let [h, w] = self.grid();
        self.prefix_tokens() + h * w
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub ffn_dim: usize,
    pub activation: Activation,
    pub max_position_embeddings: usize,
    pub learned_positions: bool,
    pub layernorm_embedding: bool,
    pub scale_embedding: bool,
    /// Width of the encoder states the cross-attention keys/values read.
    pub cross_attention_hidden_size: usize,
    pub tie_word_embeddings: bool,
    pub pad_token_id: u32,
}

/// Greedy-decoding settings of the checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationSettings {
    pub decoder_start_token_id: u32,
    /// Any of these ends a line.
    pub eos_token_ids: Vec<u32>,
    /// Longest decoder sequence, start token included (Hugging Face `max_length`).
    pub max_length: usize,
    /// Beam-search settings found in the checkpoint and not applied (greedy decoding).
    pub ignored: Vec<String>,
    /// Which file the settings came from.
    pub source: PathBuf,
}

impl GenerationSettings {
    /// New tokens per line at most (the start token is not generated).
    pub fn max_new_tokens(&self) -> usize {
        self.max_length.saturating_sub(1).max(1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HfConfig {
    pub encoder: EncoderConfig,
    pub decoder: DecoderConfig,
    /// `enc_to_dec_proj`: a linear map from the encoder width to the decoder width (present
    /// when they differ and the decoder has no `cross_attention_hidden_size`).
    pub enc_to_dec_proj: bool,
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value, HfError> {
    let text = std::fs::read_to_string(path).map_err(|e| HfError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| HfError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Typed access to one JSON object, with the key path for messages.
struct Obj<'a> {
    path: &'a Path,
    prefix: &'a str,
    v: &'a Value,
}

impl<'a> Obj<'a> {
    fn err(&self, key: &str, message: impl Into<String>) -> HfError {
        HfError::Config {
            path: self.path.to_path_buf(),
            key: format!("{}{key}", self.prefix),
            message: message.into(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.v.get(key).filter(|v| !v.is_null())
    }

    fn usize_or(&self, key: &str, default: Option<usize>) -> Result<usize, HfError> {
        match self.get(key) {
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| self.err(key, format!("expected a non-negative integer, got {v}"))),
            None => default.ok_or_else(|| self.err(key, "missing")),
        }
    }

    fn positive(&self, key: &str, default: Option<usize>) -> Result<usize, HfError> {
        let n = self.usize_or(key, default)?;
        if n == 0 {
            return Err(self.err(key, "must be positive"));
        }
        Ok(n)
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool, HfError> {
        match self.get(key) {
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.err(key, format!("expected true or false, got {v}"))),
            None => Ok(default),
        }
    }

    fn str_or(&self, key: &str, default: Option<&'a str>) -> Result<&'a str, HfError> {
        match self.get(key) {
            Some(v) => v
                .as_str()
                .ok_or_else(|| self.err(key, format!("expected a string, got {v}"))),
            None => default.ok_or_else(|| self.err(key, "missing")),
        }
    }

    /// An int or a `[height, width]` pair.
    fn pair(&self, key: &str, default: Option<usize>) -> Result<[usize; 2], HfError> {
        match self.get(key) {
            Some(Value::Array(a)) if a.len() == 2 => {
                let h = a[0].as_u64().filter(|&n| n > 0);
                let w = a[1].as_u64().filter(|&n| n > 0);
                match (h, w) {
                    (Some(h), Some(w)) => Ok([h as usize, w as usize]),
                    _ => Err(self.err(key, "expected two positive integers [height, width]")),
                }
            }
            Some(_) | None => {
                let n = self.positive(key, default)?;
                Ok([n, n])
            }
        }
    }

    fn activation(&self, key: &str, default: &str) -> Result<Activation, HfError> {
        let name = self.str_or(key, Some(default))?;
        Activation::parse(name).ok_or_else(|| {
            self.err(
                key,
                format!("activation '{name}' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu, swish)"),
            )
        })
    }

    fn object(&self, key: &str) -> Result<Obj<'a>, HfError> {
        match self.get(key) {
            Some(v @ Value::Object(_)) => Ok(Obj {
                path: self.path,
                prefix: if key == "encoder" {
                    "encoder."
                } else {
                    "decoder."
                },
                v,
            }),
            _ => Err(self.err(key, "missing or not an object")),
        }
    }
}

fn parse_encoder(o: &Obj) -> Result<EncoderConfig, HfError> {
    let kind = match o.str_or("model_type", None)? {
        "vit" => EncoderKind::Vit,
        "deit" => EncoderKind::Deit,
        other => {
            return Err(o.err(
                "model_type",
                format!("encoder '{other}' is not supported (supported: vit, deit)"),
            ))
        }
    };
    let c = EncoderConfig {
        kind,
        image_size: o.pair("image_size", Some(224))?,
        patch_size: o.pair("patch_size", Some(16))?,
        num_channels: o.positive("num_channels", Some(3))?,
        hidden_size: o.positive("hidden_size", Some(768))?,
        num_layers: o.usize_or("num_hidden_layers", Some(12))?,
        num_heads: o.positive("num_attention_heads", Some(12))?,
        intermediate_size: o.positive("intermediate_size", Some(3072))?,
        activation: o.activation("hidden_act", "gelu")?,
        layer_norm_eps: match o.get("layer_norm_eps") {
            Some(v) => v
                .as_f64()
                .filter(|e| *e > 0.0)
                .ok_or_else(|| o.err("layer_norm_eps", "expected a positive number"))?,
            None => 1e-12,
        },
        qkv_bias: o.bool_or("qkv_bias", true)?,
    };
    if !matches!(c.num_channels, 1 | 3) {
        return Err(o.err("num_channels", "only 1 or 3 input channels are supported"));
    }
    if c.hidden_size % c.num_heads != 0 {
        return Err(o.err(
            "num_attention_heads",
            format!(
                "hidden_size {} is not a multiple of {}",
                c.hidden_size, c.num_heads
            ),
        ));
    }
    if c.patch_size[0] > c.image_size[0] || c.patch_size[1] > c.image_size[1] {
        return Err(o.err("patch_size", "larger than image_size"));
    }
    if o.bool_or("use_mask_token", false)? {
        return Err(o.err(
            "use_mask_token",
            "mask tokens (masked image modelling) are not supported",
        ));
    }
    Ok(c)
}

fn parse_decoder(o: &Obj, encoder_hidden: usize) -> Result<(DecoderConfig, bool), HfError> {
    let model_type = o.str_or("model_type", None)?;
    if model_type != "trocr" {
        return Err(o.err(
            "model_type",
            format!("decoder '{model_type}' is not supported (supported: trocr)"),
        ));
    }
    if !o.bool_or("is_decoder", true)? {
        return Err(o.err(
            "is_decoder",
            "must be true: without it the TrOCR decoder has no cross-attention to the image",
        ));
    }
    let d_model = o.positive("d_model", Some(1024))?;
    let cross = match o.get("cross_attention_hidden_size") {
        Some(_) => Some(o.positive("cross_attention_hidden_size", None)?),
        None => None,
    };
    if let Some(c) = cross {
        if c != encoder_hidden {
            return Err(o.err(
                "cross_attention_hidden_size",
                format!("{c} differs from encoder.hidden_size {encoder_hidden}"),
            ));
        }
    }
    // As in VisionEncoderDecoderModel: a projection when widths differ and the decoder does
    // not read the encoder width itself.
    let proj = cross.is_none() && encoder_hidden != d_model;
    let c = DecoderConfig {
        vocab_size: o.positive("vocab_size", Some(50265))?,
        d_model,
        num_layers: o.usize_or("decoder_layers", Some(12))?,
        num_heads: o.positive("decoder_attention_heads", Some(16))?,
        ffn_dim: o.positive("decoder_ffn_dim", Some(4096))?,
        activation: o.activation("activation_function", "gelu")?,
        max_position_embeddings: o.positive("max_position_embeddings", Some(512))?,
        learned_positions: o.bool_or("use_learned_position_embeddings", true)?,
        layernorm_embedding: o.bool_or("layernorm_embedding", true)?,
        scale_embedding: o.bool_or("scale_embedding", false)?,
        cross_attention_hidden_size: if proj {
            d_model
        } else {
            cross.unwrap_or(encoder_hidden)
        },
        tie_word_embeddings: o.bool_or("tie_word_embeddings", true)?,
        pad_token_id: o.usize_or("pad_token_id", Some(1))? as u32,
    };
    if c.d_model % c.num_heads != 0 {
        return Err(o.err(
            "decoder_attention_heads",
            format!("d_model {} is not a multiple of {}", c.d_model, c.num_heads),
        ));
    }
    Ok((c, proj))
}

impl HfConfig {
    /// Parses `config.json` of a `VisionEncoderDecoderModel`.
    pub fn load(path: &Path) -> Result<Self, HfError> {
        let v = read_json(path)?;
        Self::from_value(&v, path)
    }

    pub fn from_value(v: &Value, path: &Path) -> Result<Self, HfError> {
        let top = Obj {
            path,
            prefix: "",
            v,
        };
        let mt = top.str_or("model_type", None)?;
        if mt != "vision-encoder-decoder" {
            return Err(top.err(
                "model_type",
                format!(
                    "'{mt}' is not a VisionEncoderDecoderModel (expected 'vision-encoder-decoder')"
                ),
            ));
        }
        let encoder = parse_encoder(&top.object("encoder")?)?;
        let (decoder, enc_to_dec_proj) =
            parse_decoder(&top.object("decoder")?, encoder.hidden_size)?;
        Ok(HfConfig {
            encoder,
            decoder,
            enc_to_dec_proj,
        })
    }
}

/// Generation settings: `generation_config.json` when present, else the top level of
/// `config.json`, else its `decoder` section (the order `transformers` reads them in).
pub fn load_generation(dir: &Path) -> Result<GenerationSettings, HfError> {
    let config_path = dir.join("config.json");
    let config = read_json(&config_path)?;
    let gen_path = dir.join("generation_config.json");
    let gen = if gen_path.exists() {
        Some(read_json(&gen_path)?)
    } else {
        None
    };
    let sources: Vec<(&Path, &Value, &str)> = gen
        .iter()
        .map(|g| (gen_path.as_path(), g, ""))
        .chain([(config_path.as_path(), &config, "")])
        .chain(
            config
                .get("decoder")
                .map(|d| (config_path.as_path(), d, "decoder.")),
        )
        .collect();
    let find = |key: &str| -> Option<(&Path, &Value, String)> {
        sources.iter().find_map(|(p, v, prefix)| {
            v.get(key)
                .filter(|x| !x.is_null())
                .map(|x| (*p, x, format!("{prefix}{key}")))
        })
    };
    let token = |key: &str| -> Result<Option<Vec<u32>>, HfError> {
        let Some((p, v, k)) = find(key) else {
            return Ok(None);
        };
        let bad = || HfError::Config {
            path: p.to_path_buf(),
            key: k.clone(),
            message: format!("expected a token id or a list of token ids, got {v}"),
        };
        match v {
            Value::Array(a) => a
                .iter()
                .map(|x| x.as_u64().map(|n| n as u32).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            x => x.as_u64().map(|n| Some(vec![n as u32])).ok_or_else(bad),
        }
    };
    let start = token("decoder_start_token_id")?
        .and_then(|v| v.first().copied())
        .ok_or_else(|| HfError::Config {
            path: config_path.clone(),
            key: "decoder_start_token_id".into(),
            message: "missing (in generation_config.json and config.json)".into(),
        })?;
    let eos = token("eos_token_id")?.unwrap_or_default();
    let max_new = find("max_new_tokens").and_then(|(_, v, _)| v.as_u64());
    let max_length = match max_new {
        Some(n) => n as usize + 1,
        None => find("max_length")
            .and_then(|(_, v, _)| v.as_u64())
            .map(|n| n as usize)
            .unwrap_or(20), // the transformers default
    };
    let mut ignored = Vec::new();
    for key in [
        "num_beams",
        "no_repeat_ngram_size",
        "length_penalty",
        "repetition_penalty",
        "do_sample",
    ] {
        if let Some((_, v, k)) = find(key) {
            let default = matches!(
                (key, v),
                ("num_beams", Value::Number(_)) if v.as_u64() == Some(1)
            ) || matches!((key, v), ("no_repeat_ngram_size", _) if v.as_u64() == Some(0))
                || matches!((key, v), ("do_sample", Value::Bool(false)))
                || matches!((key, v), ("length_penalty" | "repetition_penalty", _) if v.as_f64() == Some(1.0));
            if !default {
                ignored.push(format!("{k}={v}"));
            }
        }
    }
    Ok(GenerationSettings {
        decoder_start_token_id: start,
        eos_token_ids: eos,
        max_length,
        ignored,
        source: if gen.is_some() { gen_path } else { config_path },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "model_type": "vision-encoder-decoder",
            "encoder": {"model_type": "deit", "image_size": [32, 96], "patch_size": 8,
                        "hidden_size": 24, "num_hidden_layers": 1, "num_attention_heads": 2,
                        "intermediate_size": 48},
            "decoder": {"model_type": "trocr", "d_model": 32, "decoder_layers": 1,
                        "decoder_attention_heads": 4, "decoder_ffn_dim": 64, "vocab_size": 100}
        })
    }

    #[test]
    fn shapes_and_projection() {
        let c = HfConfig::from_value(&base(), Path::new("config.json")).unwrap();
        assert_eq!(c.encoder.grid(), [4, 12]);
        assert_eq!(c.encoder.seq_len(), 2 + 48);
        assert!(
            c.enc_to_dec_proj,
            "24 → 32 without cross_attention_hidden_size"
        );
        assert_eq!(c.decoder.cross_attention_hidden_size, 32);
        let mut v = base();
        v["decoder"]["cross_attention_hidden_size"] = json!(24);
        let c = HfConfig::from_value(&v, Path::new("config.json")).unwrap();
        assert!(!c.enc_to_dec_proj);
        assert_eq!(c.decoder.cross_attention_hidden_size, 24);
    }

    #[test]
    fn unsupported_values_name_the_key() {
        for (section, key, value, needle) in [
            ("encoder", "model_type", json!("swin"), "encoder.model_type"),
            (
                "encoder",
                "hidden_act",
                json!("quick_gelu"),
                "encoder.hidden_act",
            ),
            (
                "decoder",
                "activation_function",
                json!("mish"),
                "decoder.activation_function",
            ),
            (
                "decoder",
                "cross_attention_hidden_size",
                json!(16),
                "decoder.cross_attention_hidden_size",
            ),
            ("encoder", "patch_size", json!(64), "encoder.patch_size"),
        ] {
            let mut v = base();
            v[section][key] = value;
            let e = HfConfig::from_value(&v, Path::new("x/config.json")).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(needle) && msg.contains("x/config.json"),
                "{msg}"
            );
        }
    }
}
