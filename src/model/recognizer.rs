//! Page recognition: detect lines and segments, normalise every segment crop, then recognise
//! them in real batches (many segments per forward pass) and stream the tokens in reading
//! order. The encoder runs over width-sorted batches (little padding); the decoder runs over
//! reading-order batches of the segments' features (padded and masked), so streaming follows
//! the page. Tokens of the earliest unfinished segment go to the sink as soon as they are decoded;
//! tokens of later segments in the same batch are held until everything before them is out.
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
use crate::engine::{Stage, TokenSink};
use crate::render::Page;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use image::GrayImage;
use std::time::Instant;

/// One unit of recognition, in reading order.
struct Piece {
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
}

pub struct Recognizer<B: Backend> {
    pub model: OcrModel<B>,
    pub config: ModelConfig,
    pub tokenizer: Tokenizer,
    pub device: B::Device,
    /// Segments per forward pass.
    pub batch_size: usize,
    pub detect: DetectOptions,
}

impl<B: Backend> Recognizer<B> {
    pub fn new(loaded: LoadedModel<B>, device: B::Device) -> Self {
        Recognizer {
            model: loaded.model,
            config: loaded.config,
            tokenizer: loaded.tokenizer,
            device,
            batch_size: 32,
            detect: DetectOptions::default(),
        }
    }

    fn sync(&self) {
        let _ = B::sync(&self.device);
    }

    /// Recognises the pages of one document, streaming tokens into `sink`.
    pub fn recognize(&self, pages: &[Page], sink: &mut dyn TokenSink) -> RecognizeStats {
        let mut stats = RecognizeStats::default();
        // Detection and preprocessing of every page first: the batches then span pages.
        let mut pieces: Vec<Piece> = Vec::new();
        for page in pages {
            let t = Instant::now();
            let det = detect_lines(&page.image, page.dpi, &self.detect);
            sink.stage(Stage::Detect, t.elapsed());
            let t = Instant::now();
            for (li, line) in det.lines.iter().enumerate() {
                stats.lines += 1;
                for seg in &line.segments {
                    stats.segments += 1;
                    let img = crop(&det.image, seg);
                    for (k, part) in self.split_wide(img).into_iter().enumerate() {
                        pieces.push(Piece {
                            page: page.index,
                            line: li,
                            glue_to_prev: k > 0 && part.1,
                            input: line_input(
                                &part.0,
                                self.config.line_height,
                                self.config.max_line_width * 2,
                            ),
                        });
                    }
                }
            }
            sink.stage(Stage::Preprocess, t.elapsed());
        }
        stats.input_tokens = pieces
            .iter()
            .map(|p| self.config.encoder_len(p.input.width))
            .sum();
        sink.input_tokens(stats.input_tokens);

        // Encode in batches of similar width (little padding), keep each segment's features.
        let t = Instant::now();
        let memories = self.encode_sorted(&pieces);
        self.sync();
        sink.stage(Stage::Encode, t.elapsed());

        // Decode in reading-order batches so tokens can stream in order.
        let mut last_emitted: Option<(usize, usize)> = None;
        let mut offset = 0;
        for chunk in pieces.chunks(self.batch_size.max(1)) {
            stats.batches += 1;
            let t = Instant::now();
            let enc = stack_memories(&memories[offset..offset + chunk.len()]);
            offset += chunk.len();
            let mut gen = Generator::new(&self.model, &enc, self.config.max_target_len);
            self.sync();
            sink.stage(Stage::Encode, t.elapsed());

            let n = chunk.len();
            let mut emitted = vec![0usize; n];
            let mut cursor = 0usize;
            loop {
                let t = Instant::now();
                let step = gen.step();
                sink.stage(Stage::Decode, t.elapsed());
                // Flush everything that is final in reading order.
                while cursor < n {
                    let out = &gen.outputs()[cursor];
                    let p = &chunk[cursor];
                    while emitted[cursor] < out.len() {
                        let id = out[emitted[cursor]];
                        if emitted[cursor] == 0 {
                            let sep = match last_emitted {
                                None => "",
                                Some(_) if p.glue_to_prev => "",
                                Some((pg, ln)) if pg == p.page && ln == p.line => " ",
                                Some(_) => "\n",
                            };
                            if !sep.is_empty() {
                                sink.token(sep);
                                stats.output_tokens += 1;
                            }
                            last_emitted = Some((p.page, p.line));
                        }
                        sink.token(self.tokenizer.token_text(id));
                        stats.output_tokens += 1;
                        stats.unknown_tokens += usize::from(id == super::tokenizer::UNK);
                        emitted[cursor] += 1;
                    }
                    if gen.finished()[cursor] || step.is_none() {
                        cursor += 1;
                    } else {
                        break;
                    }
                }
                if step.is_none() {
                    break;
                }
            }
        }
        sink.stage(Stage::Postprocess, std::time::Duration::ZERO);
        stats
    }

    /// Runs the encoder over all pieces in width-sorted batches; returns each piece's valid
    /// features `[1, len, d]` in the original order.
    fn encode_sorted(&self, pieces: &[Piece]) -> Vec<Tensor<B, 3>> {
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        order.sort_by_key(|&i| pieces[i].input.width);
        let mut out: Vec<Option<Tensor<B, 3>>> = vec![None; pieces.len()];
        for chunk in order.chunks(self.batch_size.max(1)) {
            let inputs: Vec<&LineInput> = chunk.iter().map(|&i| &pieces[i].input).collect();
            let (images, widths) = batch_tensor::<B>(&inputs, &self.device);
            let enc = self.model.encode(images, &widths);
            let d = enc.memory.dims()[2];
            for (j, &i) in chunk.iter().enumerate() {
                let len = enc.lengths[j];
                out[i] = Some(enc.memory.clone().slice([j..j + 1, 0..len, 0..d]));
            }
        }
        out.into_iter()
            .map(|m| m.expect("every piece encoded"))
            .collect()
    }

    /// Splits a crop wider than the model's trained width (at its height) at the column gap
    /// nearest the middle. Returns the parts with "was split at a narrow gap" flags (no space).
    fn split_wide(&self, img: GrayImage) -> Vec<(GrayImage, bool)> {
        let (w, h) = img.dimensions();
        let max_w = self.config.max_line_width as f32 * h as f32 / self.config.line_height as f32;
        if (w as f32) <= max_w || w < 16 {
            return vec![(img, false)];
        }
        let t = super::detect::otsu(&img);
        let ink: Vec<bool> = (0..w)
            .map(|x| (0..h).any(|y| img.get_pixel(x, y).0[0] <= t))
            .collect();
        // Gaps: runs of empty columns; pick the one closest to the middle, prefer wide ones.
        let mut best: Option<(f32, u32, u32)> = None;
        let mut x = 0;
        while x < w {
            if !ink[x as usize] {
                let s = x;
                while x < w && !ink[x as usize] {
                    x += 1;
                }
                if s > 0 && x < w {
                    let mid = (s + x) / 2;
                    let score =
                        (x - s) as f32 * 4.0 - (mid as f32 - w as f32 / 2.0).abs() / h as f32;
                    if best.is_none_or(|b| score > b.0) {
                        best = Some((score, mid, x - s));
                    }
                }
            } else {
                x += 1;
            }
        }
        let (cut, gap) = match best {
            Some((_, mid, gap)) => (mid, gap),
            None => (w / 2, 0),
        };
        let word_gap = gap as f32 >= 0.2 * h as f32;
        let left = image::imageops::crop_imm(&img, 0, 0, cut, h).to_image();
        let right = image::imageops::crop_imm(&img, cut, 0, w - cut, h).to_image();
        let mut out = self.split_wide(left);
        let mut r = self.split_wide(right);
        r[0].1 = !word_gap;
        out.extend(r);
        out
    }
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
