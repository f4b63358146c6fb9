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
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
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
    fn jpeg_end_marker() {
        assert!(ends_with_eoi(&[0xFF, 0xD8, 1, 2, 0xFF, 0xD9]));
        assert!(ends_with_eoi(&[0xFF, 0xD8, 1, 2, 0xFF, 0xD9, 0, 0, b'\n']));
        assert!(!ends_with_eoi(&[0xFF, 0xD8, 1, 2, 3]));
        assert!(!ends_with_eoi(&[]));
    }
}
