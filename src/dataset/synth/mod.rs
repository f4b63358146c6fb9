//! Synthetic Korean medical documents with exact ground truth (`medocr gen`).
//!
//! [`document`] draws one document (content, layout, text, fields) from a seed, with no
//! file access; [`generate`] writes a whole dataset: one A4 PDF per document (Korean
//! fonts embedded as subsets), optional degraded "scans" of single-page documents, and
//! `manifest.jsonl`. The same options give byte-identical files. See `docs/generator.md`.

pub(crate) mod content;
mod dates;
mod document;
mod error;
mod fonts;
pub mod ksx1001;
mod layout;
mod lines;
mod pdf;
pub(crate) mod rng;
mod scan;
mod widths;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use content::document;
pub use dates::DateFormat;
pub use document::SynthDocument;
pub use error::GenError;
pub use fonts::{FontFamily, DEFAULT_FONT_DIR, HAND_FILE};
pub use layout::{
    Anchor, Face, Page, PlacedLine, PlacedText, Rule, Shade, PAGE_HEIGHT, PAGE_WIDTH,
};
pub use lines::{LineKind, PageNumbers, Style, SynthLine, TableRules};
pub(crate) use scan::gaussian_blur;
pub use scan::{degrade, encode_jpeg, Rasteriser, ScanParams};

use crate::dataset::{DocType, Document};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenOptions {
    /// Documents per type (ids `<type>-000` …).
    pub count_per_type: usize,
    /// Types to generate, in this order (duplicates ignored).
    pub types: Vec<DocType>,
    pub seed: u64,
    /// Also write a degraded JPEG "scan" of every single-page document (needs a rasteriser).
    pub scans: bool,
    /// Resolution the scans are rendered at; recorded as the manifest's `dpi`.
    pub scan_dpi: f32,
    /// Folder holding `nanum/`, `unfonts-core/` and `baekmuk/` (Debian's layout).
    pub font_dir: PathBuf,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            count_per_type: 4,
            types: DocType::ALL.to_vec(),
            seed: 0,
            scans: false,
            scan_dpi: 150.0,
            font_dir: PathBuf::from(DEFAULT_FONT_DIR),
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct GenSummary {
    pub manifest: PathBuf,
    /// The manifest entries, in file order.
    pub documents: Vec<Document>,
    pub pdfs: usize,
    pub scans: usize,
    /// Total pages over all PDFs.
    pub pages: usize,
    /// Bytes of all files written, manifest included.
    pub bytes: u64,
}

/// Salt that separates a scan's random stream from its document's.
const SCAN_SALT: u64 = 0x5CA9;

/// The seed of document `index` of `doc_type` in a run seeded with `seed`.
pub fn document_seed(seed: u64, doc_type: DocType, index: usize) -> u64 {
    let t = DocType::ALL
        .iter()
        .position(|d| *d == doc_type)
        .unwrap_or(0) as u64;
    rng::mix(rng::mix(seed, t + 1), index as u64)
}

/// Writes a dataset to `out_dir`: `<id>.pdf` per document, `<id>-scan.jpg` per
/// single-page document when `opts.scans` is set (an extra manifest entry `<id>-scan` with
/// the same ground truth and the scan's `dpi`), and `manifest.jsonl`.
///
/// Multi-page documents get no scan: a manifest source is one file and a scan is one
/// image; their PDFs are still in the dataset.
///
/// `rasterise` renders a PDF at a DPI to grey pages (the CLI passes pdfium's renderer);
/// it is only needed for scans.
pub fn generate(
    opts: &GenOptions,
    out_dir: &Path,
    rasterise: Option<Rasteriser>,
) -> Result<GenSummary, GenError> {
    validate(opts, rasterise.is_some())?;
    let mut types: Vec<DocType> = Vec::new();
    for t in &opts.types {
        if !types.contains(t) {
            types.push(*t);
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|source| GenError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;

    // Draw every document first, then check the fonts they need before writing anything.
    let mut docs = Vec::new();
    for &t in &types {
        for i in 0..opts.count_per_type {
            let seed = document_seed(opts.seed, t, i);
            docs.push((format!("{}-{i:03}", t.as_str()), document(t, seed)));
        }
    }
    let families: BTreeSet<FontFamily> = docs.iter().map(|(_, d)| d.style.family).collect();
    let hand = docs
        .iter()
        .any(|(_, d)| d.lines.iter().any(|l| l.kind == LineKind::Handwritten));
    let mut book = fonts::FontBook::new(&opts.font_dir);
    book.check(&families.into_iter().collect::<Vec<_>>(), hand)?;

    let mut summary = GenSummary {
        manifest: out_dir.join("manifest.jsonl"),
        documents: Vec::new(),
        pdfs: 0,
        scans: 0,
        pages: 0,
        bytes: 0,
    };
    for (id, doc) in &docs {
        let pdf_name = format!("{id}.pdf");
        let pdf_path = out_dir.join(&pdf_name);
        let bytes = pdf::write_pdf(doc, &mut book)?;
        summary.bytes += write(&pdf_path, &bytes)?;
        summary.pdfs += 1;
        summary.pages += doc.page_count();
        summary
            .documents
            .push(entry(id.clone(), doc, pdf_name, None));

        if let (true, Some(rasterise), 1) = (opts.scans, rasterise, doc.page_count()) {
            let (scan_name, bytes) = write_scan(id, doc, &pdf_path, out_dir, opts, rasterise)?;
            summary.bytes += bytes;
            summary.scans += 1;
            summary.documents.push(entry(
                format!("{id}-scan"),
                doc,
                scan_name,
                Some(opts.scan_dpi),
            ));
        }
    }

    let mut manifest = String::new();
    for d in &summary.documents {
        // Serialising plain data cannot fail; keep the error typed anyway.
        let line = serde_json::to_string(d).map_err(|e| GenError::Write {
            path: summary.manifest.clone(),
            source: std::io::Error::other(e),
        })?;
        manifest.push_str(&line);
        manifest.push('\n');
    }
    summary.bytes += write(&summary.manifest, manifest.as_bytes())?;
    Ok(summary)
}

/// Renders the one-page PDF at `pdf_path` and writes its degraded scan `<id>-scan.jpg`.
/// Returns the scan's file name and size.
fn write_scan(
    id: &str,
    doc: &SynthDocument,
    pdf_path: &Path,
    out_dir: &Path,
    opts: &GenOptions,
    rasterise: Rasteriser,
) -> Result<(String, u64), GenError> {
    let pages = rasterise(pdf_path, opts.scan_dpi).map_err(|reason| GenError::Rasterise {
        path: pdf_path.to_path_buf(),
        reason,
    })?;
    let page = pages.first().ok_or_else(|| GenError::Rasterise {
        path: pdf_path.to_path_buf(),
        reason: "the rasteriser returned no page".to_string(),
    })?;
    let seed = rng::mix(doc.seed, SCAN_SALT);
    let params = ScanParams::draw(seed, opts.scan_dpi);
    let image = degrade(page, &params, seed);
    let scan_name = format!("{id}-scan.jpg");
    let scan_path = out_dir.join(&scan_name);
    let jpeg = encode_jpeg(&image, params.jpeg_quality, opts.scan_dpi).map_err(|reason| {
        GenError::Encode {
            path: scan_path.clone(),
            reason,
        }
    })?;
    let bytes = write(&scan_path, &jpeg)?;
    Ok((scan_name, bytes))
}

/// Writes one PDF for `doc` (fonts from `font_dir`) and returns its bytes, e.g. to render
/// a single generated document without a dataset.
pub fn pdf_bytes(doc: &SynthDocument, font_dir: &Path) -> Result<Vec<u8>, GenError> {
    pdf::write_pdf(doc, &mut fonts::FontBook::new(font_dir))
}

fn validate(opts: &GenOptions, have_rasteriser: bool) -> Result<(), GenError> {
    if opts.count_per_type == 0 {
        return Err(GenError::Options(
            "count per type must be at least 1".into(),
        ));
    }
    if opts.count_per_type > 1000 {
        return Err(GenError::Options(format!(
            "count per type is {}; ids have three digits, so at most 1000",
            opts.count_per_type
        )));
    }
    if opts.types.is_empty() {
        return Err(GenError::Options("no document type selected".into()));
    }
    if opts.scans {
        if !(50.0..=600.0).contains(&opts.scan_dpi) {
            return Err(GenError::Options(format!(
                "scan DPI {} is outside 50–600",
                opts.scan_dpi
            )));
        }
        if !have_rasteriser {
            return Err(GenError::Options(
                "scans need a PDF rasteriser (pass pdfium's renderer), or turn scans off".into(),
            ));
        }
    }
    Ok(())
}

fn entry(id: String, doc: &SynthDocument, source: String, dpi: Option<f32>) -> Document {
    Document {
        id,
        doc_type: doc.doc_type,
        source: PathBuf::from(source),
        text: doc.text.clone(),
        fields: doc.fields.clone(),
        dpi,
        tables: doc.tables(),
        extra: Default::default(),
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<u64, GenError> {
    std::fs::write(path, bytes).map_err(|source| GenError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(bytes.len() as u64)
}
