//! How a segment too wide for the built-in model is cut into pieces at column gaps, and
//! how wide a piece may be. The thresholds were measured on the bundled dataset (see each
//! constant).

use super::config::ModelConfig;
use image::GrayImage;

/// Default widest piece, in pixels at the 32 px line height (aspect 5: about five Hangul
/// syllables). The decoder of `builtin-v1` drifts on long inputs (repeats, skips, invents
/// words); reading short pieces split at column gaps and gluing them back measured, on the
/// bundled discharge summaries, medical records and diagnoses at 150 DPI, corpus CER
/// 21.5 % at 800 px, 12.4 % at 480, 7.4 % at 320, 6.3 % at 256, 5.1 % at 200, 4.9 % at 160,
/// 5.8 % at 128 and 7.9 % at 96 (too little context per piece), and it is faster
/// (shorter decodes): 20–22 s instead of 31 s for the 12 pages.
pub const DEFAULT_PIECE_WIDTH: usize = 160;

/// A gap is a word space when it is at least this many crop heights wide …
pub const SPACE_MIN_HEIGHTS: f32 = 0.2;
/// … and at least this many times the segment's median gap. With the height rule alone,
/// fonts with wide letter spacing got spaces inside words (`건강보 험`): on the bundled
/// dataset at 150/300 DPI, corpus CER 2.26/2.08 % with the height rule alone, 2.23/1.91 %
/// with 1.8× the median, 2.64/2.44 % with 2.2× (real spaces lost). A fixed 0.3 or 0.4
/// heights lost real spaces too (3.31/2.49 %, 8.02/7.76 %).
pub const SPACE_VS_MEDIAN_GAP: f32 = 1.8;
/// A segment without a word space is read whole up to this many piece widths: cutting a
/// word a little over the width made both halves harder to read. Bundled, 150/300 DPI,
/// with the median rule: 1.87/1.60 % at 1.4, 1.74/1.60 % at 1.7; on 20 held-out documents
/// 2.22/2.08 % (neither rule) → 1.81/1.68 % (1.4) → 1.75/1.65 % (1.7) → 1.72/1.63 % (2.0).
pub const WHOLE_WORD_SLACK: f32 = 1.7;

/// The piece width a model reads by default: [`DEFAULT_PIECE_WIDTH`], or its trained
/// width when that is narrower.
pub fn default_piece_width(config: &ModelConfig) -> usize {
    DEFAULT_PIECE_WIDTH.min(config.max_line_width)
}

/// How a segment too wide for the model is cut into pieces at column gaps.
#[derive(Debug, Clone, Copy)]
pub struct Splitter {
    /// Widest piece, in pixels at `line_height`.
    pub max_piece_width: usize,
    pub line_height: usize,
}

/// One piece of a segment.
#[derive(Debug, Clone)]
pub struct Part {
    pub image: GrayImage,
    /// First column of the piece in the segment's crop.
    pub x: u32,
    /// Split inside a word: glued to the previous piece without a space.
    pub glue_to_prev: bool,
}

impl Splitter {
    /// Splits a crop wider than the model's trained width (at its height) at column gaps.
    ///
    /// Whether a gap is a space depends on the font's letter spacing, so the threshold is
    /// relative to the segment's own gaps (most of which are between letters): at least
    /// [`SPACE_MIN_HEIGHTS`] crop heights and [`SPACE_VS_MEDIAN_GAP`] times the median gap.
    pub fn split(&self, img: GrayImage) -> Vec<Part> {
        if self.fits(&img) {
            return vec![Part {
                image: img,
                x: 0,
                glue_to_prev: false,
            }];
        }
        let gaps = column_gaps(&img);
        let mut space = SPACE_MIN_HEIGHTS * img.height() as f32;
        if gaps.len() >= 4 {
            let mut widths: Vec<u32> = gaps.iter().map(|g| g.1).collect();
            widths.sort_unstable();
            space = space.max(SPACE_VS_MEDIAN_GAP * widths[widths.len() / 2] as f32);
        }
        self.split_at(img, 0, gaps, space)
    }

    /// Whether a crop can be read as one piece.
    fn fits(&self, img: &GrayImage) -> bool {
        let (w, h) = img.dimensions();
        (w as f32) <= self.max_width_at(h) || w < 16
    }

    /// The widest piece at crop height `h`.
    fn max_width_at(&self, h: u32) -> f32 {
        self.max_piece_width as f32 * h as f32 / self.line_height as f32
    }

    /// A part (starting at column `x` of the segment) of a split crop: whole if it fits, else
    /// split further.
    fn split_part(&self, img: GrayImage, x: u32, space: f32) -> Vec<Part> {
        if self.fits(&img) {
            return vec![Part {
                image: img,
                x,
                glue_to_prev: false,
            }];
        }
        let gaps = column_gaps(&img);
        self.split_at(img, x, gaps, space)
    }

    /// Cuts `img` (too wide to fit; its column gaps are `gaps`) until every part fits, at the
    /// widest gaps nearest the middle; a gap of at least `space` pixels is a word space.
    fn split_at(&self, img: GrayImage, x: u32, gaps: Vec<(u32, u32)>, space: f32) -> Vec<Part> {
        let (w, h) = img.dimensions();
        let max_w = self.max_width_at(h);
        // One word a little over the width reads better whole than cut inside.
        if (w as f32) <= WHOLE_WORD_SLACK * max_w && gaps.iter().all(|g| (g.1 as f32) < space) {
            return vec![Part {
                image: img,
                x,
                glue_to_prev: false,
            }];
        }
        let mut best: Option<(f32, u32, u32)> = None;
        for &(start, len) in &gaps {
            let mid = start + len / 2;
            let score = len as f32 * 4.0 - (mid as f32 - w as f32 / 2.0).abs() / h as f32;
            if best.is_none_or(|b| score > b.0) {
                best = Some((score, mid, len));
            }
        }
        let (cut, gap) = match best {
            Some((_, mid, gap)) => (mid, gap),
            None => (w / 2, 0),
        };
        let word_gap = gap as f32 >= space;
        let left = image::imageops::crop_imm(&img, 0, 0, cut, h).to_image();
        let right = image::imageops::crop_imm(&img, cut, 0, w - cut, h).to_image();
        let mut out = self.split_part(left, x, space);
        let mut r = self.split_part(right, x + cut, space);
        r[0].glue_to_prev = !word_gap;
        out.extend(r);
        out
    }
}

/// Interior runs of blank columns of a crop: (first column, width).
fn column_gaps(img: &GrayImage) -> Vec<(u32, u32)> {
    let (w, h) = img.dimensions();
    let t = super::detect::otsu(img);
    let ink: Vec<bool> = (0..w)
        .map(|x| (0..h).any(|y| img.get_pixel(x, y).0[0] <= t))
        .collect();
    let mut gaps = Vec::new();
    let mut x = 0;
    while x < w {
        if ink[x as usize] {
            x += 1;
            continue;
        }
        let s = x;
        while x < w && !ink[x as usize] {
            x += 1;
        }
        if s > 0 && x < w {
            gaps.push((s, x - s));
        }
    }
    gaps
}
