//! The checkpoint's `config.json` (a `VisionEncoderDecoderModel`: ViT or DeiT encoder, TrOCR
//! decoder) and generation settings (`generation_config.json`, else `config.json`).
//!
//! Keys that change the computation are read (serde, with `serde_path_to_error` so a value of
//! the wrong type names its key) and checked; a value this implementation does not support
//! is an error naming the key. Keys that only matter for training or for other
//! frameworks (dropout, `torchscript`, `initializer_range` …) are ignored. Beam-search
//! settings are recorded but not applied: decoding is greedy.

use super::error::HfError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
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

/// Deserialises `v` (the contents of `path`); a value of the wrong type is an error naming
/// its key, `prefix` included.
pub(super) fn typed<T: DeserializeOwned>(
    v: &Value,
    path: &Path,
    prefix: &str,
) -> Result<T, HfError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let at = e.path().to_string();
        HfError::Config {
            path: path.to_path_buf(),
            key: if at == "." {
                prefix.trim_end_matches('.').to_string()
            } else {
                format!("{prefix}{at}")
            },
            message: e.into_inner().to_string(),
        }
    })
}

/// An int or a `[height, width]` pair.
#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
enum Size {
    Square(usize),
    Pair([usize; 2]),
}

/// `config.json`'s encoder section: only the keys that change the computation.
#[derive(Deserialize)]
struct RawEncoder {
    model_type: Option<String>,
    image_size: Option<Size>,
    patch_size: Option<Size>,
    num_channels: Option<usize>,
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    hidden_act: Option<String>,
    layer_norm_eps: Option<f64>,
    qkv_bias: Option<bool>,
    use_mask_token: Option<bool>,
}

/// `config.json`'s decoder section.
#[derive(Deserialize)]
struct RawDecoder {
    model_type: Option<String>,
    is_decoder: Option<bool>,
    d_model: Option<usize>,
    cross_attention_hidden_size: Option<usize>,
    vocab_size: Option<usize>,
    decoder_layers: Option<usize>,
    decoder_attention_heads: Option<usize>,
    decoder_ffn_dim: Option<usize>,
    activation_function: Option<String>,
    max_position_embeddings: Option<usize>,
    use_learned_position_embeddings: Option<bool>,
    layernorm_embedding: Option<bool>,
    scale_embedding: Option<bool>,
    tie_word_embeddings: Option<bool>,
    pad_token_id: Option<u32>,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    encoder: Option<Value>,
    decoder: Option<Value>,
}

/// Checks of one section of a config file, with the key prefix for messages.
struct Section<'a> {
    path: &'a Path,
    prefix: &'a str,
}

impl Section<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> HfError {
        HfError::Config {
            path: self.path.to_path_buf(),
            key: format!("{}{key}", self.prefix),
            message: message.into(),
        }
    }

    fn required<'v>(&self, key: &str, v: &'v Option<String>) -> Result<&'v str, HfError> {
        v.as_deref().ok_or_else(|| self.err(key, "missing"))
    }

    fn positive(&self, key: &str, v: Option<usize>, default: usize) -> Result<usize, HfError> {
        match v.unwrap_or(default) {
            0 => Err(self.err(key, "must be positive")),
            n => Ok(n),
        }
    }

    fn pair(&self, key: &str, v: Option<Size>, default: usize) -> Result<[usize; 2], HfError> {
        let [h, w] = match v {
            Some(Size::Pair(p)) => p,
            Some(Size::Square(n)) => [n, n],
            None => [default, default],
        };
        if h == 0 || w == 0 {
            return Err(self.err(key, "expected two positive integers [height, width]"));
        }
        Ok([h, w])
    }

    fn activation(&self, key: &str, v: &Option<String>) -> Result<Activation, HfError> {
        let name = v.as_deref().unwrap_or("gelu");
        Activation::parse(name).ok_or_else(|| {
            self.err(
                key,
                format!("activation '{name}' is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu, swish)"),
            )
        })
    }
}

fn parse_encoder(s: &Section, r: RawEncoder) -> Result<EncoderConfig, HfError> {
    let kind = match s.required("model_type", &r.model_type)? {
        "vit" => EncoderKind::Vit,
        "deit" => EncoderKind::Deit,
        other => {
            return Err(s.err(
                "model_type",
                format!("encoder '{other}' is not supported (supported: vit, deit)"),
            ))
        }
    };
    let c = EncoderConfig {
        kind,
        image_size: s.pair("image_size", r.image_size, 224)?,
        patch_size: s.pair("patch_size", r.patch_size, 16)?,
        num_channels: s.positive("num_channels", r.num_channels, 3)?,
        hidden_size: s.positive("hidden_size", r.hidden_size, 768)?,
        num_layers: r.num_hidden_layers.unwrap_or(12),
        num_heads: s.positive("num_attention_heads", r.num_attention_heads, 12)?,
        intermediate_size: s.positive("intermediate_size", r.intermediate_size, 3072)?,
        activation: s.activation("hidden_act", &r.hidden_act)?,
        layer_norm_eps: match r.layer_norm_eps {
            Some(e) if e > 0.0 => e,
            Some(_) => return Err(s.err("layer_norm_eps", "expected a positive number")),
            None => 1e-12,
        },
        qkv_bias: r.qkv_bias.unwrap_or(true),
    };
    if !matches!(c.num_channels, 1 | 3) {
        return Err(s.err("num_channels", "only 1 or 3 input channels are supported"));
    }
    if c.hidden_size % c.num_heads != 0 {
        return Err(s.err(
            "num_attention_heads",
            format!(
                "hidden_size {} is not a multiple of {}",
                c.hidden_size, c.num_heads
            ),
        ));
    }
    if c.patch_size[0] > c.image_size[0] || c.patch_size[1] > c.image_size[1] {
        return Err(s.err("patch_size", "larger than image_size"));
    }
    if r.use_mask_token.unwrap_or(false) {
        return Err(s.err(
            "use_mask_token",
            "mask tokens (masked image modelling) are not supported",
        ));
    }
    Ok(c)
}

fn parse_decoder(
    s: &Section,
    r: RawDecoder,
    encoder_hidden: usize,
) -> Result<(DecoderConfig, bool), HfError> {
    let model_type = s.required("model_type", &r.model_type)?;
    if model_type != "trocr" {
        return Err(s.err(
            "model_type",
            format!("decoder '{model_type}' is not supported (supported: trocr)"),
        ));
    }
    if !r.is_decoder.unwrap_or(true) {
        return Err(s.err(
            "is_decoder",
            "must be true: without it the TrOCR decoder has no cross-attention to the image",
        ));
    }
    let d_model = s.positive("d_model", r.d_model, 1024)?;
    let cross = match r.cross_attention_hidden_size {
        Some(c) => Some(s.positive("cross_attention_hidden_size", Some(c), c)?),
        None => None,
    };
    if let Some(c) = cross.filter(|&c| c != encoder_hidden) {
        return Err(s.err(
            "cross_attention_hidden_size",
            format!("{c} differs from encoder.hidden_size {encoder_hidden}"),
        ));
    }
    // As in VisionEncoderDecoderModel: a projection when widths differ and the decoder does
    // not read the encoder width itself.
    let proj = cross.is_none() && encoder_hidden != d_model;
    let c = DecoderConfig {
        vocab_size: s.positive("vocab_size", r.vocab_size, 50265)?,
        d_model,
        num_layers: r.decoder_layers.unwrap_or(12),
        num_heads: s.positive("decoder_attention_heads", r.decoder_attention_heads, 16)?,
        ffn_dim: s.positive("decoder_ffn_dim", r.decoder_ffn_dim, 4096)?,
        activation: s.activation("activation_function", &r.activation_function)?,
        max_position_embeddings: s.positive(
            "max_position_embeddings",
            r.max_position_embeddings,
            512,
        )?,
        learned_positions: r.use_learned_position_embeddings.unwrap_or(true),
        layernorm_embedding: r.layernorm_embedding.unwrap_or(true),
        scale_embedding: r.scale_embedding.unwrap_or(false),
        cross_attention_hidden_size: if proj {
            d_model
        } else {
            cross.unwrap_or(encoder_hidden)
        },
        tie_word_embeddings: r.tie_word_embeddings.unwrap_or(true),
        pad_token_id: r.pad_token_id.unwrap_or(1),
    };
    if c.d_model % c.num_heads != 0 {
        return Err(s.err(
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
        let top = Section { path, prefix: "" };
        let raw: RawConfig = typed(v, path, "")?;
        let mt = top.required("model_type", &raw.model_type)?;
        if mt != "vision-encoder-decoder" {
            return Err(top.err(
                "model_type",
                format!(
                    "'{mt}' is not a VisionEncoderDecoderModel (expected 'vision-encoder-decoder')"
                ),
            ));
        }
        let section = |key: &str, v: &Option<Value>| match v {
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            _ => Err(top.err(key, "missing or not an object")),
        };
        let (encoder, decoder) = (
            section("encoder", &raw.encoder)?,
            section("decoder", &raw.decoder)?,
        );
        let enc = Section {
            path,
            prefix: "encoder.",
        };
        let encoder = parse_encoder(&enc, typed(&encoder, path, enc.prefix)?)?;
        let dec = Section {
            path,
            prefix: "decoder.",
        };
        let (decoder, enc_to_dec_proj) = parse_decoder(
            &dec,
            typed(&decoder, path, dec.prefix)?,
            encoder.hidden_size,
        )?;
        Ok(HfConfig {
            encoder,
            decoder,
            enc_to_dec_proj,
        })
    }
}

/// A token id or a list of them.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl TokenIds {
    fn into_vec(self) -> Vec<u32> {
        match self {
            TokenIds::One(id) => vec![id],
            TokenIds::Many(ids) => ids,
        }
    }
}

/// The generation keys of one source (generation_config.json, config.json or its decoder).
#[derive(Deserialize, Default)]
struct RawGeneration {
    decoder_start_token_id: Option<TokenIds>,
    eos_token_id: Option<TokenIds>,
    max_new_tokens: Option<Value>,
    max_length: Option<Value>,
    num_beams: Option<Value>,
    no_repeat_ngram_size: Option<Value>,
    length_penalty: Option<Value>,
    repetition_penalty: Option<Value>,
    do_sample: Option<Value>,
}

impl RawGeneration {
    /// The beam-search and sampling keys of this source (not applied: decoding is greedy).
    fn not_applied(&self) -> [(&'static str, Option<&Value>); 5] {
        [
            ("num_beams", self.num_beams.as_ref()),
            ("no_repeat_ngram_size", self.no_repeat_ngram_size.as_ref()),
            ("length_penalty", self.length_penalty.as_ref()),
            ("repetition_penalty", self.repetition_penalty.as_ref()),
            ("do_sample", self.do_sample.as_ref()),
        ]
    }
}

/// Whether a beam-search or sampling value is what greedy decoding does anyway.
fn is_greedy_default(key: &str, v: &Value) -> bool {
    match key {
        "num_beams" => v.as_u64() == Some(1),
        "no_repeat_ngram_size" => v.as_u64() == Some(0),
        "do_sample" => matches!(v, Value::Bool(false)),
        _ => v.as_f64() == Some(1.0),
    }
}

/// Generation settings: `generation_config.json` when present, else the top level of
/// `config.json`, else its `decoder` section (the order `transformers` reads them in).
pub fn load_generation(dir: &Path) -> Result<GenerationSettings, HfError> {
    let config_path = dir.join("config.json");
    let config = read_json(&config_path)?;
    let gen_path = dir.join("generation_config.json");
    let gen = if gen_path.exists() {
        Some(typed::<RawGeneration>(
            &read_json(&gen_path)?,
            &gen_path,
            "",
        )?)
    } else {
        None
    };
    let decoder = match config.get("decoder") {
        Some(d) => typed(d, &config_path, "decoder.")?,
        None => RawGeneration::default(),
    };
    // The sources in reading order, with the key prefix of each.
    let sources: Vec<(&str, RawGeneration)> = gen
        .into_iter()
        .map(|g| ("", g))
        .chain([
            ("", typed(&config, &config_path, "")?),
            ("decoder.", decoder),
        ])
        .collect();
    let first = |pick: fn(&RawGeneration) -> Option<&Value>| {
        sources
            .iter()
            .find_map(|(prefix, g)| pick(g).map(|v| (*prefix, v)))
    };
    let start = sources
        .iter()
        .find_map(|(_, g)| g.decoder_start_token_id.clone())
        .and_then(|t| t.into_vec().first().copied())
        .ok_or_else(|| HfError::Config {
            path: config_path.clone(),
            key: "decoder_start_token_id".into(),
            message: "missing (in generation_config.json and config.json)".into(),
        })?;
    let eos = sources
        .iter()
        .find_map(|(_, g)| g.eos_token_id.clone())
        .map(TokenIds::into_vec)
        .unwrap_or_default();
    let max_length = match first(|g| g.max_new_tokens.as_ref()).and_then(|(_, v)| v.as_u64()) {
        Some(n) => n as usize + 1,
        None => first(|g| g.max_length.as_ref())
            .and_then(|(_, v)| v.as_u64())
            .map(|n| n as usize)
            .unwrap_or(20), // the transformers default
    };
    let ignored = (0..5)
        .filter_map(|k| {
            let (prefix, (key, v)) = sources.iter().find_map(|(prefix, g)| {
                let (key, v) = g.not_applied()[k];
                v.map(|v| (*prefix, (key, v)))
            })?;
            (!is_greedy_default(key, v)).then(|| format!("{prefix}{key}={v}"))
        })
        .collect();
    Ok(GenerationSettings {
        decoder_start_token_id: start,
        eos_token_ids: eos,
        max_length,
        ignored,
        source: if gen_path.exists() {
            gen_path
        } else {
            config_path
        },
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
