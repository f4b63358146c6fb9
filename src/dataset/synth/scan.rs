//! "Scanned" variants of generated pages: a clean rendering degraded the way a desk
//! scanner or a phone photo of a printout degrades it.
//!
//! The steps, all drawn from one seed: contrast and brightness jitter (grey paper, faded
//! toner), a small skew (±1.5°, bilinear), Gaussian blur (focus, scanner optics), uneven
//! lighting, sensor noise, and JPEG artefacts (quality 60–85).
//!
//! Rendering the PDF is not done here: the caller passes the rendered page (from pdfium
//! in the CLI), so this module stays pure image processing.

use std::io::Cursor;
use std::path::Path;

use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::GrayImage;

use super::rng::Rng;

/// Renders the PDF at `path` at a DPI to one grey image per page.
pub type Rasteriser<'a> = &'a dyn Fn(&Path, f32) -> Result<Vec<GrayImage>, String>;

/// How much one scan is degraded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanParams {
    /// Skew in degrees, counter-clockwise.
    pub angle_deg: f32,
    /// Gaussian blur sigma in pixels (0 = none).
    pub blur_sigma: f32,
    /// Standard deviation of the additive noise, in grey levels.
    pub noise_sd: f32,
    /// Added to every pixel, in grey levels.
    pub brightness: f32,
    /// Contrast around mid-grey (1 = unchanged).
    pub contrast: f32,
    /// Brightness difference between the left and right page edges (uneven lighting).
    pub shading: f32,
    pub jpeg_quality: u8,
}

impl ScanParams {
    /// Draws the parameters from `seed`; blur scales with the DPI so that it looks the
    /// same at every resolution.
    pub fn draw(seed: u64, dpi: f32) -> ScanParams {
        let mut rng = Rng::new(seed);
        let px_per_pt = dpi / 72.0;
        ScanParams {
            angle_deg: rng.uniform(-1.5, 1.5) as f32,
            blur_sigma: (rng.uniform(0.15, 0.45) as f32) * px_per_pt,
            // Sensor noise is what makes scans big as JPEG; real flatbed noise is mild.
            noise_sd: rng.uniform(0.8, 3.0) as f32,
            brightness: rng.uniform(-12.0, 4.0) as f32,
            contrast: rng.uniform(0.8, 1.0) as f32,
            shading: rng.uniform(-10.0, 10.0) as f32,
            jpeg_quality: rng.range(60, 85) as u8,
        }
    }
}

/// Applies `params` to a clean page; `seed` drives the noise.
pub fn degrade(page: &GrayImage, params: &ScanParams, seed: u64) -> GrayImage {
    let tone = |v: f32| (v - 128.0) * params.contrast + 128.0 + params.brightness;
    let mut img = map(page, tone);
    let paper = tone(255.0);
    if params.angle_deg.abs() > 1e-3 {
        img = rotate(&img, params.angle_deg, paper);
    }
    if params.blur_sigma > 0.05 {
        img = gaussian_blur(&img, params.blur_sigma);
    }
    let mut rng = Rng::new(seed);
    let w = img.width().max(1) as f32;
    for (x, _, p) in img.enumerate_pixels_mut() {
        let light = params.shading * (x as f32 / w - 0.5);
        let v = f32::from(p.0[0]) + light + params.noise_sd * rng.normal() as f32;
        p.0[0] = v.round().clamp(0.0, 255.0) as u8;
    }
    img
}

/// JPEG bytes at `quality`, with the DPI recorded in the JFIF header.
pub fn encode_jpeg(img: &GrayImage, quality: u8, dpi: f32) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    let mut enc = JpegEncoder::new_with_quality(&mut out, quality);
    enc.set_pixel_density(PixelDensity::dpi(dpi.round() as u16));
    enc.encode_image(img).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

fn map(img: &GrayImage, f: impl Fn(f32) -> f32) -> GrayImage {
    let lut: Vec<u8> = (0..=255u8)
        .map(|v| f(f32::from(v)).round().clamp(0.0, 255.0) as u8)
        .collect();
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0[0] = lut[usize::from(p.0[0])];
    }
    out
}

/// Rotates about the centre with bilinear sampling; uncovered corners get `fill`.
fn rotate(img: &GrayImage, angle_deg: f32, fill: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (sin, cos) = angle_deg.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let at = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            fill
        } else {
            f32::from(img.get_pixel(x as u32, y as u32).0[0])
        }
    };
    GrayImage::from_fn(w, h, |x, y| {
        // Inverse mapping: where in the source does this output pixel come from?
        let dx = x as f32 + 0.5 - cx;
        let dy = y as f32 + 0.5 - cy;
        let sx = cos * dx + sin * dy + cx - 0.5;
        let sy = -sin * dx + cos * dy + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        let v = top * (1.0 - fy) + bottom * fy;
        image::Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

/// Separable Gaussian blur with clamped edges.
pub(crate) fn gaussian_blur(img: &GrayImage, sigma: f32) -> GrayImage {
    let radius = (sigma * 3.0).ceil().max(1.0) as i64;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / sum).collect();
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let src: Vec<f32> = img.as_raw().iter().map(|&v| f32::from(v)).collect();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let o = k as i64 - radius;
                    let (sx, sy) = if horizontal {
                        ((x + o).clamp(0, w - 1), y)
                    } else {
                        (x, (y + o).clamp(0, h - 1))
                    };
                    acc += weight * src[(sy * w + sx) as usize];
                }
                out[(y * w + x) as usize] = acc;
            }
        }
        out
    };
    let blurred = pass(&pass(&src, true), false);
    let raw = blurred
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    GrayImage::from_raw(img.width(), img.height(), raw).expect("same dimensions")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> GrayImage {
        // White page with a black bar, like a line of text.
        GrayImage::from_fn(200, 120, |x, y| {
            image::Luma([if (40..160).contains(&x) && (50..60).contains(&y) {
                0
            } else {
                255
            }])
        })
    }

    #[test]
    fn degrade_is_deterministic_and_keeps_the_page_readable() {
        let p = ScanParams::draw(3, 150.0);
        assert!(p.angle_deg.abs() <= 1.5 && (60..=85).contains(&p.jpeg_quality));
        let a = degrade(&page(), &p, 9);
        let b = degrade(&page(), &p, 9);
        assert_eq!(a, b);
        assert_eq!(a.dimensions(), (200, 120));
        // The bar stays dark and the paper light.
        assert!(a.get_pixel(100, 55).0[0] < 100);
        assert!(a.get_pixel(100, 10).0[0] > 150);
        let jpg = encode_jpeg(&a, p.jpeg_quality, 150.0).unwrap();
        assert_eq!(jpg, encode_jpeg(&b, p.jpeg_quality, 150.0).unwrap());
        assert_eq!(&jpg[..2], &[0xFF, 0xD8]);
    }

    #[test]
    fn rotation_moves_content_by_the_angle() {
        let r = rotate(&page(), 1.5, 255.0);
        // Rotating counter-clockwise in image space lifts the bar's right end.
        let dark_rows = |x: u32| (0..120).filter(|&y| r.get_pixel(x, y).0[0] < 128).min();
        assert!(dark_rows(150) != dark_rows(50));
    }
}
