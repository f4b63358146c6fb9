//! Image preprocessing from `preprocessor_config.json` (ViTImageProcessor and its DeiT /
//! TrOCR relatives): resize to `size`, optional centre crop, rescale (`rescale_factor`,
//! usually 1/255) and normalise (`image_mean`, `image_std`) per channel. A grayscale crop
//! becomes the image's channels by repetition, as `convert("RGB")` does.
//!
//! The resize reproduces Pillow's separable convolution resampling on 8-bit images
//! (horizontal pass, then vertical; filter support widened by the scale when shrinking;
//! 22-bit fixed-point weights; each pass rounded and clipped to 8 bits), so the pixels equal
//! the reference processor's, not just resemble them.

use super::config::{read_json, typed};
use super::error::HfError;
use image::GrayImage;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// Keys this loader reads or knows to be harmless. Any other key is an error: it might
/// change the pixels in a way this implementation does not reproduce.
const KNOWN_KEYS: &[&str] = &[
    "do_resize",
    "size",
    "resample",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "image_mean",
    "image_std",
    "do_convert_rgb",
    "do_center_crop",
    "crop_size",
    "image_processor_type",
    "feature_extractor_type",
    "processor_class",
    "default_to_square",
];

/// Pillow resampling filters (the `resample` number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Lanczos,
    Bilinear,
    Bicubic,
    Box,
    Hamming,
}

impl Filter {
    fn from_pil(n: u64) -> Option<Self> {
        Some(match n {
            1 => Filter::Lanczos,
            2 => Filter::Bilinear,
            3 => Filter::Bicubic,
            4 => Filter::Box,
            5 => Filter::Hamming,
            _ => return None,
        })
    }

    fn support(self) -> f64 {
        match self {
            Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let sinc = |x: f64| {
            if x == 0.0 {
                1.0
            } else {
                let px = x * std::f64::consts::PI;
                px.sin() / px
            }
        };
        match self {
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => (1.0 - x.abs()).max(0.0),
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let px = x * std::f64::consts::PI;
                    px.sin() / px * (0.54 + 0.46 * px.cos())
                }
            }
            Filter::Bicubic => {
                let a = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * a
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output pixel: first source index and fixed-point weights.
fn coefficients(in_size: usize, out_size: usize, filter: Filter) -> Vec<(usize, Vec<i64>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            // C casts truncate toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let ws: Vec<f64> = (xmin..xmax)
                .map(|x| filter.weight((x as f64 - center + 0.5) / filterscale))
                .collect();
            let total: f64 = ws.iter().sum();
            let k = ws
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let f = w * (1u64 << PRECISION_BITS) as f64;
                    (if w < 0.0 { f - 0.5 } else { f + 0.5 }) as i64
                })
                .collect();
            (xmin, k)
        })
        .collect()
}

fn clip8(v: i64) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow-compatible resize of an 8-bit grayscale image.
pub fn resize(img: &GrayImage, width: usize, height: usize, filter: Filter) -> GrayImage {
    let (w0, h0) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let round = 1i64 << (PRECISION_BITS - 1);
    // Horizontal pass (skipped when the width does not change, as Pillow does).
    let (mid, mw) = if w0 != width {
        let co = coefficients(w0, width, filter);
        let mut out = vec![0u8; width * h0];
        for y in 0..h0 {
            let row = &src[y * w0..(y + 1) * w0];
            for (x, (xmin, k)) in co.iter().enumerate() {
                let s: i64 = k
                    .iter()
                    .enumerate()
                    .map(|(i, &kv)| row[xmin + i] as i64 * kv)
                    .sum();
                out[y * width + x] = clip8(s + round);
            }
        }
        (out, width)
    } else {
        (src.to_vec(), w0)
    };
    if h0 == height {
        return GrayImage::from_raw(mw as u32, h0 as u32, mid).expect("sized buffer");
    }
    let co = coefficients(h0, height, filter);
    let mut out = vec![0u8; mw * height];
    for (y, (ymin, k)) in co.iter().enumerate() {
        for x in 0..mw {
            let s: i64 = k
                .iter()
                .enumerate()
                .map(|(i, &kv)| mid[(ymin + i) * mw + x] as i64 * kv)
                .sum();
            out[y * mw + x] = clip8(s + round);
        }
    }
    GrayImage::from_raw(mw as u32, height as u32, out).expect("sized buffer")
}

/// The checkpoint's image preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    /// `[height, width]` after resizing.
    pub size: [usize; 2],
    pub filter: Filter,
    /// `[height, width]` of the centre crop, if any.
    pub crop: Option<[usize; 2]>,
    pub rescale: Option<f64>,
    /// Per-channel mean and std.
    pub normalize: Option<(Vec<f32>, Vec<f32>)>,
    pub channels: usize,
}

/// A size: an int (square) or `{"height", "width"}`; anything else (`shortest_edge` …) is kept
/// to be reported.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Square(usize),
    HeightWidth { height: usize, width: usize },
    Other(serde::de::IgnoredAny),
}

impl RawSize {
    fn pair(&self) -> Option<[usize; 2]> {
        match *self {
            RawSize::Square(n) => Some([n, n]),
            RawSize::HeightWidth { height, width } => Some([height, width]),
            RawSize::Other(_) => None,
        }
    }
}

/// One number for every channel, or a list.
#[derive(Deserialize)]
#[serde(untagged)]
enum Numbers {
    One(f32),
    Many(Vec<f32>),
}

/// `preprocessor_config.json`: the keys that change the pixels.
#[derive(Deserialize)]
struct RawPreprocessor {
    do_resize: Option<bool>,
    size: Option<RawSize>,
    resample: Option<u64>,
    do_center_crop: Option<bool>,
    crop_size: Option<RawSize>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f64>,
    do_normalize: Option<bool>,
    image_mean: Option<Numbers>,
    image_std: Option<Numbers>,
}

impl Preprocessor {
    /// Reads `preprocessor_config.json` and checks that it produces `channels × image_size`
    /// (the encoder's input).
    pub fn load(path: &Path, channels: usize, image_size: [usize; 2]) -> Result<Self, HfError> {
        let v = read_json(path)?;
        Self::from_value(&v, path, channels, image_size)
    }

    pub fn from_value(
        v: &Value,
        path: &Path,
        channels: usize,
        image_size: [usize; 2],
    ) -> Result<Self, HfError> {
        let err = |key: &str, message: String| HfError::Config {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        let Some(obj) = v.as_object() else {
            return Err(err("(top level)", "expected a JSON object".into()));
        };
        if let Some(k) = obj.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
            return Err(err(
                k,
                "unknown preprocessing key: this loader cannot tell whether it changes the pixels (supported: resize, centre crop, rescale, normalise)".into(),
            ));
        }
        let raw: RawPreprocessor = typed(v, path, "")?;
        if !raw.do_resize.unwrap_or(true) {
            return Err(err(
                "do_resize",
                "false is not supported: line crops come in every size and must be resized to the encoder's input".into(),
            ));
        }
        let size = match &raw.size {
            Some(s) => s.pair().ok_or_else(|| {
                err(
                    "size",
                    format!("expected an integer or {{\"height\", \"width\"}}, got {} (shortest_edge resizing is not supported)", obj["size"]),
                )
            })?,
            None => [224, 224],
        };
        let filter = match raw.resample {
            Some(r) => Filter::from_pil(r).ok_or_else(|| {
                err(
                    "resample",
                    format!(
                        "{r} is not supported (1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming)"
                    ),
                )
            })?,
            None => Filter::Bilinear,
        };
        let crop = if raw.do_center_crop.unwrap_or(false) {
            let c = raw
                .crop_size
                .as_ref()
                .and_then(RawSize::pair)
                .ok_or_else(|| {
                    err(
                        "crop_size",
                        "expected an integer or {\"height\", \"width\"}".into(),
                    )
                })?;
            if c[0] > size[0] || c[1] > size[1] {
                return Err(err(
                    "crop_size",
                    format!("{c:?} is larger than size {size:?}"),
                ));
            }
            Some(c)
        } else {
            None
        };
        let rescale = raw
            .do_rescale
            .unwrap_or(true)
            .then(|| raw.rescale_factor.unwrap_or(1.0 / 255.0));
        let normalize = if raw.do_normalize.unwrap_or(true) {
            let per_channel = |key: &str, v: Option<Numbers>| -> Result<Vec<f32>, HfError> {
                let list = match v {
                    None => vec![0.5; 3],
                    Some(Numbers::One(x)) => vec![x; channels],
                    Some(Numbers::Many(l)) => l,
                };
                match list {
                    l if l.len() == channels => Ok(l),
                    l if l.len() == 3 && channels == 1 => Ok(vec![l[0]]),
                    l => Err(err(key, format!("expected {channels} numbers, got {l:?}"))),
                }
            };
            let mean = per_channel("image_mean", raw.image_mean)?;
            let std = per_channel("image_std", raw.image_std)?;
            if std.contains(&0.0) {
                return Err(err("image_std", "must not contain 0".into()));
            }
            Some((mean, std))
        } else {
            None
        };
        let out = crop.unwrap_or(size);
        if out != image_size {
            return Err(err(
                if crop.is_some() { "crop_size" } else { "size" },
                format!(
                    "produces {}×{} (height×width) images but config.json encoder.image_size is {}×{}",
                    out[0], out[1], image_size[0], image_size[1]
                ),
            ));
        }
        Ok(Preprocessor {
            size,
            filter,
            crop,
            rescale,
            normalize,
            channels,
        })
    }

    /// Output `[height, width]`.
    pub fn output_size(&self) -> [usize; 2] {
        self.crop.unwrap_or(self.size)
    }

    /// `channels × H × W` values, channel-major, for a grayscale crop.
    pub fn pixels(&self, img: &GrayImage) -> Vec<f32> {
        let [h, w] = self.size;
        let img = if img.width() == 0 || img.height() == 0 {
            GrayImage::from_pixel(w as u32, h as u32, image::Luma([255]))
        } else {
            resize(img, w, h, self.filter)
        };
        let [oh, ow] = self.output_size();
        let (top, left) = ((h - oh) / 2, (w - ow) / 2);
        let raw = img.as_raw();
        let mut out = Vec::with_capacity(self.channels * oh * ow);
        for c in 0..self.channels {
            for y in top..top + oh {
                for x in left..left + ow {
                    let p = raw[y * w + x];
                    // Rescaled in f64 and stored as f32, normalised in f32 (as the reference).
                    let mut v = match self.rescale {
                        Some(f) => (p as f64 * f) as f32,
                        None => p as f32,
                    };
                    if let Some((mean, std)) = &self.normalize {
                        v = (v - mean[c]) / std[c];
                    }
                    out.push(v);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resize_identity_and_constant() {
        let img = GrayImage::from_fn(7, 5, |x, y| image::Luma([(x * 30 + y) as u8]));
        assert_eq!(resize(&img, 7, 5, Filter::Bilinear), img);
        let flat = GrayImage::from_pixel(50, 20, image::Luma([77]));
        for f in [
            Filter::Bilinear,
            Filter::Bicubic,
            Filter::Lanczos,
            Filter::Box,
        ] {
            let r = resize(&flat, 13, 31, f);
            assert_eq!(r.dimensions(), (13, 31));
            assert!(r.pixels().all(|p| p.0[0] == 77), "{f:?}");
        }
    }

    #[test]
    fn config_checks_name_keys() {
        let p = Path::new("pp.json");
        let ok = json!({"size": {"height": 32, "width": 96}, "resample": 2});
        let pp = Preprocessor::from_value(&ok, p, 3, [32, 96]).unwrap();
        assert_eq!(pp.output_size(), [32, 96]);
        let px = pp.pixels(&GrayImage::from_pixel(10, 10, image::Luma([255])));
        assert_eq!(px.len(), 3 * 32 * 96);
        assert!(px.iter().all(|v| (*v - 1.0).abs() < 1e-6));
        for (v, key) in [
            (json!({"size": 32, "do_pad": true}), "do_pad"),
            (json!({"size": 32, "resample": 0}), "resample"),
            (json!({"size": 64}), "size"),
            (json!({"size": 32, "do_resize": false}), "do_resize"),
        ] {
            let e = Preprocessor::from_value(&v, p, 3, [32, 96]).unwrap_err();
            assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
        }
    }
}
