//! PDF rasterisation with pdfium (through `pdfium-render`).
//!
//! pdfium's bindings are process-global (they can be bound once), so the renderer is a
//! lazily initialised singleton. The library is looked up in `MEDOCR_PDFIUM` (a file or a
//! folder; when set, nowhere else), else in `.deps/pdfium/` (where `scripts/setup.sh`
//! unpacks it from PyPI's pypdfium2 wheel) next to the working directory or the executable,
//! in the data folder (`$XDG_DATA_HOME/medocr/lib/`), beside the binary
//! (`<bin>/`, `<bin>/../share/medocr/lib/`), and in the system's library folders.

use super::{check_budget, check_document_budget, check_dpi, Page, RenderConfig, RenderError};
use image::GrayImage;
use pdfium_render::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Renders PDF pages with pdfium.
pub struct PdfRenderer {
    pdfium: Pdfium,
    library: PathBuf,
}

static GLOBAL: OnceLock<Result<PdfRenderer, RenderError>> = OnceLock::new();

/// Candidate locations of libpdfium, in search order.
fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("MEDOCR_PDFIUM") {
        // An explicit choice: falling back to another copy would hide a wrong setting.
        let p = PathBuf::from(p);
        out.push(if p.is_dir() {
            p.join("libpdfium.so")
        } else {
            p
        });
        return out;
    }
    let rel = Path::new(".deps/pdfium/libpdfium.so");
    if let Ok(cwd) = std::env::current_dir() {
        // Walk up so tests and binaries run from sub-folders still find the repo's copy.
        for dir in cwd.ancestors().take(4) {
            out.push(dir.join(rel));
        }
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(4) {
            out.push(dir.join(rel));
        }
    }
    let name = "libpdfium.so";
    out.extend(crate::paths::data_dir().map(|d| d.join("lib").join(name)));
    for dir in crate::paths::beside_binary() {
        out.push(dir.join(name));
        out.push(dir.join("lib").join(name));
    }
    for dir in ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu"] {
        out.push(Path::new(dir).join(name));
    }
    // The working folder and the binary often share ancestors.
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// Finds libpdfium without loading it.
pub fn find_pdfium() -> Result<PathBuf, RenderError> {
    let cands = candidates();
    cands
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| RenderError::PdfiumMissing {
            searched: cands
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl PdfRenderer {
    /// The process-wide renderer, binding libpdfium on first use.
    pub fn global() -> Result<&'static PdfRenderer, RenderError> {
        GLOBAL
            .get_or_init(|| {
                let library = find_pdfium()?;
                let bindings =
                    Pdfium::bind_to_library(&library).map_err(|e| RenderError::PdfiumLoad {
                        path: library.display().to_string(),
                        message: e.to_string(),
                    })?;
                Ok(PdfRenderer {
                    pdfium: Pdfium::new(bindings),
                    library,
                })
            })
            .as_ref()
            .map_err(clone_error)
    }

    /// Where libpdfium was loaded from.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Number of pages, without rendering.
    pub fn page_count(&self, path: &Path) -> Result<usize, RenderError> {
        let doc = self.open(path)?;
        Ok(doc.pages().len() as usize)
    }

    /// Rasterises every page of the PDF at `config.dpi`, checking the pixel budget before
    /// allocating each bitmap.
    pub fn render(&self, path: &Path, config: &RenderConfig) -> Result<Vec<Page>, RenderError> {
        check_dpi(config.dpi)?;
        let doc = self.open(path)?;
        let name = path.display().to_string();
        let pages = doc.pages();
        if pages.is_empty() {
            return Err(RenderError::NoPages { path: name });
        }
        let scale = config.dpi / 72.0;
        // Every page size is checked before the first bitmap is allocated.
        let sizes: Vec<(u64, u64)> = pages
            .iter()
            .map(|page| {
                // `as` saturates: a NaN or absurd page box cannot wrap around.
                let width = (page.width().value * scale).round().max(1.0) as u64;
                let height = (page.height().value * scale).round().max(1.0) as u64;
                (width, height)
            })
            .collect();
        let mut total = 0u64;
        for (index, &(width, height)) in sizes.iter().enumerate() {
            check_budget(
                &name,
                index + 1,
                config.dpi,
                width,
                height,
                config.max_pixels,
            )?;
            total = total.saturating_add(width * height);
        }
        check_document_budget(&name, sizes.len(), config, total)?;
        let mut out = Vec::with_capacity(pages.len() as usize);
        for (index, (page, &(width, height))) in pages.iter().zip(&sizes).enumerate() {
            let render = PdfRenderConfig::new()
                .set_target_width(width as Pixels)
                .set_target_height(height as Pixels)
                // pdfium's 8-bit gray bitmaps trip an assertion when filling paths (seen with
                // table rules), so render BGRx and convert.
                .set_format(PdfBitmapFormat::BGRx)
                .render_form_data(true);
            let bitmap = page
                .render_with_config(&render)
                .map_err(|e| RenderError::Pdf {
                    path: name.clone(),
                    message: format!("page {}: {e}", index + 1),
                })?;
            let image = gray_from_bitmap(&bitmap).ok_or_else(|| RenderError::Pdf {
                path: name.clone(),
                message: format!("page {}: pdfium returned a malformed bitmap", index + 1),
            })?;
            out.push(Page {
                image,
                dpi: config.dpi,
                index,
            });
        }
        Ok(out)
    }

    /// The PDF's text layer, one string per page (for checking generated documents).
    pub fn text(&self, path: &Path) -> Result<Vec<String>, RenderError> {
        let doc = self.open(path)?;
        let name = path.display().to_string();
        doc.pages()
            .iter()
            .map(|p| {
                p.text().map(|t| t.all()).map_err(|e| RenderError::Pdf {
                    path: name.clone(),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// The PDF's text layer with a box per character, one list per page, in the text layer's
    /// order. Boxes are pdfium's loose boxes (the font's full ascent to descent) in points
    /// from the page's top-left corner; multiply by dpi / 72 for pixels of a page rendered
    /// by [`Self::render`]. Used to label crops of generated pages for training.
    pub fn chars(&self, path: &Path) -> Result<Vec<Vec<TextChar>>, RenderError> {
        let doc = self.open(path)?;
        let name = path.display().to_string();
        let mut out = Vec::new();
        for (index, page) in doc.pages().iter().enumerate() {
            let height = page.height().value;
            let text = page.text().map_err(|e| RenderError::Pdf {
                path: name.clone(),
                message: format!("page {}: {e}", index + 1),
            })?;
            let mut chars = Vec::new();
            for c in text.chars().iter() {
                let (Some(ch), Ok(b)) = (c.unicode_char(), c.loose_bounds()) else {
                    continue;
                };
                chars.push(TextChar {
                    ch,
                    x0: b.left().value,
                    x1: b.right().value,
                    y0: height - b.top().value,
                    y1: height - b.bottom().value,
                });
            }
            out.push(chars);
        }
        Ok(out)
    }

    fn open(&self, path: &Path) -> Result<PdfDocument<'_>, RenderError> {
        // Read by medocr, not by path: pdfium's own file access would open a FIFO (and
        // block) and read a source of any size.
        let bytes = super::source::read_source(path, |e| io_error(path, e))?;
        self.pdfium
            .load_pdf_from_byte_vec(bytes, None)
            .map_err(|e| RenderError::Pdf {
                path: path.display().to_string(),
                message: describe_open_error(&e),
            })
    }
}

/// One character of a PDF's text layer and its box, in points from the page's top-left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextChar {
    pub ch: char,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

/// Converts a BGRx bitmap to 8-bit luma (ITU-R BT.601 weights), row by row: pdfium pads
/// each row to its stride.
fn gray_from_bitmap(bitmap: &PdfBitmap<'_>) -> Option<GrayImage> {
    let (w, h) = (bitmap.width() as usize, bitmap.height() as usize);
    let raw = bitmap.as_raw_bytes();
    if h == 0 || raw.len() < 4 * w * h {
        return None;
    }
    let stride = raw.len() / h;
    let mut buf = Vec::with_capacity(w * h);
    for row in raw.chunks_exact(stride).take(h) {
        buf.extend(row[..4 * w].chunks_exact(4).map(|px| {
            let (b, g, r) = (px[0] as u32, px[1] as u32, px[2] as u32);
            ((299 * r + 587 * g + 114 * b + 500) / 1000) as u8
        }));
    }
    GrayImage::from_raw(w as u32, h as u32, buf)
}

/// An I/O error opening or reading a PDF, in the words pdfium's errors get.
pub(crate) fn io_error(path: &Path, e: std::io::Error) -> RenderError {
    RenderError::Pdf {
        path: path.display().to_string(),
        message: describe_open_error(&PdfiumError::IoError(e)),
    }
}

fn describe_open_error(e: &PdfiumError) -> String {
    match e {
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError) => {
            "the PDF is encrypted (password protected); decrypt it first".into()
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => {
            "not a valid PDF (corrupt or truncated); re-export or replace the file".into()
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FileError) => {
            "file not found or not readable; check the manifest's source and the file's permissions"
                .into()
        }
        PdfiumError::IoError(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "file not found; check the manifest's source (relative to the manifest)".into()
        }
        PdfiumError::IoError(e) => format!(
            "cannot read the file ({e}); check the manifest's source and the file's permissions"
        ),
        other => other.to_string(),
    }
}

/// `RenderError` holds an `io::Error`-free set of variants, so the cached error can be
/// re-created for every caller.
fn clone_error(e: &RenderError) -> RenderError {
    match e {
        RenderError::PdfiumMissing { searched } => RenderError::PdfiumMissing {
            searched: searched.clone(),
        },
        RenderError::PdfiumLoad { path, message } => RenderError::PdfiumLoad {
            path: path.clone(),
            message: message.clone(),
        },
        other => RenderError::PdfiumLoad {
            path: String::new(),
            message: other.to_string(),
        },
    }
}

/// Renders every page of the PDF at `path` at `dpi` to grey images, with the process-wide
/// pdfium ([`PdfRenderer::global`]) and default settings: the rasteriser the generators take
/// for their image variants (`dataset::synth::Rasteriser`).
pub fn rasterise(path: &Path, dpi: f32) -> Result<Vec<GrayImage>, String> {
    let config = RenderConfig {
        dpi,
        ..RenderConfig::default()
    };
    PdfRenderer::global()
        .map_err(|e| e.to_string())?
        .render(path, &config)
        .map(|pages| pages.into_iter().map(|p| p.image).collect())
        .map_err(|e| e.to_string())
}
