//! Background flattening: divides the page by an estimate of its paper level, so shaded
//! cells, uneven lighting and grey paper all become white while the ink stays dark.
//!
//! The estimate is a grey-level closing (a max filter, then a min filter, over a square window
//! wider than any stroke): strokes vanish under the max filter, while regions larger than the
//! window (a shaded cell, a lighting gradient) come back with their edges in place under the min
//! filter. Both filters are separable running extremes (van Herk / Gil-Werman), O(1) per pixel
//! whatever the window.

use image::GrayImage;

/// Window of the closing, in inches: wider than the strokes of a bold 22 pt title, narrower
/// than a table cell's height.
pub const WINDOW_INCHES: f32 = 0.12;

/// The page divided by its background estimate (paper = 255).
pub fn flatten(img: &GrayImage, dpi: f32) -> GrayImage {
    let k = ((WINDOW_INCHES * dpi).round() as usize).max(5) | 1;
    let bg = closing(img, k);
    let mut out = img.clone();
    for (o, &b) in out.as_mut().iter_mut().zip(bg.as_raw()) {
        // A background darker than this is not paper (a black bar, a dark desk): leave it.
        let b = (b as u32).max(48);
        *o = ((*o as u32 * 255 + b / 2) / b).min(255) as u8;
    }
    out
}

/// Grey-level closing with a `k × k` square window.
pub fn closing(img: &GrayImage, k: usize) -> GrayImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut a = img.as_raw().clone();
    running_extreme(&mut a, w, h, k, true, u8::max);
    running_extreme(&mut a, w, h, k, false, u8::max);
    running_extreme(&mut a, w, h, k, true, u8::min);
    running_extreme(&mut a, w, h, k, false, u8::min);
    GrayImage::from_raw(w as u32, h as u32, a).expect("same size")
}

/// Replaces every pixel by `op` over the `k` pixels centred on it along rows (`horizontal`)
/// or columns; windows are clipped at the borders.
fn running_extreme(
    data: &mut [u8],
    w: usize,
    h: usize,
    k: usize,
    horizontal: bool,
    op: fn(u8, u8) -> u8,
) {
    let (n, lines, stride, step) = if horizontal {
        (w, h, w, 1)
    } else {
        (h, w, 1, w)
    };
    if n == 0 {
        return;
    }
    let r = k / 2;
    let mut line = vec![0u8; n];
    let (mut pre, mut suf) = (vec![0u8; n], vec![0u8; n]);
    for l in 0..lines {
        let base = l * stride;
        for (i, v) in line.iter_mut().enumerate() {
            *v = data[base + i * step];
        }
        // Prefix extremes within blocks of k, and suffix extremes within the same blocks.
        for i in 0..n {
            pre[i] = if i % k == 0 {
                line[i]
            } else {
                op(pre[i - 1], line[i])
            };
        }
        for i in (0..n).rev() {
            suf[i] = if i % k == k - 1 || i == n - 1 {
                line[i]
            } else {
                op(suf[i + 1], line[i])
            };
        }
        for i in 0..n {
            let lo = i.saturating_sub(r);
            let hi = (i + r).min(n - 1);
            // [lo, hi] spans at most two blocks: the suffix of lo's and the prefix of hi's.
            let v = if lo / k == hi / k {
                let mut v = line[lo];
                for &x in &line[lo + 1..=hi] {
                    v = op(v, x);
                }
                v
            } else {
                op(suf[lo], pre[hi])
            };
            data[base + i * step] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// The slow definition, for comparison.
    fn naive(img: &GrayImage, k: usize) -> GrayImage {
        let (w, h) = (img.width() as i64, img.height() as i64);
        let r = (k / 2) as i64;
        let pass = |src: &GrayImage, max: bool| {
            let mut out = src.clone();
            for y in 0..h {
                for x in 0..w {
                    let mut v = if max { 0u8 } else { 255u8 };
                    for dy in -r..=r {
                        for dx in -r..=r {
                            let (xx, yy) = (x + dx, y + dy);
                            if xx >= 0 && yy >= 0 && xx < w && yy < h {
                                let p = src.get_pixel(xx as u32, yy as u32).0[0];
                                v = if max { v.max(p) } else { v.min(p) };
                            }
                        }
                    }
                    out.put_pixel(x as u32, y as u32, Luma([v]));
                }
            }
            out
        };
        pass(&pass(img, true), false)
    }

    #[test]
    fn closing_equals_its_definition() {
        let mut seed = 7u64;
        let img = GrayImage::from_fn(37, 23, |_, _| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            Luma([(seed >> 56) as u8])
        });
        for k in [1, 3, 5, 7, 9] {
            assert_eq!(closing(&img, k), naive(&img, k), "k = {k}");
        }
    }

    /// Black text on a grey (shaded) cell next to white paper: after flattening, the cell's
    /// paper is white and the text is still black.
    #[test]
    fn shaded_cell_becomes_white_and_text_stays() {
        let mut img = GrayImage::from_pixel(200, 80, Luma([250]));
        for y in 10..70 {
            for x in 0..100 {
                img.put_pixel(x, y, Luma([205]));
            }
        }
        for y in 30..50 {
            for x in [40, 41, 60, 61] {
                img.put_pixel(x, y, Luma([20]));
            }
        }
        let f = flatten(&img, 150.0);
        assert!(
            f.get_pixel(20, 40).0[0] >= 250,
            "{}",
            f.get_pixel(20, 40).0[0]
        );
        assert!(f.get_pixel(150, 40).0[0] >= 250);
        assert!(f.get_pixel(40, 40).0[0] <= 30);
    }
}
