//! Rendering: PDF pages rasterised by pdfium at a DPI, and scanned images loaded at their
//! native DPI and resampled when another DPI is asked for. A pixel budget guards memory.

mod image_source;
mod pdfium;
mod source;

pub use image_source::{load_image, load_image_dir};
pub(crate) use pdfium::io_error as pdf_io_error;
pub use pdfium::{find_pdfium, rasterise, PdfRenderer, TextChar};
pub use source::{check_source, SourceKind, MAX_SOURCE_BYTES};

use image::GrayImage;

/// One rasterised page.
#[derive(Debug, Clone)]
pub struct Page {
    /// 8-bit grayscale: OCR engines here read luminance only.
    pub image: GrayImage,
    /// The resolution the page is rendered at.
    pub dpi: f32,
    /// 0-based page number within the document.
    pub index: usize,
}

/// Rendering settings.
#[derive(Debug, Clone, Copy)]
pub struct RenderConfig {
    pub dpi: f32,
    /// Largest page (width × height) accepted; protects against decompression bombs and
    /// absurd DPIs. Default: 120 megapixels (A4 at 1200 DPI is 139 MP; 600 DPI is 35 MP).
    pub max_pixels: u64,
}

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            dpi: 300.0,
            max_pixels: 120_000_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("libpdfium not found (looked in: {searched}). In a checkout run `bash scripts/setup.sh` (it unpacks libpdfium.so from PyPI's pypdfium2 wheel into .deps/pdfium); elsewhere put libpdfium.so in ~/.local/share/medocr/lib/ or set MEDOCR_PDFIUM to the library's path (`medocr doctor` shows the commands)")]
    PdfiumMissing { searched: String },
    #[error("cannot load libpdfium from {path}: {message}. It is not a usable libpdfium.so for this machine (broken download or wrong architecture): delete it and run `bash scripts/setup.sh`, or set MEDOCR_PDFIUM to a working copy")]
    PdfiumLoad { path: String, message: String },
    #[error("{path}: cannot open PDF: {message}")]
    Pdf { path: String, message: String },
    #[error("{path}: the PDF has no pages; re-export it, or remove it from the manifest")]
    NoPages { path: String },
    #[error("{path}: cannot read image: {message}; convert it to PNG, JPEG, TIFF or BMP, or fix the manifest's source")]
    Image { path: String, message: String },
    #[error("{path}: page {page} at {dpi} DPI would be {width}×{height} = {pixels} pixels, over the budget of {budget}; lower the DPI or raise --max-pixels")]
    OverBudget {
        path: String,
        page: usize,
        dpi: f32,
        width: u64,
        height: u64,
        pixels: u64,
        budget: u64,
    },
    #[error("{path}: {pages} pages at {dpi} DPI would be {pixels} pixels in all, over the document budget of {budget} ({DOCUMENT_BUDGET_PAGES} × --max-pixels); lower the DPI or split the document")]
    DocumentOverBudget {
        path: String,
        pages: usize,
        dpi: f32,
        pixels: u64,
        budget: u64,
    },
    #[error(
        "invalid DPI {dpi}: a DPI must be a positive number (72, 150, 300 and 600 are typical)"
    )]
    BadDpi { dpi: f32 },
    #[error("{path}: an image source needs its scan DPI (add \"dpi\" to its manifest entry)")]
    MissingDpi { path: String },
    #[error("{path}: {what}, not a regular file; a document source must be a PDF or image file (or a folder of page images): copy the document into such a file and point the manifest's source at it")]
    NotAFile { path: String, what: &'static str },
    #[error("{path}: {size} bytes, larger than the {limit_mib} MiB source limit; split the document, or re-export it smaller (a lower scan DPI, JPEG pages)", limit_mib = MAX_SOURCE_BYTES >> 20)]
    TooLarge { path: String, size: u64 },
}

/// A document's pages are held in memory together: their pixels may add up to this many
/// page budgets (at the default, 1.9 GB of grayscale; 200 A4 pages at 300 DPI).
pub const DOCUMENT_BUDGET_PAGES: u64 = 16;

/// Checks the pixel count of a page (1-based `page`) against the budget.
pub(crate) fn check_budget(
    path: &str,
    page: usize,
    dpi: f32,
    width: u64,
    height: u64,
    budget: u64,
) -> Result<(), RenderError> {
    let pixels = width.saturating_mul(height);
    if pixels > budget {
        return Err(RenderError::OverBudget {
            path: path.to_string(),
            page,
            dpi,
            width,
            height,
            pixels,
            budget,
        });
    }
    Ok(())
}

/// Checks the pixel total of a document's `pages` (so far) against the document budget,
/// [`DOCUMENT_BUDGET_PAGES`] × `config.max_pixels`.
pub(crate) fn check_document_budget(
    path: &str,
    pages: usize,
    config: &RenderConfig,
    total: u64,
) -> Result<(), RenderError> {
    let budget = config.max_pixels.saturating_mul(DOCUMENT_BUDGET_PAGES);
    if total > budget {
        return Err(RenderError::DocumentOverBudget {
            path: path.to_string(),
            pages,
            dpi: config.dpi,
            pixels: total,
            budget,
        });
    }
    Ok(())
}

/// Highest DPI anything here renders at: past it a page is mostly pixel budget (A4 at
/// 2400 DPI is 556 MP) and no OCR engine reads better.
pub const MAX_DPI: f32 = 2400.0;

pub(crate) fn check_dpi(dpi: f32) -> Result<(), RenderError> {
    Dpi::new(dpi)
        .map(|_| ())
        .map_err(|_| RenderError::BadDpi { dpi })
}

/// A render resolution known to be valid: finite, positive and at most [`MAX_DPI`]. The
/// command line parses `--dpi` into it, so every command checks the same limit.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Dpi(f32);

/// Why a DPI (or a list of them) is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DpiError {
    #[error("a DPI must be a positive number up to {MAX_DPI} (72, 150, 300, 600 are typical)")]
    OutOfRange,
    #[error("not a number")]
    NotANumber,
    #[error("{0} is given twice; list each DPI once")]
    Repeated(f32),
}

impl Dpi {
    pub fn new(dpi: f32) -> Result<Dpi, DpiError> {
        if dpi.is_finite() && dpi > 0.0 && dpi <= MAX_DPI {
            Ok(Dpi(dpi))
        } else {
            Err(DpiError::OutOfRange)
        }
    }

    pub fn get(self) -> f32 {
        self.0
    }

    /// The values of a DPI list in which each DPI appears once (a repeat would run and
    /// report the same setting twice).
    pub fn distinct(dpis: &[Dpi]) -> Result<Vec<f32>, DpiError> {
        for (i, d) in dpis.iter().enumerate() {
            if dpis[..i].contains(d) {
                return Err(DpiError::Repeated(d.0));
            }
        }
        Ok(dpis.iter().map(|d| d.0).collect())
    }
}

impl std::str::FromStr for Dpi {
    type Err = DpiError;

    fn from_str(s: &str) -> Result<Dpi, DpiError> {
        let dpi: f32 = s.trim().parse().map_err(|_| DpiError::NotANumber)?;
        Dpi::new(dpi)
    }
}

impl std::fmt::Display for Dpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dpi_is_positive_finite_and_at_most_the_limit() {
        assert_eq!("300".parse::<Dpi>().map(Dpi::get), Ok(300.0));
        assert_eq!(" 72.5 ".parse::<Dpi>().map(Dpi::get), Ok(72.5));
        assert_eq!("2400".parse::<Dpi>().map(Dpi::get), Ok(MAX_DPI));
        for bad in ["0", "-5", "2400.5", "inf", "NaN"] {
            assert_eq!(bad.parse::<Dpi>(), Err(DpiError::OutOfRange), "{bad}");
        }
        assert_eq!("dpi".parse::<Dpi>(), Err(DpiError::NotANumber));
        assert!(check_dpi(0.0).is_err() && check_dpi(600.0).is_ok());
    }

    #[test]
    fn a_dpi_list_names_its_first_repeat() {
        let dpis = |v: &[f32]| v.iter().map(|&d| Dpi::new(d).unwrap()).collect::<Vec<_>>();
        assert_eq!(Dpi::distinct(&dpis(&[72.0, 150.0])), Ok(vec![72.0, 150.0]));
        let e = Dpi::distinct(&dpis(&[72.0, 150.0, 72.0])).unwrap_err();
        assert_eq!(e.to_string(), "72 is given twice; list each DPI once");
    }
}
