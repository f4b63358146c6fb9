//! Page recognition: detect lines and segments, normalise every segment crop, then recognise
//! them in real batches (many segments per forward pass) and stream the tokens in reading
//! order. The encoder runs over width-sorted batches (little padding); the decoder runs over
//! reading-order batches of the segments' features (padded and masked), so streaming follows
//! the page. A piece's tokens go to the sink once the piece has finished decoding and been
//! accepted (not cut off by its length bound, not below the confidence threshold) and
//! everything before it in reading order is out.
//!
//! Separators are tokens of their own, emitted just before the first token of the next
//! non-empty segment: `" "` between segments on one visual line (table cells), `"\n"` between
//! lines and between pages. Both are vocabulary tokens, so token counts stay tokenizer counts.

use super::config::ModelConfig;
use super::detect::{crop, detect_lines, DetectOptions};
use super::encoder::{padding_bias, Encoded};
use super::generate::Generator;
use super::ocr::OcrModel;
use super::preprocess::{batch_tensor, line_input, LineInput};
use super::tokenizer::Tokenizer;
use super::weights::LoadedModel;
use crate::render::Page;
use crate::stream::{Stage, TokenSink};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use image::GrayImage;
use std::time::Instant;

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

/// One unit of recognition, in reading order.
struct Piece {
    /// Which of the documents recognised together this piece belongs to.
    doc: usize,
    page: usize,
    line: usize,
    /// Part of a segment that was too wide and split; `glue_to_prev` = split inside a word.
    glue_to_prev: bool,
    input: LineInput,
}

/// Counts of one request (also reported to the sink as stages / input tokens).
#[derive(Debug, Clone, Default)]
pub struct RecognizeStats {
    pub lines: usize,
    pub segments: usize,
    pub batches: usize,
    pub output_tokens: usize,
    pub input_tokens: usize,
    pub unknown_tokens: usize,
    /// Pieces whose reading was dropped: low confidence or longer than the crop can hold.
    pub rejected_pieces: usize,
}

pub struct Recognizer<B: Backend> {
    pub model: OcrModel<B>,
    pub config: ModelConfig,
    pub tokenizer: Tokenizer,
    pub device: B::Device,
    /// Segments per forward pass.
    pub batch_size: usize,
    /// Widest piece handed to the model, in pixels at `line_height`; wider segments are split
    /// at the column gap nearest their middle.
    pub max_piece_width: usize,
    pub detect: DetectOptions,
    /// Pieces read with a lower mean token log-probability are dropped (the checkpoint's
    /// calibrated `min_confidence`, or `--min-confidence`).
    pub min_confidence: f32,
}

/// Narrowest character, in line heights (`.`, `1`, `l` are about a quarter of the height):
/// a piece `w` heights wide cannot hold more than `w / 0.25` characters.
pub const MIN_CHAR_ASPECT: f32 = 0.25;

/// Most tokens a piece of `width` pixels at `line_height` can hold (plus two for slack).
pub fn max_tokens(width: usize, line_height: usize) -> usize {
    (width as f32 / line_height.max(1) as f32 / MIN_CHAR_ASPECT).ceil() as usize + 2
}

impl<B: Backend> Recognizer<B> {
    pub fn new(loaded: LoadedModel<B>, device: B::Device) -> Self {
        let max_piece_width = default_piece_width(&loaded.config);
        let min_confidence = loaded.config.min_confidence.unwrap_or(f32::NEG_INFINITY);
        Recognizer {
            model: loaded.model,
            config: loaded.config,
            tokenizer: loaded.tokenizer,
            device,
            batch_size: 32,
            max_piece_width,
            detect: DetectOptions::default(),
            min_confidence,
        }
    }

    /// How this recogniser cuts wide segments.
    pub fn splitter(&self) -> Splitter {
        Splitter {
            max_piece_width: self.max_piece_width,
            line_height: self.config.line_height,
        }
    }

    fn sync(&self) {
        let _ = B::sync(&self.device);
    }

    /// Recognises the pages of one document, streaming tokens into `sink`.
    pub fn recognize(&self, pages: &[Page], sink: &mut dyn TokenSink) -> RecognizeStats {
        self.recognize_many(&[pages], &mut [sink]).remove(0)
    }

    /// Recognises several documents together: the segments of all of them share the encoder
    /// and decoder batches, and `sinks[d]` receives document `d`'s tokens in its own reading
    /// order (one document never waits for another's tokens, only for the shared batches).
    /// Every stage a document took part in is reported to its sink with its full duration.
    pub fn recognize_many(
        &self,
        docs: &[&[Page]],
        sinks: &mut [&mut dyn TokenSink],
    ) -> Vec<RecognizeStats> {
        self.recognize_until(docs, sinks, None)
            .expect("no deadline to pass")
    }

    /// [`Self::recognize_many`] that gives up once `deadline` has passed. An in-process model
    /// cannot be killed, so it checks the clock itself: after each page's detection and
    /// before each forward pass (encoder batch, decode step). The sinks then hold a partial
    /// output.
    pub fn recognize_until(
        &self,
        docs: &[&[Page]],
        sinks: &mut [&mut dyn TokenSink],
        deadline: Option<Instant>,
    ) -> Result<Vec<RecognizeStats>, DeadlinePassed> {
        assert_eq!(docs.len(), sinks.len(), "one sink per document");
        let mut stats = vec![RecognizeStats::default(); docs.len()];
        // Detection and preprocessing of every page first: the batches then span pages.
        let mut pieces: Vec<Piece> = Vec::new();
        for (d, pages) in docs.iter().enumerate() {
            let sink = &mut *sinks[d];
            for page in pages.iter() {
                let t = Instant::now();
                let det = detect_lines(&page.image, page.dpi, &self.detect);
                sink.stage(Stage::Detect, t.elapsed());
                if passed(deadline) {
                    return Err(DeadlinePassed {
                        doc: d,
                        page: page.index,
                    });
                }
                let t = Instant::now();
                for (li, line) in det.lines.iter().enumerate() {
                    stats[d].lines += 1;
                    for seg in &line.segments {
                        stats[d].segments += 1;
                        let img = crop(&det.image, seg);
                        for (k, part) in self.splitter().split(img).into_iter().enumerate() {
                            pieces.push(Piece {
                                doc: d,
                                page: page.index,
                                line: li,
                                glue_to_prev: k > 0 && part.glue_to_prev,
                                input: line_input(
                                    &part.image,
                                    self.config.line_height,
                                    self.config.max_line_width * 2,
                                ),
                            });
                        }
                    }
                }
                sink.stage(Stage::Preprocess, t.elapsed());
            }
        }
        for p in &pieces {
            stats[p.doc].input_tokens += self.config.encoder_len(p.input.width);
        }
        for (d, sink) in sinks.iter_mut().enumerate() {
            sink.input_tokens(stats[d].input_tokens);
        }

        // Encode in batches of similar width (little padding), keep each segment's features.
        let t = Instant::now();
        let memories = self.encode_sorted(&pieces, deadline)?;
        self.sync();
        let elapsed = t.elapsed();
        for sink in sinks.iter_mut() {
            sink.stage(Stage::Encode, elapsed);
        }

        // Decode in reading-order batches so tokens can stream in order.
        let mut last_emitted: Vec<Option<(usize, usize)>> = vec![None; docs.len()];
        let mut offset = 0;
        for chunk in pieces.chunks(self.batch_size.max(1)) {
            // The documents in this batch, as contiguous ranges [start, end) of `chunk`.
            let mut ranges: Vec<(usize, usize, usize)> = Vec::new();
            for (i, p) in chunk.iter().enumerate() {
                match ranges.last_mut() {
                    Some(r) if r.0 == p.doc => r.2 = i + 1,
                    _ => ranges.push((p.doc, i, i + 1)),
                }
            }
            for r in &ranges {
                stats[r.0].batches += 1;
            }
            let t = Instant::now();
            let enc = stack_memories(&memories[offset..offset + chunk.len()]);
            offset += chunk.len();
            let limits = chunk
                .iter()
                .map(|p| max_tokens(p.input.width, self.config.line_height))
                .collect();
            let mut gen =
                Generator::new(&self.model, &enc, self.config.max_target_len).with_limits(limits);
            self.sync();
            let elapsed = t.elapsed();
            for r in &ranges {
                sinks[r.0].stage(Stage::Encode, elapsed);
            }

            // Per document: the first piece of its range not yet finished.
            let mut cursors: Vec<usize> = ranges.iter().map(|r| r.1).collect();
            loop {
                if passed(deadline) {
                    let c = (0..chunk.len()).find(|&c| !gen.finished()[c]).unwrap_or(0);
                    return Err(DeadlinePassed {
                        doc: chunk[c].doc,
                        page: chunk[c].page,
                    });
                }
                let t = Instant::now();
                let step = gen.step();
                let elapsed = t.elapsed();
                for (r, cursor) in ranges.iter().zip(cursors.iter_mut()) {
                    let (d, end) = (r.0, r.2);
                    if *cursor >= end {
                        continue; // this document's part of the batch is already out
                    }
                    let sink = &mut *sinks[d];
                    sink.stage(Stage::Decode, elapsed);
                    // Flush every piece of this document that is final, in reading order. A
                    // piece's tokens are held until it has finished, so a piece that turns
                    // out to be garbage (a runaway decode, or low confidence) is dropped
                    // whole; pieces are a few tokens long, so the hold costs a few steps of
                    // TTFT.
                    while *cursor < end {
                        let c = *cursor;
                        if !(gen.finished()[c] || step.is_none()) {
                            break;
                        }
                        *cursor += 1;
                        let out = &gen.outputs()[c];
                        let p = &chunk[c];
                        if out.is_empty() {
                            continue;
                        }
                        if gen.hit_limit(c) || gen.confidence(c) < self.min_confidence {
                            stats[d].rejected_pieces += 1;
                            continue;
                        }
                        let sep = match last_emitted[d] {
                            None => "",
                            Some(_) if p.glue_to_prev => "",
                            Some((pg, ln)) if pg == p.page && ln == p.line => " ",
                            Some(_) => "\n",
                        };
                        if !sep.is_empty() {
                            sink.token(sep);
                            stats[d].output_tokens += 1;
                        }
                        last_emitted[d] = Some((p.page, p.line));
                        for &id in out {
                            sink.token(self.tokenizer.token_text(id));
                            stats[d].output_tokens += 1;
                            stats[d].unknown_tokens += usize::from(id == super::tokenizer::UNK);
                        }
                    }
                }
                if step.is_none() {
                    break;
                }
            }
        }
        for sink in sinks.iter_mut() {
            sink.stage(Stage::Postprocess, std::time::Duration::ZERO);
        }
        Ok(stats)
    }

    /// Runs the encoder over all pieces in width-sorted batches; returns each piece's valid
    /// features `[1, len, d]` in the original order.
    fn encode_sorted(
        &self,
        pieces: &[Piece],
        deadline: Option<Instant>,
    ) -> Result<Vec<Tensor<B, 3>>, DeadlinePassed> {
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        order.sort_by_key(|&i| pieces[i].input.width);
        let mut out: Vec<Option<Tensor<B, 3>>> = vec![None; pieces.len()];
        for chunk in order.chunks(self.batch_size.max(1)) {
            if passed(deadline) {
                let p = &pieces[chunk[0]];
                return Err(DeadlinePassed {
                    doc: p.doc,
                    page: p.page,
                });
            }
            let inputs: Vec<&LineInput> = chunk.iter().map(|&i| &pieces[i].input).collect();
            let (images, widths) = batch_tensor::<B>(&inputs, &self.device);
            let enc = self.model.encode(images, &widths);
            let d = enc.memory.dims()[2];
            for (j, &i) in chunk.iter().enumerate() {
                let len = enc.lengths[j];
                out[i] = Some(enc.memory.clone().slice([j..j + 1, 0..len, 0..d]));
            }
        }
        Ok(out
            .into_iter()
            .map(|m| m.expect("every piece encoded"))
            .collect())
    }
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

/// [`Recognizer::recognize_until`] stopped: its deadline passed while it worked on this
/// document (index into the batch) and 0-based page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePassed {
    pub doc: usize,
    pub page: usize,
}

/// Whether `deadline` (if any) has passed: the check an in-process engine makes between
/// forward passes.
pub(crate) fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
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

/// Pads per-segment features to a common length and stacks them, with the padding mask.
fn stack_memories<B: Backend>(memories: &[Tensor<B, 3>]) -> Encoded<B> {
    let lengths: Vec<usize> = memories.iter().map(|m| m.dims()[1]).collect();
    let s = lengths.iter().copied().max().unwrap_or(1);
    let d = memories.first().map(|m| m.dims()[2]).unwrap_or(1);
    let device = memories[0].device();
    let padded: Vec<Tensor<B, 3>> = memories
        .iter()
        .map(|m| {
            let l = m.dims()[1];
            if l == s {
                m.clone()
            } else {
                Tensor::cat(vec![m.clone(), Tensor::zeros([1, s - l, d], &device)], 1)
            }
        })
        .collect();
    Encoded {
        memory: Tensor::cat(padded, 0),
        key_bias: padding_bias::<B>(&lengths, s, &device),
        lengths,
    }
}
