//! Turns a rendered line into the kind of crop the line detector produces from a real page:
//! small rotation, crop around the ink (or the line band) with jittered margins, paper/ink
//! levels, occasional table-rule fragments, blur, noise and JPEG compression.

use super::line_render::Coverage;
use image::{GrayImage, Luma};
use rand::Rng;

/// Rotates coverage by `degrees` about its centre (bilinear).
pub fn rotate(c: &Coverage, degrees: f32) -> Coverage {
    if degrees.abs() < 1e-3 {
        return Coverage {
            width: c.width,
            height: c.height,
            data: c.data.clone(),
            band: c.band,
        };
    }
    let (s, co) = degrees.to_radians().sin_cos();
    let (cx, cy) = (c.width as f32 / 2.0, c.height as f32 / 2.0);
    let mut data = vec![0f32; c.data.len()];
    for y in 0..c.height {
        for x in 0..c.width {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let sx = co * dx + s * dy + cx;
            let sy = -s * dx + co * dy + cy;
            data[y * c.width + x] = bilinear(c, sx, sy);
        }
    }
    Coverage {
        width: c.width,
        height: c.height,
        data,
        band: c.band,
    }
}

fn bilinear(c: &Coverage, x: f32, y: f32) -> f32 {
    if x < 0.0 || y < 0.0 || x >= (c.width - 1) as f32 || y >= (c.height - 1) as f32 {
        return 0.0;
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let a = c.get(x0, y0) * (1.0 - fx) + c.get(x0 + 1, y0) * fx;
    let b = c.get(x0, y0 + 1) * (1.0 - fx) + c.get(x0 + 1, y0 + 1) * fx;
    a * (1.0 - fy) + b * fy
}

/// Bounding box of pixels with coverage above `t`: (x0, y0, x1, y1), exclusive ends.
pub fn ink_bbox(c: &Coverage, t: f32) -> Option<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..c.height {
        for x in 0..c.width {
            if c.get(x, y) > t {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    (x0 != usize::MAX).then_some((x0, y0, x1, y1))
}

/// Approximately normal noise (sum of uniforms).
fn gauss<R: Rng>(rng: &mut R) -> f32 {
    (0..4).map(|_| rng.random::<f32>()).sum::<f32>() - 2.0
}

/// The full augmentation: coverage → grayscale crop as the detector would cut it.
pub fn detector_crop<R: Rng>(c: &Coverage, rng: &mut R) -> Option<GrayImage> {
    let angle = if rng.random_bool(0.5) {
        gauss(rng) * 0.5
    } else {
        0.0
    };
    let c = rotate(c, angle);
    let (ix0, iy0, ix1, iy1) = ink_bbox(&c, 0.25)?;
    // Vertical extent: usually the Hangul band (a line with Hangul on it), sometimes tight ink.
    let (mut top, mut bot) = (iy0 as f32, iy1 as f32);
    if rng.random_bool(0.7) {
        top = top.min(c.band.0);
        bot = bot.max(c.band.1);
    }
    let band_h = (bot - top).max(2.0);
    let mt = rng.random_range(0.02..0.25) * band_h;
    let mb = rng.random_range(0.02..0.25) * band_h;
    let ml = rng.random_range(0.0..0.6) * band_h;
    let mr = rng.random_range(0.0..0.6) * band_h;
    let x0 = (ix0 as f32 - ml).max(0.0) as usize;
    let x1 = ((ix1 as f32 + mr) as usize).min(c.width);
    let y0 = (top - mt).max(0.0) as usize;
    let y1 = ((bot + mb).ceil() as usize).min(c.height);
    if x1 <= x0 + 1 || y1 <= y0 + 1 {
        return None;
    }
    let (w, h) = (x1 - x0, y1 - y0);

    // Paper and ink levels: mostly clean print, sometimes a grey scan.
    let paper = if rng.random_bool(0.7) {
        rng.random_range(235.0..255.0)
    } else {
        rng.random_range(170.0..235.0)
    };
    let ink = rng.random_range(0.0..80.0f32).min(paper - 60.0);
    let mut cov: Vec<f32> = Vec::with_capacity(w * h);
    for y in y0..y1 {
        for x in x0..x1 {
            cov.push(c.get(x, y));
        }
    }
    // Fragments of table rules near the crop edge (detectors cut cells close to borders).
    if rng.random_bool(0.08) {
        let thick = rng.random_range(1..=2usize.max(h / 16));
        let at_left = rng.random_bool(0.5);
        for t in 0..thick {
            let x = if at_left { t } else { w - 1 - t };
            for y in 0..h {
                cov[y * w + x] = 1.0;
            }
        }
    }
    if rng.random_bool(0.05) {
        let y = if rng.random_bool(0.5) { 0 } else { h - 1 };
        for x in 0..w {
            cov[y * w + x] = cov[y * w + x].max(0.8);
        }
    }
    let mut img = GrayImage::new(w as u32, h as u32);
    for (i, p) in img.pixels_mut().enumerate() {
        p.0[0] = (paper - cov[i] * (paper - ink)).clamp(0.0, 255.0) as u8;
    }
    if rng.random_bool(0.3) {
        let sigma = rng.random_range(0.3..1.0) * (band_h / 24.0).max(0.5);
        img = image::imageops::blur(&img, sigma);
    }
    if rng.random_bool(0.4) {
        let sigma = rng.random_range(2.0..14.0);
        for p in img.pixels_mut() {
            p.0[0] = (p.0[0] as f32 + gauss(rng) * sigma).clamp(0.0, 255.0) as u8;
        }
    }
    if rng.random_bool(0.05) {
        for _ in 0..rng.random_range(1..(w * h / 200).max(2)) {
            let (x, y) = (rng.random_range(0..w), rng.random_range(0..h));
            img.put_pixel(x as u32, y as u32, Luma([rng.random_range(0..100)]));
        }
    }
    if rng.random_bool(0.25) {
        img = jpeg_round_trip(&img, rng.random_range(30..90)).unwrap_or(img);
    }
    Some(img)
}

/// Encodes and decodes as JPEG at `quality` (block artefacts of scanned documents).
pub fn jpeg_round_trip(img: &GrayImage, quality: u8) -> Option<GrayImage> {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    img.write_with_encoder(enc).ok()?;
    Some(image::load_from_memory(&buf).ok()?.to_luma8())
}
