//! Line crop → model input. Shared by training and inference so both see the same pixels:
//! contrast stretch (robust percentiles), resize to the model's line height keeping the
//! aspect ratio, invert so ink = 1 and paper = 0 (padding is then the same as paper).

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use image::imageops::{resize, FilterType};
use image::GrayImage;

/// One normalised line, `height × width` values in `[0, 1]`, row-major.
#[derive(Debug, Clone)]
pub struct LineInput {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
}

/// Narrowest input (the stem needs a few columns).
const MIN_WIDTH: usize = 8;

/// Normalises a grayscale crop to a `height`-pixel line at most `max_width` wide.
pub fn line_input(crop: &GrayImage, height: usize, max_width: usize) -> LineInput {
    let (w, h) = crop.dimensions();
    let w = w.max(1);
    let h = h.max(1);
    let width = ((w as f32 * height as f32 / h as f32).round() as usize)
        .clamp(MIN_WIDTH, max_width.max(MIN_WIDTH));
    let resized = if crop.width() == 0 || crop.height() == 0 {
        GrayImage::from_pixel(width as u32, height as u32, image::Luma([255]))
    } else {
        resize(crop, width as u32, height as u32, FilterType::Triangle)
    };
    // Percentiles: ink level near the darkest pixels, paper level near the brightest.
    let mut hist = [0usize; 256];
    for p in resized.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let n = resized.len().max(1);
    let pct = |q: f32| {
        let target = (q * n as f32) as usize;
        let mut acc = 0;
        for (v, &c) in hist.iter().enumerate() {
            acc += c;
            if acc > target {
                return v as f32;
            }
        }
        255.0
    };
    let ink = pct(0.01);
    let paper = pct(0.90);
    // Low contrast (blank or faint crop): keep the absolute scale rather than amplify noise.
    let (lo, hi) = if paper - ink < 48.0 {
        (0.0, paper.max(128.0))
    } else {
        (ink, paper)
    };
    let scale = 1.0 / (hi - lo).max(1.0);
    let pixels = resized
        .pixels()
        .map(|p| ((hi - p.0[0] as f32) * scale).clamp(0.0, 1.0))
        .collect();
    LineInput {
        width,
        height,
        pixels,
    }
}

/// Pads lines to the widest one and stacks them: `[b, 1, h, w_max]` plus the valid widths.
pub fn batch_tensor<B: Backend>(
    lines: &[&LineInput],
    device: &B::Device,
) -> (Tensor<B, 4>, Vec<usize>) {
    let h = lines.first().map(|l| l.height).unwrap_or(32);
    let w_max = lines.iter().map(|l| l.width).max().unwrap_or(MIN_WIDTH);
    let mut data = vec![0f32; lines.len() * h * w_max];
    for (i, l) in lines.iter().enumerate() {
        for y in 0..h {
            let dst = i * h * w_max + y * w_max;
            data[dst..dst + l.width].copy_from_slice(&l.pixels[y * l.width..(y + 1) * l.width]);
        }
    }
    let widths = lines.iter().map(|l| l.width).collect();
    (
        Tensor::from_data(TensorData::new(data, [lines.len(), 1, h, w_max]), device),
        widths,
    )
}
