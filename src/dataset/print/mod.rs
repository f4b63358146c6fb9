//! The second document toolchain: hospital printouts written as HTML + CSS and printed to
//! PDF by headless Chromium (`medocr gen --toolchain chromium`).
//!
//! The content is the generator's ([`crate::dataset::synth::document`]: same seed, same
//! patient, drugs, labs, dates and fields); the layout is this module's own: page headers
//! and footers on every page, ruled tables with shaded header rows, label/value grids,
//! boxed or underlined titles, barcodes and red seals, in the pool's held-out (default) or
//! training fonts. Ground truth comes from the layout model ([`layout`]) and is checked
//! against each PDF's text layer ([`truth`]); fax, photo and scan images of every page
//! come from [`crate::dataset::variants`]. See `docs/generator.md`.
//!
//! PDFs are not byte-identical between runs (Chromium stamps the creation time); their
//! content, the ground truth and the image variants are.

pub mod chromium;
pub mod fonts;
pub mod html;
pub mod layout;
pub mod truth;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rayon::prelude::*;

pub use chromium::Chromium;
pub use fonts::{FontChoice, FontLibrary};
pub use layout::Sheet;

use super::synth::rng::mix;
use super::synth::{self, Rasteriser, SynthDocument};
use super::variants::VariantKind;
use super::{DocType, Document};

/// What went wrong while printing; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("Chromium not found ({searched}). Install it with `bash scripts/setup.sh` (Debian package chromium), or set MEDOCR_CHROMIUM to the browser's path")]
    ChromiumMissing { searched: String },
    #[error("printing {pdf} with Chromium failed: {reason}")]
    Chromium { pdf: PathBuf, reason: String },
    #[error("`{tool}` not found: install poppler-utils (`bash scripts/setup.sh`); it checks each PDF's text layer and fonts")]
    ToolMissing { tool: &'static str },
    #[error("`{tool}` failed: {reason}")]
    Tool { tool: &'static str, reason: String },
    #[error("font {path}: {reason}")]
    Font { path: PathBuf, reason: String },
    #[error("no font stack of {families} covers every character of a {doc}: missing {missing:?}")]
    Coverage {
        doc: String,
        families: String,
        missing: String,
    },
    #[error("layout: {0}")]
    Layout(String),
    #[error("{id}: the PDF's text layer differs from the ground truth on page {page}, line {line}: expected \"{expected}\", found \"{found}\"")]
    TextMismatch {
        id: String,
        page: usize,
        line: usize,
        expected: String,
        found: String,
    },
    #[error("{id}: the PDF embeds font '{font}', {problem}")]
    FontCheck {
        id: String,
        font: String,
        problem: String,
    },
    #[error("{id}: field {field} ('{value}') is not printed verbatim on any line")]
    FieldMissing {
        id: String,
        field: String,
        value: String,
    },
    #[error("{0}")]
    Options(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot render {path} for its image variants: {reason}")]
    Rasterise { path: PathBuf, reason: String },
    #[error("cannot encode {path}: {reason}")]
    Encode { path: PathBuf, reason: String },
}

/// What to print.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintOptions {
    /// Documents per type (ids `<type>-000` …).
    pub count_per_type: usize,
    /// Types, in this order (duplicates ignored).
    pub types: Vec<DocType>,
    /// The run seed: document `i` of a type has the content of the `pdf` toolchain's
    /// document `i` with the same seed.
    pub seed: u64,
    pub fonts: FontChoice,
    /// Image variants of every page (duplicates ignored).
    pub variants: Vec<VariantKind>,
    /// Folder holding the pool's fonts (Debian's `/usr/share/fonts/truetype` layout).
    pub font_dir: PathBuf,
    /// Browsers running at once.
    pub jobs: usize,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            count_per_type: 4,
            types: DocType::ALL.to_vec(),
            seed: 0,
            fonts: FontChoice::HeldOut,
            variants: Vec::new(),
            font_dir: PathBuf::from(synth::DEFAULT_FONT_DIR),
            jobs: 2,
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct PrintSummary {
    pub manifest: PathBuf,
    /// Manifest entries in file order.
    pub documents: Vec<Document>,
    pub pdfs: usize,
    /// Pages over all PDFs.
    pub pages: usize,
    /// Image files written for variants.
    pub variant_files: usize,
    pub bytes: u64,
    /// Chromium's wall time per PDF (id, pages, time).
    pub chromium: Vec<(String, usize, Duration)>,
}

/// One document laid out as a printout: its content, model, HTML and ground truth.
#[derive(Debug, Clone)]
pub struct Printout {
    pub doc: SynthDocument,
    pub sheet: Sheet,
    pub html: String,
    /// Ground truth per page, line by line.
    pub pages: Vec<Vec<String>>,
    /// Ground truth: all lines joined by `\n`.
    pub text: String,
}

/// Lays out document `doc_type` drawn from `seed` (no browser needed).
pub fn printout(doc_type: DocType, seed: u64, lib: &FontLibrary) -> Result<Printout, PrintError> {
    let doc = synth::document(doc_type, seed);
    let sheet = layout::build(&doc, lib)?;
    let html = html::render(&sheet);
    let pages = sheet.page_lines();
    let text = sheet.text();
    Ok(Printout {
        doc,
        sheet,
        html,
        pages,
        text,
    })
}

/// A folder with the fontconfig file that restricts Chromium to `lib`'s fonts; removed
/// when dropped.
pub struct FontConfig {
    dir: chromium::TempDir,
    pub file: PathBuf,
}

impl FontConfig {
    pub fn new(lib: &FontLibrary) -> Result<FontConfig, PrintError> {
        let dir = chromium::TempDir::new("medocr-fonts")?;
        let file = dir.path.join("fonts.conf");
        let system = Path::new("/usr/share/fonts");
        std::fs::write(&file, fonts::fontconfig(lib, system)).map_err(|source| PrintError::Io {
            path: file.clone(),
            source,
        })?;
        Ok(FontConfig { dir, file })
    }

    pub fn dir(&self) -> &Path {
        &self.dir.path
    }
}

/// Prints `p` to `pdf` and checks the result: text layer equals the ground truth, only
/// the printout's fonts embedded, every field printed. Returns Chromium's wall time.
pub fn print_checked(
    id: &str,
    p: &Printout,
    pdf: &Path,
    browser: &Chromium,
    fc: &FontConfig,
) -> Result<Duration, PrintError> {
    let html_path = fc.dir().join(format!("{id}.html"));
    std::fs::write(&html_path, &p.html).map_err(|source| PrintError::Io {
        path: html_path.clone(),
        source,
    })?;
    let took = browser.print(&html_path, pdf, &fc.file)?;
    let _ = std::fs::remove_file(&html_path);
    check(id, p, pdf)?;
    Ok(took)
}

/// The checks of [`print_checked`] on an existing PDF.
pub fn check(id: &str, p: &Printout, pdf: &Path) -> Result<(), PrintError> {
    truth::compare(id, &p.pages, &truth::text_layer(pdf)?)?;
    truth::check_fonts(id, &truth::fonts(pdf)?, &p.sheet.fonts.ps_names)?;
    truth::check_fields(id, &p.text, &p.doc.fields)
}

/// Salt of each variant's random stream.
fn variant_salt(kind: VariantKind) -> u64 {
    match kind {
        VariantKind::Fax => 0xFA_0001,
        VariantKind::Photo => 0xF0_0002,
        VariantKind::Scan => 0x5C_0003,
    }
}

fn validate(opts: &PrintOptions, have_rasteriser: bool) -> Result<(), PrintError> {
    if opts.count_per_type == 0 || opts.count_per_type > 1000 {
        return Err(PrintError::Options(format!(
            "count per type is {}; it must be 1–1000 (ids have three digits)",
            opts.count_per_type
        )));
    }
    if opts.types.is_empty() {
        return Err(PrintError::Options("no document type selected".into()));
    }
    if opts.jobs == 0 {
        return Err(PrintError::Options("jobs must be at least 1".into()));
    }
    if !opts.variants.is_empty() && !have_rasteriser {
        return Err(PrintError::Options(
            "image variants need a PDF rasteriser (pass pdfium's renderer), or ask for none".into(),
        ));
    }
    Ok(())
}

/// Prints a dataset into `out_dir`: `<id>.pdf` per document, its image variants
/// (`<id>-fax.png`, `<id>-photo.jpg`, `<id>-scan.jpg`; a folder `<id>-<variant>/` of
/// `page-01.…`, `page-02.…` for multi-page documents) and `manifest.jsonl`. Every PDF is
/// checked (text layer, fonts, fields) before anything is written to the manifest.
///
/// `rasterise` renders a PDF at a DPI to grey pages (the CLI passes pdfium); it is needed
/// only for variants.
pub fn generate(
    opts: &PrintOptions,
    out_dir: &Path,
    rasterise: Option<Rasteriser>,
) -> Result<PrintSummary, PrintError> {
    validate(opts, rasterise.is_some())?;
    let types = unique(&opts.types);
    let variants = unique(&opts.variants);
    let browser = Chromium::find()?;
    let lib = FontLibrary::load(&opts.font_dir, opts.fonts.role())?;
    let fc = FontConfig::new(&lib)?;
    std::fs::create_dir_all(out_dir).map_err(|source| PrintError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;

    // Lay every document out first: a layout or font problem stops before any browser.
    let mut jobs: Vec<(String, Printout)> = Vec::new();
    for &t in &types {
        for i in 0..opts.count_per_type {
            let seed = synth::document_seed(opts.seed, t, i);
            jobs.push((format!("{}-{i:03}", t.as_str()), printout(t, seed, &lib)?));
        }
    }
    let results = print_all(&jobs, opts.jobs, out_dir, &browser, &fc);

    let mut summary = PrintSummary {
        manifest: out_dir.join("manifest.jsonl"),
        documents: Vec::new(),
        pdfs: 0,
        pages: 0,
        variant_files: 0,
        bytes: 0,
        chromium: Vec::new(),
    };
    for (k, r) in results {
        let (id, p) = &jobs[k];
        let took = r?;
        let pdf_name = format!("{id}.pdf");
        let pdf = out_dir.join(&pdf_name);
        summary.bytes += std::fs::metadata(&pdf).map(|m| m.len()).unwrap_or(0);
        summary.pdfs += 1;
        summary.pages += p.pages.len();
        summary.chromium.push((id.clone(), p.pages.len(), took));
        summary.documents.push(entry(id.clone(), p, pdf_name, None));
        if let Some(rasterise) = rasterise {
            for v in write_variants(id, p, &pdf, out_dir, &variants, rasterise)? {
                summary.variant_files += v.files;
                summary.bytes += v.bytes;
                summary
                    .documents
                    .push(entry(format!("{id}-{}", v.kind), p, v.source, Some(v.dpi)));
            }
        }
    }
    summary.bytes += write_manifest(&summary.manifest, &summary.documents)?;
    Ok(summary)
}

/// `items` without repeats, in first-seen order.
fn unique<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for t in items {
        if !out.contains(t) {
            out.push(*t);
        }
    }
    out
}

/// Prints and checks every job, `browsers` at once; results keyed by job index.
fn print_all(
    jobs: &[(String, Printout)],
    browsers: usize,
    out_dir: &Path,
    browser: &Chromium,
    fc: &FontConfig,
) -> BTreeMap<usize, Result<Duration, PrintError>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<usize, Result<Duration, PrintError>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..browsers.min(jobs.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some((id, p)) = jobs.get(k) else { break };
                let pdf = out_dir.join(format!("{id}.pdf"));
                let r = print_checked(id, p, &pdf, browser, fc);
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(k, r);
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Writes `manifest.jsonl` (one entry a line); returns its size in bytes.
fn write_manifest(path: &Path, documents: &[Document]) -> Result<u64, PrintError> {
    let mut manifest = String::new();
    for d in documents {
        let line = serde_json::to_string(d).map_err(|e| PrintError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?;
        manifest.push_str(&line);
        manifest.push('\n');
    }
    std::fs::write(path, manifest.as_bytes()).map_err(|source| PrintError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(manifest.len() as u64)
}

/// One variant of a printed document as written.
struct VariantFiles {
    kind: VariantKind,
    /// The manifest source: a file, or a folder of pages.
    source: String,
    dpi: f32,
    files: usize,
    bytes: u64,
}

/// One encoded variant page: file name (relative to the dataset), bytes, DPI.
type EncodedPage = Result<(String, Vec<u8>, f32), PrintError>;

/// Writes the variants of one printed document.
fn write_variants(
    id: &str,
    p: &Printout,
    pdf: &Path,
    out_dir: &Path,
    kinds: &[VariantKind],
    rasterise: Rasteriser,
) -> Result<Vec<VariantFiles>, PrintError> {
    let mut renders: BTreeMap<u32, Vec<image::GrayImage>> = BTreeMap::new();
    let mut out = Vec::new();
    for &kind in kinds {
        let dpi = kind.render_dpi();
        if let std::collections::btree_map::Entry::Vacant(slot) = renders.entry(dpi as u32) {
            let pages = rasterise(pdf, dpi).map_err(|reason| PrintError::Rasterise {
                path: pdf.to_path_buf(),
                reason,
            })?;
            if pages.len() != p.pages.len() {
                return Err(PrintError::Rasterise {
                    path: pdf.to_path_buf(),
                    reason: format!("{} pages rendered, {} expected", pages.len(), p.pages.len()),
                });
            }
            slot.insert(pages);
        }
        let pages = &renders[&(dpi as u32)];
        let multi = pages.len() > 1;
        let ext = kind.extension();
        let base = format!("{id}-{kind}");
        if multi {
            let dir = out_dir.join(&base);
            std::fs::create_dir_all(&dir).map_err(|source| PrintError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let encoded: Vec<EncodedPage> = pages
            .par_iter()
            .enumerate()
            .map(|(i, page)| {
                let seed = mix(mix(p.doc.seed, variant_salt(kind)), i as u64);
                let v = kind.apply(page, dpi, seed);
                let name = if multi {
                    format!("{base}/page-{:02}.{ext}", i + 1)
                } else {
                    format!("{base}.{ext}")
                };
                let bytes = kind.encode(&v, seed).map_err(|reason| PrintError::Encode {
                    path: out_dir.join(&name),
                    reason,
                })?;
                Ok((name, bytes, v.dpi))
            })
            .collect();
        let mut bytes_total = 0u64;
        let mut dpis = Vec::new();
        for r in encoded {
            let (name, bytes, dpi) = r?;
            let path = out_dir.join(&name);
            std::fs::write(&path, &bytes).map_err(|source| PrintError::Io { path, source })?;
            bytes_total += bytes.len() as u64;
            dpis.push(dpi);
        }
        // A photo's pages differ a little in effective DPI: the manifest has one, the mean.
        let dpi = dpis.iter().sum::<f32>() / dpis.len().max(1) as f32;
        let dpi = (dpi * 10.0).round() / 10.0;
        let source = if multi { base } else { format!("{base}.{ext}") };
        out.push(VariantFiles {
            kind,
            source,
            dpi,
            files: pages.len(),
            bytes: bytes_total,
        });
    }
    Ok(out)
}

fn entry(id: String, p: &Printout, source: String, dpi: Option<f32>) -> Document {
    Document {
        id,
        doc_type: p.doc.doc_type,
        source: PathBuf::from(source),
        text: p.text.clone(),
        fields: p.doc.fields.clone(),
        dpi,
        tables: p.sheet.tables(),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests;
