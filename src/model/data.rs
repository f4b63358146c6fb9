//! Training data generated on the fly and reproducibly: sample `i` of batch `step` depends
//! only on (seed, step, i), so a resumed run sees exactly the data it would have seen.
//! Text → font, size and effective DPI → rendered coverage → detector-like crop → model input.

use super::augment::{clutter_crop, detector_crop};
use super::fonts::FontSet;
use super::line_render::{render_line, LayoutStyle};
use super::ocr::LineBatch;
use super::page_crops::CropBank;
use super::preprocess::{batch_tensor, line_input, LineInput};
use super::textgen::sample_line;
use super::tokenizer::{Tokenizer, BOS, EOS, PAD};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// One training line: the model input and its transcription.
#[derive(Debug, Clone)]
pub struct LineSample {
    pub input: LineInput,
    pub text: String,
}

/// Character-count buckets `(min, max, weight)`: a batch draws all its lines from one bucket
/// to limit padding. Weighted towards short lines since step 3,600 of `builtin-v1` (was
/// 3/4/3/2): the recogniser reads pieces of at most about five syllables
/// (`recognizer::DEFAULT_PIECE_WIDTH`); long lines keep a share so the decoder still learns
/// to hold its place. Validation draws every bucket equally whatever the weights.
const BUCKETS: [(usize, usize, u32); 4] = [(1, 6, 4), (4, 12, 5), (10, 20, 2), (18, 30, 1)];
/// Validation draws from the first buckets only (what the page pipeline feeds the model).
const VALIDATION_BUCKETS: usize = 2;

pub struct DataGen {
    /// Training families (`font_pool::Role::Training`).
    pub fonts: FontSet,
    /// Held-out families: validation lines are rendered in these only.
    pub held_out: FontSet,
    pub tokenizer: Tokenizer,
    pub line_height: usize,
    pub max_width: usize,
    /// Most characters of a training line (decoder length budget).
    pub max_chars: usize,
    /// Render every line at this DPI instead of the random 72–600 mix (evaluation per DPI).
    pub fixed_dpi: Option<f32>,
    /// Crops cut from whole pages by the page pipeline (`page_crops`), drawn for
    /// [`PAGE_CROP_SHARE`] of training lines when set.
    pub bank: Option<BankIndex>,
}

/// A crop bank indexed for drawing by length.
pub struct BankIndex {
    pub bank: CropBank,
    /// Entries without text.
    empty: Vec<usize>,
    /// Entries with text, sorted by character count: `(chars, entry)`.
    by_len: Vec<(usize, usize)>,
}

impl BankIndex {
    pub fn new(bank: CropBank) -> BankIndex {
        let mut empty = Vec::new();
        let mut by_len = Vec::new();
        for (i, e) in bank.entries.iter().enumerate() {
            match e.text.chars().count() {
                0 => empty.push(i),
                n => by_len.push((n, i)),
            }
        }
        by_len.sort_unstable();
        BankIndex {
            bank,
            empty,
            by_len,
        }
    }

    /// An entry with `min..=max` characters (the nearest lengths when none), or one without
    /// text with probability [`BANK_EMPTY_SHARE`].
    fn draw<R: Rng>(&self, rng: &mut R, min: usize, max: usize) -> usize {
        if !self.empty.is_empty() && (self.by_len.is_empty() || rng.random_bool(BANK_EMPTY_SHARE)) {
            return self.empty[rng.random_range(0..self.empty.len())];
        }
        let lo = self.by_len.partition_point(|e| e.0 < min);
        let hi = self.by_len.partition_point(|e| e.0 <= max);
        let (lo, hi) = if lo < hi {
            (lo, hi)
        } else {
            let k = lo.min(self.by_len.len() - 1);
            (k, k + 1)
        };
        self.by_len[rng.random_range(lo..hi)].1
    }
}

/// Mixes a seed with stream numbers (SplitMix64 finaliser), so nearby steps get unrelated streams.
pub fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xD1B5_4A32_D192_ED69);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl DataGen {
    pub fn new(
        tokenizer: Tokenizer,
        line_height: usize,
        max_width: usize,
    ) -> Result<Self, super::ModelError> {
        Ok(DataGen {
            fonts: FontSet::system()?,
            held_out: FontSet::held_out()?,
            tokenizer,
            line_height,
            max_width,
            max_chars: 34,
            fixed_dpi: None,
            bank: None,
        })
    }

    /// One sample with `min..=max` characters, fully determined by `seed` (and the pool of
    /// generated-document texts it may draw from).
    pub fn sample(
        &self,
        seed: u64,
        min_chars: usize,
        max_chars: usize,
        pool: &[String],
    ) -> LineSample {
        if let Some(bank) = &self.bank {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, 0xBA4C, 0));
            if rng.random_bool(PAGE_CROP_SHARE) {
                if let Some(s) = self.bank_sample(bank, &mut rng, min_chars, max_chars) {
                    return s;
                }
            }
        }
        self.sample_with(&self.fonts, seed, min_chars, max_chars, pool)
    }

    /// A crop of the bank as the page pipeline cut it (no further augmentation: its rules,
    /// shading, blur and JPEG are the page's own). `None` if it cannot be used (unreadable,
    /// too wide, longer than the decoder budget).
    fn bank_sample<R: Rng>(
        &self,
        bank: &BankIndex,
        rng: &mut R,
        min: usize,
        max: usize,
    ) -> Option<LineSample> {
        let i = bank.draw(rng, min, max.min(self.max_chars));
        let img = bank.bank.image(i).ok()?;
        let text = &bank.bank.entries[i].text;
        if text.chars().count() > self.max_chars {
            return None;
        }
        let input = line_input(&img, self.line_height, usize::MAX / 2);
        if input.width >= self.max_width {
            return None;
        }
        let text = self.tokenizer.decode(&self.tokenizer.encode(text).ids);
        Some(LineSample { input, text })
    }

    fn sample_with(
        &self,
        fonts: &FontSet,
        seed: u64,
        min_chars: usize,
        max_chars: usize,
        pool: &[String],
    ) -> LineSample {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        if rng.random_bool(CLUTTER_SHARE) {
            return self.clutter(fonts, &mut rng);
        }
        let mut max_chars = max_chars.min(self.max_chars);
        let from_docs = !pool.is_empty() && rng.random_bool(SYNTH_SHARE);
        for _attempt in 0..6 {
            let text = if from_docs {
                pool_line(&mut rng, pool, min_chars.min(max_chars), max_chars)
            } else {
                sample_line(&mut rng, min_chars.min(max_chars), max_chars)
            };
            if let Some(s) = self.render_with(fonts, &text, &mut rng) {
                if s.input.width < self.max_width {
                    return s;
                }
                // Too wide at the model's height: shorten and retry.
                max_chars = (text.chars().count() * 2 / 3).max(1);
                continue;
            }
        }
        let text = "0".to_string();
        self.render_with(fonts, &text, &mut rng)
            .expect("a digit renders")
    }

    /// A crop without text (a rule, shading, specks, a barcode, a stamp arc, a neighbouring
    /// line's sliver): its transcription is empty, so the model learns to answer nothing.
    fn clutter<R: Rng>(&self, fonts: &FontSet, rng: &mut R) -> LineSample {
        let neighbour = rng.random_bool(0.3).then(|| {
            let text = sample_line(rng, 3, 12);
            let font = fonts.pick(&text, rng.random::<f64>());
            render_line(
                &font.font,
                &text,
                rng.random_range(16.0..60.0),
                LayoutStyle {
                    tracking: 0.0,
                    space_scale: 1.0,
                },
            )
        });
        let crop = clutter_crop(rng, neighbour.as_ref());
        LineSample {
            input: line_input(&crop, self.line_height, self.max_width - 1),
            text: String::new(),
        }
    }

    /// Renders `text` with a random training font, size and DPI, then augments it.
    pub fn render<R: Rng>(&self, text: &str, rng: &mut R) -> Option<LineSample> {
        self.render_with(&self.fonts, text, rng)
    }

    fn render_with<R: Rng>(&self, fonts: &FontSet, text: &str, rng: &mut R) -> Option<LineSample> {
        let font = fonts.pick(text, rng.random::<f64>());
        // Effective DPI 72–600, weighted towards the usual 150–300; 9–12 pt (a little wider).
        let dpi: f32 = match rng.random_range(0..10) {
            0..=1 => rng.random_range(72.0..120.0),
            2..=6 => rng.random_range(120.0..320.0),
            _ => rng.random_range(320.0..600.0),
        };
        let dpi = self.fixed_dpi.unwrap_or(dpi);
        // 8–16 pt: small print and table cells up to titles.
        let pt: f32 = if rng.random_bool(0.8) {
            rng.random_range(8.0..13.0)
        } else {
            rng.random_range(13.0..16.5)
        };
        let px = pt * dpi / 72.0;
        let style = LayoutStyle {
            tracking: if rng.random_bool(0.3) {
                rng.random_range(-0.03..0.12)
            } else {
                0.0
            },
            space_scale: if rng.random_bool(0.1) {
                rng.random_range(1.5..4.0)
            } else {
                rng.random_range(0.8..1.3)
            },
        };
        let cov = render_line(&font.font, text, px, style);
        let crop = detector_crop(&cov, rng)?;
        let input = line_input(&crop, self.line_height, usize::MAX / 2);
        let text = self.tokenizer.decode(&self.tokenizer.encode(text).ids);
        Some(LineSample { input, text })
    }

    /// The batch of training step `step`.
    pub fn batch(&self, seed: u64, step: u64, size: usize) -> Vec<LineSample> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, step, 0xB0C4));
        let total: u32 = BUCKETS.iter().map(|b| b.2).sum();
        let mut x = rng.random_range(0..total);
        let mut bucket = BUCKETS[0];
        for b in BUCKETS {
            if x < b.2 {
                bucket = b;
                break;
            }
            x -= b.2;
        }
        let pool = synth_pool(mix(seed, step, 0xD0C5), DOCS_PER_BATCH);
        (0..size)
            .into_par_iter()
            .map(|i| self.sample(mix(seed, step, i as u64 + 1), bucket.0, bucket.1, &pool))
            .collect()
    }

    /// A fixed validation set (its own seed stream, short lines of up to 12 characters, and
    /// crops without text), rendered in the held-out font families only.
    pub fn validation(&self, seed: u64, count: usize) -> Vec<LineSample> {
        let pool = synth_pool(mix(seed ^ 0x5A11_DA7E, u64::MAX, 0xD0C5), 12);
        (0..count)
            .into_par_iter()
            .map(|i| {
                // Short lines only: the recogniser reads pieces of at most ~160 px (a few
                // syllables), so long-line CER no longer tracks page quality.
                let b = BUCKETS[i % VALIDATION_BUCKETS];
                self.sample_with(
                    &self.held_out,
                    mix(seed ^ 0x5A11_DA7E, u64::MAX - 1, i as u64),
                    b.0,
                    b.1,
                    &pool,
                )
            })
            .collect()
    }
}

/// Share of lines drawn from the project's document generator (the rest from `textgen`,
/// which covers every syllable and symbol of the vocabulary).
const SYNTH_SHARE: f64 = 0.55;
/// Share of crops without text (empty transcription).
const CLUTTER_SHARE: f64 = 0.08;
/// Share of training lines drawn from the page-crop bank when one is given.
pub const PAGE_CROP_SHARE: f64 = 0.4;
/// Share of bank draws that take a crop without text (a rule, seal, barcode or sliver the
/// pipeline left on a real page).
const BANK_EMPTY_SHARE: f64 = 0.12;
/// Generated documents whose lines feed one batch.
const DOCS_PER_BATCH: usize = 3;

/// The texts of a few generated documents: every cell (what the line detector cuts out) and,
/// now and then, a whole multi-cell line (when cells sit too close to be split).
pub fn synth_pool(seed: u64, docs: usize) -> Vec<String> {
    use crate::dataset::{synth, DocType};
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pool = Vec::new();
    for _ in 0..docs {
        let t = DocType::ALL[rng.random_range(0..DocType::ALL.len())];
        let doc = synth::document(t, rng.random());
        for line in &doc.lines {
            for c in &line.cells {
                let c = c.split_whitespace().collect::<Vec<_>>().join(" ");
                if !c.is_empty() {
                    pool.push(c);
                }
            }
            if line.cells.len() > 1 && rng.random_bool(0.1) {
                pool.push(line.text());
            }
        }
    }
    pool
}

/// A pool text fitted to `min..=max` characters: long texts give a window of whole words (the
/// recogniser splits over-wide segments at gaps), short ones are joined with another text.
fn pool_line<R: Rng>(rng: &mut R, pool: &[String], min: usize, max: usize) -> String {
    let mut s = pool[rng.random_range(0..pool.len())].clone();
    while s.chars().count() < min {
        s = format!("{s} {}", pool[rng.random_range(0..pool.len())]);
    }
    if s.chars().count() > max {
        let words: Vec<&str> = s.split(' ').collect();
        let start = rng.random_range(0..words.len());
        let mut out = String::new();
        for w in &words[start..] {
            let n = out.chars().count() + usize::from(!out.is_empty()) + w.chars().count();
            if n > max {
                break;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
        if out.is_empty() {
            let chars: Vec<char> = words[start].chars().collect();
            let a = rng.random_range(0..=chars.len().saturating_sub(max));
            out = chars[a..(a + max).min(chars.len())].iter().collect();
        }
        s = out;
    }
    s
}

/// Builds the device tensors of a training batch.
pub fn to_batch<B: Backend>(
    samples: &[LineSample],
    tokenizer: &Tokenizer,
    device: &B::Device,
) -> LineBatch<B> {
    let inputs: Vec<&LineInput> = samples.iter().map(|s| &s.input).collect();
    let (images, widths) = batch_tensor::<B>(&inputs, device);
    let ids: Vec<Vec<u32>> = samples
        .iter()
        .map(|s| tokenizer.encode(&s.text).ids)
        .collect();
    let b = samples.len();
    let t = ids.iter().map(|v| v.len() + 1).max().unwrap_or(1);
    let l = ids.iter().map(|v| v.len()).max().unwrap_or(1).max(1);
    let (mut din, mut dout, mut mask, mut ctc) = (
        vec![PAD as i64; b * t],
        vec![PAD as i64; b * t],
        vec![0f32; b * t],
        vec![PAD as i64; b * l],
    );
    let mut target_tokens = 0;
    for (i, v) in ids.iter().enumerate() {
        din[i * t] = BOS as i64;
        for (j, &id) in v.iter().enumerate() {
            din[i * t + j + 1] = id as i64;
            dout[i * t + j] = id as i64;
            ctc[i * l + j] = id as i64;
        }
        dout[i * t + v.len()] = EOS as i64;
        for m in &mut mask[i * t..i * t + v.len() + 1] {
            *m = 1.0;
        }
        target_tokens += v.len() + 1;
    }
    let int2 = |v: Vec<i64>, cols: usize| {
        Tensor::<B, 2, Int>::from_data(TensorData::new(v, [b, cols]), device)
    };
    LineBatch {
        images,
        widths,
        decoder_input: int2(din, t),
        decoder_target: int2(dout, t),
        target_tokens,
        target_mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
        ctc_targets: int2(ctc, l),
        // Zero for a crop without text: CTC's path is then all blanks.
        ctc_target_lengths: ids.iter().map(|v| v.len()).collect(),
    }
}
