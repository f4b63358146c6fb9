//! Scanned pages: images loaded with their scan DPI and resampled to the DPI asked for.

use super::{check_budget, check_dpi, Page, RenderConfig, RenderError};
use image::imageops::FilterType;
use std::path::Path;

/// Loads an image scanned at `native_dpi` and resamples it to `config.dpi`. The header is
/// read first so an oversized image is refused before it is decoded.
pub fn load_image(
    path: &Path,
    native_dpi: f32,
    config: &RenderConfig,
) -> Result<Page, RenderError> {
    check_dpi(config.dpi)?;
    check_dpi(native_dpi)?;
    let name = path.display().to_string();
    let err = |message: String| RenderError::Image {
        path: name.clone(),
        message,
    };
    // Read once: the header check and the decode see the same bytes.
    let bytes = super::source::read_source(path, |e| err(e.to_string()))?;
    let open = || {
        image::ImageReader::new(std::io::Cursor::new(bytes.as_slice()))
            .with_guessed_format()
            .map_err(|e| err(e.to_string()))
    };
    let reader = open()?;
    if reader.format() == Some(image::ImageFormat::Jpeg) && !ends_with_eoi(&bytes) {
        // The JPEG decoder pads a cut-off scan with gray instead of failing, which would
        // score a damaged file as a bad read.
        return Err(err(
            "truncated JPEG (no end-of-image marker): re-export or re-copy the scan".into(),
        ));
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| err(format!("unsupported or truncated image: {e}")))?;
    check_budget(&name, 1, native_dpi, w as u64, h as u64, config.max_pixels)?;
    let scale = config.dpi / native_dpi;
    let (tw, th) = (
        ((w as f32 * scale).round() as u64).max(1),
        ((h as f32 * scale).round() as u64).max(1),
    );
    check_budget(&name, 1, config.dpi, tw, th, config.max_pixels)?;

    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(config.max_pixels.saturating_mul(4));
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| err(format!("unsupported or truncated image: {e}")))?
        .into_luma8();
    let image = if tw as u32 == w && th as u32 == h {
        image
    } else {
        // Downsampling uses a triangle filter (area-like); upsampling Catmull-Rom.
        let filter = if scale < 1.0 {
            FilterType::Triangle
        } else {
            FilterType::CatmullRom
        };
        image::imageops::resize(&image, tw as u32, th as u32, filter)
    };
    Ok(Page {
        image,
        dpi: config.dpi,
        index: 0,
    })
}

/// Image file extensions a page folder may hold.
const PAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "tif", "tiff", "bmp"];

/// Loads a multi-page image source: a folder whose image files are the pages in file-name
/// order (`page-01.png`, `page-02.png`, …), each scanned at `native_dpi` and resampled to
/// `config.dpi`. The pages together must fit the document budget, as a PDF's do.
pub fn load_image_dir(
    dir: &Path,
    native_dpi: f32,
    config: &RenderConfig,
) -> Result<Vec<Page>, RenderError> {
    let name = dir.display().to_string();
    let err = |message: String| RenderError::Image {
        path: name.clone(),
        message,
    };
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| PAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(format!(
            "the folder holds no page images ({}); a multi-page image source is a folder of page-01.png, page-02.png, …",
            PAGE_EXTENSIONS.join(", ")
        )));
    }
    let mut total = 0u64;
    let mut pages = Vec::with_capacity(files.len());
    for (index, file) in files.iter().enumerate() {
        let mut page = load_image(file, native_dpi, config)?;
        total =
            total.saturating_add(u64::from(page.image.width()) * u64::from(page.image.height()));
        super::check_document_budget(&name, files.len(), config, total)?;
        page.index = index;
        pages.push(page);
    }
    Ok(pages)
}

/// Whether a JPEG ends with its end-of-image marker (FF D9), ignoring padding some
/// writers append.
fn ends_with_eoi(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    bytes[..end].ends_with(&[0xFF, 0xD9])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_of_pages_loads_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for (name, shade) in [
            ("page-02.png", 100u8),
            ("page-01.png", 50),
            ("notes.txt", 0),
        ] {
            let path = dir.path().join(name);
            if name.ends_with(".txt") {
                std::fs::write(path, "not a page").unwrap();
            } else {
                image::GrayImage::from_pixel(20, 10, image::Luma([shade]))
                    .save(path)
                    .unwrap();
            }
        }
        let config = RenderConfig {
            dpi: 100.0,
            ..RenderConfig::default()
        };
        let pages = load_image_dir(dir.path(), 200.0, &config).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].image.get_pixel(0, 0).0[0], 50);
        assert_eq!(pages[1].index, 1);
        assert_eq!(pages[1].image.dimensions(), (10, 5));
        let empty = tempfile::tempdir().unwrap();
        let e = load_image_dir(empty.path(), 200.0, &config)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no page images"), "{e}");
    }

    /// A FIFO among the pages is no page: it is skipped without being opened (opening it
    /// would block), and so is a link to a device.
    #[cfg(unix)]
    #[test]
    fn a_fifo_or_device_in_a_page_folder_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.path().join("page-01.png"))
            .status()
            .unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("page-02.png")).unwrap();
        image::GrayImage::from_pixel(20, 10, image::Luma([7]))
            .save(dir.path().join("page-03.png"))
            .unwrap();
        let pages = load_image_dir(dir.path(), 100.0, &RenderConfig::default()).unwrap();
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].image.get_pixel(0, 0).0[0], 7);
        // Named directly, each is refused as what it is.
        for (name, what) in [
            ("page-01.png", "a FIFO"),
            ("page-02.png", "a character device"),
        ] {
            let e = load_image(&dir.path().join(name), 100.0, &RenderConfig::default())
                .unwrap_err()
                .to_string();
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn jpeg_end_marker() {
        assert!(ends_with_eoi(&[0xFF, 0xD8, 1, 2, 0xFF, 0xD9]));
        assert!(ends_with_eoi(&[0xFF, 0xD8, 1, 2, 0xFF, 0xD9, 0, 0, b'\n']));
        assert!(!ends_with_eoi(&[0xFF, 0xD8, 1, 2, 3]));
        assert!(!ends_with_eoi(&[]));
    }
}
