//! Training crops cut from whole pages exactly as the page pipeline cuts them (detection,
//! rule and speck removal, deskew, photo rectification, wide-segment splitting), labelled
//! with the text the PDF's text layer puts inside each crop.
//!
//! A page of a generated printout is rendered, turned into a fax, photo or scan
//! (`dataset::variants`, which return the geometric map they applied) and run through
//! [`detect_lines`]. Each character box of the text layer is carried through the variant's
//! map and the detector's own map ([`crate::model::detect::Detection::to_image`]); a piece
//! is labelled with the characters whose box centres fall inside it, in text-layer order.
//! A piece with no character is labelled empty: a rule fragment, a seal, a barcode, specks
//! or a neighbouring line's sliver, as the detector really leaves them. A piece that cuts
//! through a character, or holds characters of two text lines, has no single right reading
//! and is skipped.
//!
//! The bank (`medocr crops`) is a folder of PNG crops and `labels.jsonl`; `medocr train
//! --page-crops BANK` mixes it into the rendered lines (`data::DataGen`).

use super::detect::{crop, detect_lines, DetectOptions};
use super::error::ModelError;
use super::recognizer::Splitter;
use crate::dataset::variants::{Transform, VariantKind};
use crate::render::TextChar;
use image::GrayImage;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A character box in the pixels of the page handed to the detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharBox {
    pub ch: char,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl CharBox {
    /// A text-layer character (points from the top-left) on a page rendered at `dpi` and
    /// then mapped by `map`: the bounding box of its mapped corners.
    pub fn from_text(c: &TextChar, dpi: f32, map: &Transform) -> CharBox {
        let s = dpi / 72.0;
        let scaled = CharBox {
            ch: c.ch,
            x0: c.x0 * s,
            y0: c.y0 * s,
            x1: c.x1 * s,
            y1: c.y1 * s,
        };
        scaled.mapped(map)
    }

    /// The bounding box of this box's corners mapped by `map`.
    fn mapped(&self, map: &Transform) -> CharBox {
        let corners = [
            (self.x0, self.y0),
            (self.x1, self.y0),
            (self.x1, self.y1),
            (self.x0, self.y1),
        ]
        .map(|(x, y)| map.apply(f64::from(x), f64::from(y)));
        let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
            corners.iter().map(pick).fold(init, f) as f32
        };
        CharBox {
            ch: self.ch,
            x0: fold(f64::min, f64::INFINITY, |p| p.0),
            x1: fold(f64::max, f64::NEG_INFINITY, |p| p.0),
            y0: fold(f64::min, f64::INFINITY, |p| p.1),
            y1: fold(f64::max, f64::NEG_INFINITY, |p| p.1),
        }
    }

    fn centre(&self) -> (f32, f32) {
        ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)
    }
}

/// One crop as the recogniser would receive it, and its true reading ("" = no text).
#[derive(Debug, Clone)]
pub struct LabelledCrop {
    pub image: GrayImage,
    pub text: String,
}

/// Counts of one cut.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CutStats {
    /// Pieces the pipeline cut.
    pub pieces: usize,
    /// Labelled with text.
    pub text: usize,
    /// Labelled empty (no character inside).
    pub empty: usize,
    /// Skipped: the piece cuts a character or spans two text lines.
    pub ambiguous: usize,
}

impl std::ops::AddAssign for CutStats {
    fn add_assign(&mut self, o: CutStats) {
        self.pieces += o.pieces;
        self.text += o.text;
        self.empty += o.empty;
        self.ambiguous += o.ambiguous;
    }
}

/// Runs the page pipeline on `page` (at `dpi`) and labels every piece it cuts with the
/// characters of `chars` (boxes in `page`'s pixels, in text-layer order).
pub fn cut_page(
    page: &GrayImage,
    dpi: f32,
    chars: &[CharBox],
    splitter: &Splitter,
    opts: &DetectOptions,
) -> (Vec<LabelledCrop>, CutStats) {
    let det = detect_lines(page, dpi, opts);
    let mapped: Vec<CharBox> = chars.iter().map(|c| c.mapped(&det.to_image)).collect();
    let mut out = Vec::new();
    let mut stats = CutStats::default();
    for line in &det.lines {
        for seg in &line.segments {
            let img = crop(&det.image, seg);
            for part in splitter.split(img) {
                stats.pieces += 1;
                let rect = Rect {
                    x0: (seg.x0 + part.x) as f32,
                    x1: (seg.x0 + part.x + part.image.width()) as f32,
                    y0: seg.y0 as f32,
                    y1: seg.y1 as f32,
                };
                match label(&rect, &mapped) {
                    Some(text) => {
                        if text.is_empty() {
                            stats.empty += 1;
                        } else {
                            stats.text += 1;
                        }
                        out.push(LabelledCrop {
                            image: part.image,
                            text,
                        });
                    }
                    None => stats.ambiguous += 1,
                }
            }
        }
    }
    (out, stats)
}

#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

/// Share of a character's width a piece may cut off without making its reading ambiguous.
const MAX_CUT_SHARE: f32 = 0.3;
/// A gap between two characters wider than this many character heights is a space even when
/// the text layer has none (table cells printed as separate runs).
const SPACE_GAP_HEIGHTS: f32 = 0.3;

/// The reading of the piece `r`: the characters whose centres lie inside it, in text-layer
/// order; `None` when ambiguous (a character cut by the piece's sides, characters from two
/// text lines, or an order that is not left to right).
fn label(r: &Rect, chars: &[CharBox]) -> Option<String> {
    let mut inside: Vec<usize> = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if c.ch.is_whitespace() || c.ch.is_control() {
            continue;
        }
        let (cx, cy) = c.centre();
        let in_rows = cy >= r.y0 && cy < r.y1;
        if in_rows && cx >= r.x0 && cx < r.x1 {
            inside.push(i);
            // Cut on the left or right by the piece.
            let w = (c.x1 - c.x0).max(1e-3);
            let cut = (r.x0 - c.x0).max(0.0) + (c.x1 - r.x1).max(0.0);
            if cut / w > MAX_CUT_SHARE {
                return None;
            }
        } else if in_rows {
            // Outside, but does the piece hold a large part of it?
            let w = (c.x1 - c.x0).max(1e-3);
            let held = (c.x1.min(r.x1) - c.x0.max(r.x0)).max(0.0);
            if held / w > MAX_CUT_SHARE {
                return None;
            }
        }
    }
    if inside.is_empty() {
        return Some(String::new());
    }
    // One text line: centres within half a character height of each other.
    let mut heights: Vec<f32> = inside.iter().map(|&i| chars[i].y1 - chars[i].y0).collect();
    heights.sort_by(f32::total_cmp);
    let h = heights[heights.len() / 2].max(1.0);
    let ys = inside.iter().map(|&i| chars[i].centre().1);
    let (lo, hi) = ys.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if hi - lo > 0.5 * h {
        return None;
    }
    let mut text = String::new();
    for (k, &i) in inside.iter().enumerate() {
        if k > 0 {
            let p = inside[k - 1];
            // Everything between two inside characters in the text layer must be space: any
            // other character means the layer's order is not the piece's.
            if chars[p + 1..i]
                .iter()
                .any(|c| !(c.ch.is_whitespace() || c.ch.is_control()))
            {
                return None;
            }
            // Left to right.
            if chars[i].centre().0 <= chars[p].centre().0 {
                return None;
            }
            let spaced = chars[p + 1..i].iter().any(|c| c.ch.is_whitespace())
                || chars[i].x0 - chars[p].x1 > SPACE_GAP_HEIGHTS * h;
            if spaced {
                text.push(' ');
            }
        }
        text.push(chars[i].ch);
    }
    Some(text)
}

/// One page source of the bank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CropSource {
    /// The PDF rendered at this DPI, unchanged.
    Pdf(u32),
    /// An image variant at its own DPI.
    Variant(VariantKind),
}

impl CropSource {
    pub fn name(&self) -> String {
        match self {
            CropSource::Pdf(dpi) => format!("pdf{dpi}"),
            CropSource::Variant(k) => k.as_str().to_string(),
        }
    }

    fn render_dpi(&self) -> f32 {
        match self {
            CropSource::Pdf(dpi) => *dpi as f32,
            CropSource::Variant(k) => k.render_dpi(),
        }
    }
}

impl std::str::FromStr for CropSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        if let Some(d) = s.strip_prefix("pdf") {
            return match d.parse::<u32>() {
                Ok(dpi) if (50..=600).contains(&dpi) => Ok(CropSource::Pdf(dpi)),
                _ => Err(format!(
                    "page source '{s}': a PDF source is pdf<DPI> with a DPI from 50 to 600, e.g. pdf150"
                )),
            };
        }
        s.parse::<VariantKind>()
            .map(CropSource::Variant)
            .map_err(|e| format!("page source '{s}': {e}, or pdf<DPI>"))
    }
}

/// One line of `labels.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BankEntry {
    /// PNG file, relative to the bank folder.
    pub file: String,
    pub text: String,
    /// Document id and page source (`pdf150`, `fax`, …), for tracing a crop back.
    pub doc: String,
    pub source: String,
    pub page: usize,
}

pub const LABELS: &str = "labels.jsonl";

/// What [`build_bank`] wrote.
#[derive(Debug, Clone, Default)]
pub struct BankSummary {
    pub pages: usize,
    pub stats: CutStats,
    pub crops: usize,
}

/// Cuts labelled crops from every PDF of `pdfs` (id, path) in every source, writing
/// `out/crops/*.png` and `out/labels.jsonl`. Deterministic: the variants' seeds come from
/// `seed`, the document's position and the page.
pub fn build_bank(
    pdfs: &[(String, PathBuf)],
    sources: &[CropSource],
    seed: u64,
    splitter: &Splitter,
    out: &Path,
    progress: &mut dyn FnMut(&str, &CutStats),
) -> Result<BankSummary, ModelError> {
    use crate::dataset::synth::rng::mix;
    use rayon::prelude::*;
    let crops_dir = out.join("crops");
    std::fs::create_dir_all(&crops_dir).map_err(|e| ModelError::io(&crops_dir, e))?;
    let renderer = crate::render::PdfRenderer::global().map_err(|e| ModelError::Data {
        message: e.to_string(),
    })?;
    let opts = DetectOptions::default();
    let mut labels = String::new();
    let mut summary = BankSummary::default();
    for (d, (id, pdf)) in pdfs.iter().enumerate() {
        let text = renderer.chars(pdf).map_err(|e| ModelError::Data {
            message: e.to_string(),
        })?;
        let mut doc_stats = CutStats::default();
        for (s, source) in sources.iter().enumerate() {
            let dpi = source.render_dpi();
            let pages = crate::render::rasterise(pdf, dpi).map_err(|message| ModelError::Data {
                message: format!("{}: {message}", pdf.display()),
            })?;
            let cut: Vec<Result<(Vec<LabelledCrop>, CutStats), ModelError>> = pages
                .par_iter()
                .enumerate()
                .map(|(p, page)| {
                    let seed = mix(mix(mix(seed, d as u64), s as u64), p as u64);
                    let (image, dpi, map) = match source {
                        CropSource::Pdf(_) => (page.clone(), dpi, Transform::IDENTITY),
                        CropSource::Variant(kind) => {
                            let v = kind.apply(page, dpi, seed);
                            // Through the file format, as a user's file would arrive: JPEG
                            // artefacts and 1-bit thresholds are part of the page.
                            let bytes =
                                kind.encode(&v, seed).map_err(|message| ModelError::Data {
                                    message: format!("{}: {message}", pdf.display()),
                                })?;
                            let image = image::load_from_memory(&bytes)
                                .map_err(|e| ModelError::Data {
                                    message: format!("{}: {e}", pdf.display()),
                                })?
                                .to_luma8();
                            (image, v.dpi, v.transform)
                        }
                    };
                    // The text layer's points scale to the rendered page; the variant's map
                    // covers the rest.
                    let boxes: Vec<CharBox> = text
                        .get(p)
                        .map(|cs| {
                            cs.iter()
                                .map(|c| CharBox::from_text(c, source.render_dpi(), &map))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(cut_page(&image, dpi, &boxes, splitter, &opts))
                })
                .collect();
            for (p, r) in cut.into_iter().enumerate() {
                let (crops, stats) = r?;
                summary.pages += 1;
                doc_stats += stats;
                for c in crops {
                    let file = format!("crops/{:07}.png", summary.crops);
                    let path = out.join(&file);
                    c.image
                        .save(&path)
                        .map_err(|e| ModelError::io(&path, std::io::Error::other(e)))?;
                    let entry = BankEntry {
                        file,
                        text: c.text,
                        doc: id.clone(),
                        source: source.name(),
                        page: p + 1,
                    };
                    labels.push_str(&serde_json::to_string(&entry).expect("serialisable"));
                    labels.push('\n');
                    summary.crops += 1;
                }
            }
        }
        summary.stats += doc_stats;
        progress(id, &doc_stats);
    }
    let path = out.join(LABELS);
    std::fs::write(&path, labels).map_err(|e| ModelError::io(&path, e))?;
    Ok(summary)
}

/// A bank loaded for training: crops and their texts.
pub struct CropBank {
    pub dir: PathBuf,
    pub entries: Vec<BankEntry>,
}

impl CropBank {
    /// Reads `dir/labels.jsonl` (the crops are read when drawn).
    pub fn open(dir: &Path) -> Result<CropBank, ModelError> {
        let path = dir.join(LABELS);
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let e: BankEntry = serde_json::from_str(line).map_err(|e| ModelError::Data {
                message: format!(
                    "{}, line {}: {e}; rebuild the bank with `medocr crops`",
                    path.display(),
                    n + 1
                ),
            })?;
            entries.push(e);
        }
        if entries.is_empty() {
            return Err(ModelError::Data {
                message: format!(
                    "{}: no crops; build a bank with `medocr crops`",
                    path.display()
                ),
            });
        }
        Ok(CropBank {
            dir: dir.to_path_buf(),
            entries,
        })
    }

    /// Loads one crop.
    pub fn image(&self, i: usize) -> Result<GrayImage, ModelError> {
        let path = self.dir.join(&self.entries[i].file);
        Ok(image::open(&path)
            .map_err(|e| ModelError::Data {
                message: format!("{}: {e}", path.display()),
            })?
            .to_luma8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ch: char, x0: f32, x1: f32, y: f32) -> CharBox {
        CharBox {
            ch,
            x0,
            y0: y,
            x1,
            y1: y + 20.0,
        }
    }

    fn rect(x0: f32, x1: f32, y0: f32, y1: f32) -> Rect {
        Rect { x0, y0, x1, y1 }
    }

    #[test]
    fn labels_follow_the_text_layer_inside_the_piece() {
        // "성명: 홍길동" then a wide cell gap and "12" on the same line, "다음" below.
        let mut chars = vec![
            c('성', 10.0, 30.0, 100.0),
            c('명', 30.0, 50.0, 100.0),
            c(':', 50.0, 56.0, 100.0),
            c(' ', 56.0, 62.0, 100.0),
            c('홍', 62.0, 82.0, 100.0),
            c('\n', 82.0, 82.0, 100.0),
            c('1', 200.0, 210.0, 100.0),
            c('2', 210.0, 220.0, 100.0),
        ];
        chars.push(c('다', 10.0, 30.0, 140.0));
        chars.push(c('음', 30.0, 50.0, 140.0));
        assert_eq!(
            label(&rect(5.0, 90.0, 96.0, 124.0), &chars).as_deref(),
            Some("성명: 홍")
        );
        // Both cells in one piece: a space for the newline between runs.
        assert_eq!(
            label(&rect(5.0, 230.0, 96.0, 124.0), &chars).as_deref(),
            Some("성명: 홍 12")
        );
        // Nothing inside: an empty reading (a rule, a sliver of the line above).
        assert_eq!(
            label(&rect(100.0, 190.0, 96.0, 124.0), &chars).as_deref(),
            Some("")
        );
        // A piece cutting '홍' in half has no right answer.
        assert_eq!(label(&rect(5.0, 72.0, 96.0, 124.0), &chars), None);
        // Two text lines merged into one band.
        assert_eq!(label(&rect(5.0, 90.0, 96.0, 164.0), &chars), None);
    }

    #[test]
    fn sources_parse_with_helpful_errors() {
        assert_eq!("pdf150".parse::<CropSource>(), Ok(CropSource::Pdf(150)));
        assert_eq!(
            "Fax".parse::<CropSource>(),
            Ok(CropSource::Variant(VariantKind::Fax))
        );
        let e = "pdf9000".parse::<CropSource>().unwrap_err();
        assert!(e.contains("pdf<DPI>"), "{e}");
        let e = "xerox".parse::<CropSource>().unwrap_err();
        assert!(e.contains("fax, photo, scan"), "{e}");
    }
}
