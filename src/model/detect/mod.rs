//! Text-line detection by deterministic image processing:
//! 0. a photo of a page: find the page against its background and warp it upright
//!    (`perspective`);
//! 1. flatten the background (`background`): shaded cells, grey paper and uneven light turn
//!    white, the ink stays dark;
//! 2. binarise with Otsu's threshold and drop isolated pixels;
//! 3. estimate the skew (the angle whose horizontal projection is sharpest) and rotate it away;
//! 4. erase table rules (long, possibly dashed, horizontal / vertical ink runs: `rules`) and
//!    specks (small components far from any character: `components`) from a working copy;
//! 5. horizontal projection → line bands (tall bands split at their weakest row);
//! 6. column projection inside each band → segments split at wide gaps (table cells).
//!
//! Output is in reading order: bands top to bottom, segments left to right.

mod background;
mod components;
mod perspective;
mod rules;

use crate::dataset::variants::Transform;
use image::{GrayImage, Luma};

/// One piece of a text line to recognise, in deskewed page coordinates (exclusive ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// A visual line: its band and its segments, left to right.
#[derive(Debug, Clone)]
pub struct TextLine {
    pub y0: u32,
    pub y1: u32,
    pub segments: Vec<Segment>,
}

/// The page after cleaning and deskewing, and the lines found on it.
pub struct Detection {
    /// Deskewed page with table rules painted over with the paper level: crop segments here.
    pub image: GrayImage,
    pub lines: Vec<TextLine>,
    /// Estimated skew of the input page in degrees, positive when lines descend to the right.
    pub skew_degrees: f32,
    /// Input page pixels → `image` pixels (rectification, then deskew): where a box known
    /// on the input page lies on the detection image (labelling training crops).
    pub to_image: Transform,
}

#[derive(Debug, Clone, Copy)]
pub struct DetectOptions {
    /// A gap wider than this many band heights splits a line into segments.
    pub segment_gap: f32,
    /// Largest skew searched, degrees.
    pub max_skew: f32,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            segment_gap: 1.2,
            max_skew: 3.0,
        }
    }
}

/// Otsu's threshold of a grayscale image.
pub fn otsu(img: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0f64, 0f64, -1f64, 128u8);
    for (t, &count) in hist.iter().enumerate() {
        w0 += count as f64;
        if w0 == 0.0 {
            continue;
        }
        let w1 = total as f64 - w0;
        if w1 == 0.0 {
            break;
        }
        sum0 += t as f64 * count as f64;
        let (m0, m1) = (sum0 / w0, (sum_all - sum0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}

/// Binary ink mask (true = ink), without isolated single pixels.
fn ink_mask(img: &GrayImage, t: u8) -> Vec<bool> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw: Vec<bool> = img.as_raw().iter().map(|&p| p <= t).collect();
    let mut out = raw.clone();
    for y in 0..h {
        for x in 0..w {
            if !raw[y * w + x] {
                continue;
            }
            let mut n = 0;
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                    if (dx, dy) != (0, 0)
                        && xx >= 0
                        && yy >= 0
                        && (xx as usize) < w
                        && (yy as usize) < h
                        && raw[yy as usize * w + xx as usize]
                    {
                        n += 1;
                    }
                }
            }
            if n == 0 {
                out[y * w + x] = false;
            }
        }
    }
    out
}

/// Erases the marked pixels and a one-pixel fringe around them (the anti-aliased edge of a
/// rule) from the mask, painting them with `paper` in `img` too.
fn erase(mask: &mut [bool], img: &mut GrayImage, marked: &[bool], paper: u8) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut fringe = marked.to_vec();
    for y in 0..h {
        for x in 0..w {
            if marked[y * w + x] {
                for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                    let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                    if xx >= 0 && yy >= 0 && (xx as usize) < w && (yy as usize) < h {
                        fringe[yy as usize * w + xx as usize] = true;
                    }
                }
            }
        }
    }
    for (i, &e) in fringe.iter().enumerate() {
        if e {
            mask[i] = false;
            img.as_mut()[i] = paper;
        }
    }
}

/// Skew estimate: maximises the sum of squared row counts of ink pixels projected at angle a.
fn estimate_skew(mask: &[bool], w: usize, h: usize, max_deg: f32) -> f32 {
    let mut pts: Vec<(f32, f32)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if mask[y * w + x] {
                pts.push((x as f32, y as f32));
            }
        }
    }
    if pts.len() < 50 {
        return 0.0;
    }
    let stride = (pts.len() / 150_000).max(1);
    let pts: Vec<(f32, f32)> = pts.into_iter().step_by(stride).collect();
    let diag = ((w * w + h * h) as f32).sqrt();
    let score = |deg: f32| -> f64 {
        let (s, c) = deg.to_radians().sin_cos();
        let n = (2.0 * diag) as usize + 2;
        let mut bins = vec![0u32; n];
        for &(x, y) in &pts {
            // Row of the point once the page is rotated by -deg.
            let r = (y * c - x * s + diag) as usize;
            if r < n {
                bins[r] += 1;
            }
        }
        bins.iter().map(|&b| (b as f64) * (b as f64)).sum()
    };
    let search = |lo: f32, hi: f32, step: f32| -> f32 {
        let mut best = (f64::MIN, 0.0);
        let mut a = lo;
        while a <= hi + 1e-6 {
            let sc = score(a);
            if sc > best.0 {
                best = (sc, a);
            }
            a += step;
        }
        best.1
    };
    let coarse = search(-max_deg, max_deg, 0.25);
    search(coarse - 0.25, coarse + 0.25, 0.05)
}

/// Rotates an image about its centre (bilinear, filling with `fill`) so that lines descending
/// to the right at `deg` degrees become horizontal.
pub fn rotate_gray(img: &GrayImage, deg: f32, fill: u8) -> GrayImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (s, c) = deg.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let src = img.as_raw();
    let mut out = GrayImage::from_pixel(w as u32, h as u32, Luma([fill]));
    let dst = out.as_mut();
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let sx = c * dx - s * dy + cx;
            let sy = s * dx + c * dy + cy;
            if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f32 || sy >= (h - 1) as f32 {
                continue;
            }
            let (x0, y0) = (sx as usize, sy as usize);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let p = |xx: usize, yy: usize| src[yy * w + xx] as f32;
            let a = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
            let b = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
            dst[y * w + x] = (a * (1.0 - fy) + b * fy).round() as u8;
        }
    }
    out
}

/// Detects the text lines of a page rendered at `dpi`.
pub fn detect_lines(page: &GrayImage, dpi: f32, opts: &DetectOptions) -> Detection {
    if page.width() < 4 || page.height() < 4 {
        return Detection {
            image: page.clone(),
            lines: Vec::new(),
            skew_degrees: 0.0,
            to_image: Transform::IDENTITY,
        };
    }
    let mut p = prepare(page, dpi, opts);
    erase_rules_and_specks(&mut p, dpi);
    let (w, h) = (p.w, p.h);
    let rows: Vec<usize> = (0..h)
        .map(|y| p.mask[y * w..(y + 1) * w].iter().filter(|&&m| m).count())
        .collect();
    let lines = line_bands(&rows, w, dpi / 72.0)
        .into_iter()
        .filter_map(|band| segment_band(&p.mask, w, h, band, opts.segment_gap))
        .collect();
    Detection {
        image: p.work,
        lines,
        skew_degrees: p.skew,
        to_image: p.to_image,
    }
}

/// A page on its way through detection: the cleaned working image and its ink mask.
struct Prepared {
    work: GrayImage,
    mask: Vec<bool>,
    w: usize,
    h: usize,
    skew: f32,
    to_image: Transform,
}

/// Paper level rules and specks are painted over with (the background is flattened to white).
const PAPER: u8 = 255;

/// Rectifies a photo, flattens the background, binarises and deskews the page.
fn prepare(page: &GrayImage, dpi: f32, opts: &DetectOptions) -> Prepared {
    // A photo: the page against its background, warped upright.
    const INSET: f32 = 0.005;
    let quad = perspective::find_page(page);
    let rectified = quad.map(|q| perspective::rectify(page, q, INSET));
    let mut to_image = quad
        .and_then(|q| perspective::rectify_transform(q, INSET))
        .unwrap_or(Transform::IDENTITY);
    let page = rectified.as_ref().unwrap_or(page);
    let (w, h) = (page.width() as usize, page.height() as usize);
    let mut work = background::flatten(page, dpi);
    let t = otsu(&work);
    let mut mask = ink_mask(&work, t);
    // Deskew before erasing rules: on a tilted scan a rule is a staircase of short runs that
    // no run-length test catches, and erasing part of it first would leave fragments that
    // read as garbage lines. Straight rules also sharpen the skew estimate.
    let skew = estimate_skew(&mask, w, h, opts.max_skew);
    if skew.abs() >= 0.05 {
        work = rotate_gray(&work, skew, PAPER);
        mask = ink_mask(&work, t);
        to_image = rotation_transform(w, h, skew).after(&to_image);
    }
    Prepared {
        work,
        mask,
        w,
        h,
        skew,
        to_image,
    }
}

/// Erases table rules and specks from the mask and the working image.
fn erase_rules_and_specks(p: &mut Prepared, dpi: f32) {
    let (w, h) = (p.w, p.h);
    // Rules: longer than any glyph (half an inch across, a quarter inch down), with breaks of
    // up to 0.02 in (dashed by thresholding).
    let (min_h, min_v) = ((dpi * 0.5) as usize, (dpi * 0.25) as usize);
    let bridge = ((dpi * 0.02).round() as usize).max(1);
    let rules = rules::find_rules(&p.mask, w, h, min_h.max(12), min_v.max(8), bridge);
    erase(&mut p.mask, &mut p.work, &rules, PAPER);
    // Specks: components smaller than a 1 pt square with no character and little other ink
    // within 5 pt (half an em of 10 pt text: the dashes of a `- 1 -` page number are a space
    // away from the digit).
    let pt = dpi / 72.0;
    let small = (pt.powi(2).round() as usize).max(2);
    let radius = ((5.0 * pt).round() as usize).max(2);
    let specks = components::specks(&p.mask, w, h, small, radius);
    erase(&mut p.mask, &mut p.work, &specks, PAPER);
}

/// Line bands `(y0, y1)` from the ink count of each row (`pt` pixels per point): runs of
/// inked rows, merged across tiny gaps, specks dropped, touching lines split.
fn line_bands(rows: &[usize], w: usize, pt: f32) -> Vec<(usize, usize)> {
    let min_count = (w / 2000).max(1);
    let mut bands: Vec<(usize, usize)> = Vec::new();
    let mut y = 0;
    while y < rows.len() {
        if rows[y] >= min_count {
            let s = y;
            while y < rows.len() && rows[y] >= min_count {
                y += 1;
            }
            bands.push((s, y));
        } else {
            y += 1;
        }
    }
    // Merge bands separated by tiny gaps (split vowels, dots); drop specks.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for b in bands {
        if let Some(last) = merged.last_mut() {
            if (b.0 - last.1) as f32 <= (1.2 * pt).max(1.0) {
                last.1 = b.1;
                continue;
            }
        }
        merged.push(b);
    }
    let min_h_band = (2.0 * pt).max(3.0) as usize;
    let bands: Vec<(usize, usize)> = merged
        .into_iter()
        .filter(|b| b.1 - b.0 >= min_h_band)
        .collect();
    if bands.is_empty() {
        return bands;
    }
    // Split bands much taller than the median (touching lines) at the weakest row.
    let mut hs: Vec<usize> = bands.iter().map(|b| b.1 - b.0).collect();
    hs.sort_unstable();
    let median = hs[hs.len() / 2].max(1);
    let mut out = Vec::new();
    for b in bands {
        split_tall(b, median, rows, &mut out);
    }
    out
}

/// The segments of one band: inked column runs joined across gaps narrower than `gap_bands`
/// band heights, with margins. `None` when the band has no ink left.
fn segment_band(
    mask: &[bool],
    w: usize,
    h: usize,
    (y0, y1): (usize, usize),
    gap_bands: f32,
) -> Option<TextLine> {
    let bh = y1 - y0;
    let cols: Vec<bool> = (0..w).map(|x| (y0..y1).any(|y| mask[y * w + x])).collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut x = 0;
    while x < w {
        if cols[x] {
            let s = x;
            while x < w && cols[x] {
                x += 1;
            }
            runs.push((s, x));
        } else {
            x += 1;
        }
    }
    if runs.is_empty() {
        return None;
    }
    let gap = gap_bands * bh as f32;
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for r in runs {
        match pieces.last_mut() {
            Some(p) if ((r.0 - p.1) as f32) < gap => p.1 = r.1,
            _ => pieces.push(r),
        }
    }
    let vm = (bh as f32 * 0.12).round() as usize;
    let hm = (bh as f32 * 0.25).round() as usize;
    let (cy0, cy1) = (y0.saturating_sub(vm), (y1 + vm).min(h));
    let segments = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // Margins, but never past the middle of the gap to a neighbour.
            let left_lim = if i > 0 {
                (pieces[i - 1].1 + p.0) / 2
            } else {
                0
            };
            let right_lim = if i + 1 < pieces.len() {
                (p.1 + pieces[i + 1].0) / 2
            } else {
                w
            };
            Segment {
                x0: p.0.saturating_sub(hm).max(left_lim) as u32,
                x1: (p.1 + hm).min(right_lim) as u32,
                y0: cy0 as u32,
                y1: cy1 as u32,
            }
        })
        .collect();
    Some(TextLine {
        y0: y0 as u32,
        y1: y1 as u32,
        segments,
    })
}

/// The map [`rotate_gray`] applies to a `w`×`h` image, source pixels → rotated pixels
/// (continuous coordinates: pixel `i` covers `[i, i + 1)`).
fn rotation_transform(w: usize, h: usize, deg: f32) -> Transform {
    // rotate_gray samples the source at R (X − p) + p for output X, p the middle of the
    // centre pixel; the forward map turns the other way about p.
    Transform::rotation(f64::from(deg), w as f64 / 2.0 + 0.5, h as f64 / 2.0 + 0.5)
}

fn split_tall(b: (usize, usize), median: usize, rows: &[usize], out: &mut Vec<(usize, usize)>) {
    let h = b.1 - b.0;
    if h * 10 < median * 18 || h < 6 {
        out.push(b);
        return;
    }
    // Weakest row in the middle part of the band.
    let (lo, hi) = (b.0 + h / 4, b.1 - h / 4);
    let cut = (lo..hi).min_by_key(|&y| rows[y]).unwrap_or(b.0 + h / 2);
    // Touching lines meet in a thin valley of ink; a title in a large font has ink across
    // its middle rows and stays one line (it was cut in half at 300 DPI before this check).
    let mean = rows[b.0..b.1].iter().sum::<usize>() / h;
    if rows[cut] * 4 > mean {
        out.push(b);
        return;
    }
    split_tall((b.0, cut), median, rows, out);
    split_tall((cut + 1, b.1), median, rows, out);
}

/// Cuts a segment out of the detection image.
pub fn crop(img: &GrayImage, s: &Segment) -> GrayImage {
    image::imageops::crop_imm(
        img,
        s.x0,
        s.y0,
        s.x1.saturating_sub(s.x0).max(1),
        s.y1.saturating_sub(s.y0).max(1),
    )
    .to_image()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fonts::FontSet;
    use crate::model::line_render::{render_line, LayoutStyle};

    /// The deskew map sends a mark to where rotate_gray put it.
    #[test]
    fn rotation_transform_follows_rotate_gray() {
        let mut img = GrayImage::from_pixel(401, 300, Luma([255]));
        for y in 78..83 {
            for x in 318..323 {
                img.put_pixel(x, y, Luma([0]));
            }
        }
        for deg in [-2.5f32, 1.3] {
            let out = rotate_gray(&img, deg, 255);
            let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
            for (x, y, p) in out.enumerate_pixels() {
                let ink = f64::from(255 - p.0[0]);
                sx += (x as f64 + 0.5) * ink;
                sy += (y as f64 + 0.5) * ink;
                n += ink;
            }
            let (x, y) = rotation_transform(401, 300, deg).apply(320.5, 80.5);
            assert!(
                (x - sx / n).abs() < 0.3 && (y - sy / n).abs() < 0.3,
                "{deg}°: mapped ({x}, {y}), found ({}, {})",
                sx / n,
                sy / n
            );
        }
    }

    /// Draws lines of text (cells separated by wide gaps) on an A4-ish page at 150 DPI,
    /// adds a table rule, noise and a 1° skew.
    #[test]
    fn finds_lines_and_cells_on_a_skewed_noisy_page() {
        let fonts = FontSet::system().expect("fonts installed");
        let font = &fonts.fonts[0].font;
        let dpi = 150.0;
        let px = 11.0 * dpi / 72.0;
        let mut page = GrayImage::from_pixel(1240, 900, Luma([255]));
        let rows: [&[&str]; 4] = [
            &["처 방 전"],
            &["성명: 홍길동", "등록번호: 12345678"],
            &["아모잘탄정 5/50mg", "1", "3", "7"],
            &["진단명: 본태성 고혈압 (I10)"],
        ];
        let mut y = 100usize;
        for cells in rows {
            let mut x = 100usize;
            for cell in cells {
                let cov = render_line(
                    font,
                    cell,
                    px,
                    LayoutStyle {
                        tracking: 0.0,
                        space_scale: 1.0,
                    },
                );
                for yy in 0..cov.height {
                    for xx in 0..cov.width {
                        let v = cov.get(xx, yy);
                        if v > 0.0 && x + xx < 1240 && y + yy < 900 {
                            let p = page.get_pixel_mut((x + xx) as u32, (y + yy) as u32);
                            p.0[0] = p.0[0].min((255.0 * (1.0 - v)) as u8);
                        }
                    }
                }
                x += cov.width + 150;
            }
            y += 110;
        }
        // A table rule between lines 2 and 3.
        for x in 80..1150 {
            page.put_pixel(x, 300, Luma([0]));
        }
        let mut page = rotate_gray(&page, -1.0, 255);
        let mut seed = 12345u64;
        for p in page.pixels_mut() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = ((seed >> 33) % 31) as i32 - 15;
            p.0[0] = (p.0[0] as i32 + n).clamp(0, 255) as u8;
        }
        let d = detect_lines(&page, dpi, &DetectOptions::default());
        assert!(
            (d.skew_degrees - 1.0).abs() < 0.3,
            "skew {}",
            d.skew_degrees
        );
        let counts: Vec<usize> = d.lines.iter().map(|l| l.segments.len()).collect();
        assert_eq!(counts, vec![1, 2, 4, 1], "lines {:?}", d.lines);
    }

    /// Draws `text` at `px` pixels per em with its top at `y`.
    fn draw(page: &mut GrayImage, text: &str, px: f32, x: usize, y: usize) {
        let fonts = FontSet::system().expect("fonts installed");
        let style = LayoutStyle {
            tracking: 0.0,
            space_scale: 1.0,
        };
        let cov = render_line(&fonts.fonts[0].font, text, px, style);
        for yy in 0..cov.height {
            for xx in 0..cov.width {
                let v = cov.get(xx, yy);
                let (px_, py) = ((x + xx) as u32, (y + yy) as u32);
                if v > 0.0 && px_ < page.width() && py < page.height() {
                    let p = page.get_pixel_mut(px_, py);
                    p.0[0] = p.0[0].min((255.0 * (1.0 - v)) as u8);
                }
            }
        }
    }

    /// A table of thick rules on a scan tilted by 1.2° at 300 DPI: every rule is a staircase
    /// of short runs until the page is deskewed, and none of it may come back as a "line".
    #[test]
    fn tilted_table_rules_leave_no_fragments() {
        let dpi = 300.0;
        let pt = dpi / 72.0;
        let mut page = GrayImage::from_pixel(2400, 1300, Luma([255]));
        let cells = [
            "환자의 성명 석향인",
            "주민등록번호 940219",
            "환자의 주소 인천",
        ];
        for (i, t) in cells.iter().enumerate() {
            let top = 200 + i * 150;
            // Rules above and below each row, 4 px thick, plus the cell's side rules.
            for y in [top - 40, top + 110] {
                for yy in y..y + 4 {
                    for x in 150..2250 {
                        page.put_pixel(x, yy as u32, Luma([0]));
                    }
                }
            }
            for x in [150u32, 2246] {
                for y in top - 40..top + 114 {
                    for xx in x..x + 4 {
                        page.put_pixel(xx, y as u32, Luma([0]));
                    }
                }
            }
            draw(&mut page, t, 10.0 * pt, 250, top);
        }
        let page = rotate_gray(&page, -1.2, 255);
        let d = detect_lines(&page, dpi, &DetectOptions::default());
        let counts: Vec<usize> = d.lines.iter().map(|l| l.segments.len()).collect();
        assert_eq!(counts, vec![1, 1, 1], "lines {:?}", d.lines);
    }

    /// A 22 pt title over 10 pt body lines at 300 DPI is one line, not two halves; two body
    /// lines drawn so close that their bands touch are still split apart.
    #[test]
    fn large_title_stays_whole_and_touching_lines_split() {
        let dpi = 300.0;
        let pt = dpi / 72.0;
        let mut page = GrayImage::from_pixel(2400, 1400, Luma([255]));
        draw(&mut page, "처 방 전", 22.0 * pt, 900, 100);
        let body = [
            "환자 성명 이태주",
            "주민등록번호 820805",
            "질병분류기호 K29.7",
            "처방 의료인",
        ];
        for (i, t) in body.iter().enumerate() {
            draw(&mut page, t, 10.0 * pt, 200, 300 + i * 120);
        }
        // Two more lines whose ink bands touch (line pitch = glyph height).
        let pitch = (10.0 * pt * 1.02) as usize;
        draw(&mut page, "가나다라마바사", 10.0 * pt, 200, 900);
        draw(&mut page, "아자차카타파하", 10.0 * pt, 200, 900 + pitch);
        let d = detect_lines(&page, dpi, &DetectOptions::default());
        assert_eq!(d.lines.len(), 7, "lines {:?}", d.lines);
        let title = &d.lines[0];
        assert!(
            title.y1 - title.y0 > (0.7 * 22.0 * pt) as u32,
            "title band {}..{} was cut",
            title.y0,
            title.y1
        );
    }

    /// Thresholds a grey page to one bit, as a fax does.
    fn one_bit(page: &GrayImage, t: u8) -> GrayImage {
        GrayImage::from_fn(page.width(), page.height(), |x, y| {
            Luma([if page.get_pixel(x, y).0[0] < t {
                0
            } else {
                255
            }])
        })
    }

    /// A 200 DPI fax: a shaded label cell beside a text cell, an empty shaded cell, a thin
    /// grey table rule that thresholding turns into a dashed line, the page tilted by 1.2°,
    /// and a field of specks. Only the two text cells and the line below are text.
    #[test]
    fn shading_skewed_one_bit_rules_and_specks_yield_no_line() {
        let dpi = 200.0;
        let pt = dpi / 72.0;
        let mut page = GrayImage::from_pixel(1600, 1000, Luma([255]));
        // Shaded cells: one with a label, one empty.
        for y in 150..230 {
            for x in 100..500 {
                page.put_pixel(x, y, Luma([200]));
            }
            for x in 900..1300 {
                page.put_pixel(x, y, Luma([200]));
            }
        }
        draw(&mut page, "발병일", 10.0 * pt, 130, 170);
        draw(&mut page, "2026.08.09", 10.0 * pt, 560, 170);
        // A light rule (grey, one pixel) across the table: dashed once thresholded.
        for x in 80..1500 {
            let v = if x % 7 == 3 { 240 } else { 110 };
            page.put_pixel(x, 260, Luma([v]));
        }
        draw(&mut page, "진단일 2026.08.11", 10.0 * pt, 130, 300);
        let mut page = one_bit(&rotate_gray(&page, -1.2, 255), 150);
        // Specks: isolated two- and three-pixel dots all over the page (also beside the text,
        // where they would add segments to its lines), and a denser field below.
        let mut seed = 99u64;
        for i in 0..1500 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let x = 60 + (seed >> 33) as u32 % 1480;
            let y = if i < 300 { 60 } else { 520 } + (seed >> 13) as u32 % 440;
            page.put_pixel(x, y, Luma([0]));
            page.put_pixel(x + 1, y, Luma([0]));
            if seed & 1 == 0 {
                page.put_pixel(x, y + 1, Luma([0]));
            }
        }
        let d = detect_lines(&page, dpi, &DetectOptions::default());
        let counts: Vec<usize> = d.lines.iter().map(|l| l.segments.len()).collect();
        assert_eq!(counts, vec![2, 1], "lines {:?}", d.lines);
    }

    /// A grey scan of a shaded label cell: the crop handed to the model has white paper
    /// around the label (the shading is gone), and an empty shaded cell is no line.
    #[test]
    fn shaded_cells_are_flattened_to_paper() {
        let dpi = 150.0;
        let pt = dpi / 72.0;
        let mut page = GrayImage::from_pixel(1240, 500, Luma([250]));
        for y in 100..170 {
            for x in 100..420 {
                page.put_pixel(x, y, Luma([205]));
            }
            for x in 700..1000 {
                page.put_pixel(x, y, Luma([215]));
            }
        }
        draw(&mut page, "주민등록번호", 10.0 * pt, 130, 118);
        let d = detect_lines(&page, dpi, &DetectOptions::default());
        let counts: Vec<usize> = d.lines.iter().map(|l| l.segments.len()).collect();
        assert_eq!(counts, vec![1], "lines {:?}", d.lines);
        let label = crop(&d.image, &d.lines[0].segments[0]);
        let mut levels: Vec<u8> = label.pixels().map(|p| p.0[0]).collect();
        levels.sort_unstable();
        assert!(
            levels[levels.len() / 2] >= 250,
            "paper level {}",
            levels[levels.len() / 2]
        );
    }

    /// A straight 1-bit fax page with specks all over it: the specks beside the text would be
    /// segments of its lines, and those between the lines lines of their own.
    #[test]
    fn specks_on_a_straight_fax_yield_no_segment() {
        let dpi = 200.0;
        let pt = dpi / 72.0;
        let mut page = GrayImage::from_pixel(1600, 700, Luma([255]));
        draw(&mut page, "처방 의약품의 명칭", 10.0 * pt, 130, 100);
        draw(&mut page, "1회 투약량 1.00", 10.0 * pt, 130, 300);
        let mut page = one_bit(&page, 150);
        let mut seed = 5u64;
        for _ in 0..600 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (x, y) = (
                20 + (seed >> 33) as u32 % 1560,
                20 + (seed >> 13) as u32 % 660,
            );
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                page.put_pixel(x + dx, y + dy, Luma([0]));
            }
        }
        let d = detect_lines(&page, dpi, &DetectOptions::default());
        let counts: Vec<usize> = d.lines.iter().map(|l| l.segments.len()).collect();
        assert_eq!(counts, vec![1, 1], "lines {:?}", d.lines);
    }

    /// FNV-1a over everything a detection returns.
    fn fingerprint(d: &Detection) -> u64 {
        let mut hash = 0xCBF2_9CE4_8422_2325u64;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
            }
        };
        eat(&d.image.width().to_le_bytes());
        eat(&d.image.height().to_le_bytes());
        eat(d.image.as_raw());
        eat(&d.skew_degrees.to_bits().to_le_bytes());
        for v in d.to_image.m {
            eat(&v.to_bits().to_le_bytes());
        }
        for l in &d.lines {
            eat(&[l.y0, l.y1].map(u32::to_le_bytes).concat());
            for s in &l.segments {
                eat(&[s.x0, s.y0, s.x1, s.y1].map(u32::to_le_bytes).concat());
            }
            eat(b"|");
        }
        hash
    }

    /// Pins detection output on a busy page (cells, a rule, shading, skew, noise) and on a
    /// photo of it (the page sheared onto a dark background), so restructuring the pipeline
    /// cannot change what the recogniser is handed.
    #[test]
    fn detection_is_pinned() {
        let dpi = 150.0;
        let pt = dpi / 72.0;
        let mut page = GrayImage::from_pixel(1240, 900, Luma([250]));
        for y in 90..150 {
            for x in 90..400 {
                page.put_pixel(x, y, Luma([205]));
            }
        }
        draw(&mut page, "환자성명 홍길동", 10.0 * pt, 110, 100);
        draw(&mut page, "등록번호 12345678", 10.0 * pt, 700, 100);
        for x in 80..1150 {
            page.put_pixel(x, 200, Luma([0]));
            page.put_pixel(x, 201, Luma([0]));
        }
        draw(&mut page, "아모잘탄정 5/50mg", 11.0 * pt, 110, 240);
        draw(&mut page, "1", 11.0 * pt, 700, 240);
        draw(
            &mut page,
            "진단명: 본태성 고혈압 (I10)",
            10.0 * pt,
            110,
            400,
        );
        draw(&mut page, "처 방 전", 20.0 * pt, 450, 600);
        let mut page = rotate_gray(&page, -0.8, 250);
        let mut seed = 777u64;
        for p in page.pixels_mut() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = ((seed >> 33) % 21) as i32 - 10;
            p.0[0] = (p.0[0] as i32 + n).clamp(0, 255) as u8;
        }
        let photo = GrayImage::from_fn(1500, 1150, |x, y| {
            let (x, y) = (x as f32, y as f32);
            let sx = x - 120.0 - 0.03 * (y - 120.0);
            let sy = y - 120.0 + 0.02 * (x - 120.0);
            if sx >= 0.0 && sy >= 0.0 && sx < 1240.0 && sy < 900.0 {
                *page.get_pixel(sx as u32, sy as u32)
            } else {
                Luma([60])
            }
        });
        let scan = detect_lines(&page, dpi, &DetectOptions::default());
        let photo = detect_lines(&photo, dpi, &DetectOptions::default());
        assert!(!scan.lines.is_empty() && !photo.lines.is_empty());
        assert_ne!(
            photo.to_image.m,
            Transform::IDENTITY.m,
            "the photo is rectified"
        );
        assert_eq!(
            (fingerprint(&scan), fingerprint(&photo)),
            (0xadcc_38cf_f1a2_bf00, 0x1730_edb2_b39c_c814),
            "detection output changed"
        );
    }
}
