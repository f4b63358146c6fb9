//! Image variants of rendered pages: a fax, a phone photo and a flatbed scan of a printout.
//!
//! Pure image processing on grey pages, so either generator (or the model's trainer) can
//! call [`fax`], [`photo`] and [`scan`] on a page rendered at any DPI. Every draw comes
//! from the seed: the same page, DPI and seed give the same pixels. Each result carries the
//! geometric [`Transform`] it applied, so boxes on the clean page can be mapped onto it.
//!
//! - **fax**: 200 DPI, 1-bit (only 0 and 255), skew up to ±1.5°, ragged thresholded
//!   strokes (thinner or thicker), salt-and-pepper specks, small blobs, horizontal streaks.
//! - **photo**: the page (~200 DPI) lying on a darker, textured desk with clutter, seen
//!   in perspective (corners moved by up to 6% of the page), uneven light (gradient,
//!   vignette, a soft shadow), slight blur, noise; meant for JPEG at quality 60–75.
//! - **scan**: 300 DPI grey, tone jitter, skew up to ±0.5°, slight blur, light noise;
//!   JPEG at quality 55–70.
//!
//! [`VariantKind::encode`] writes faxes as 1-bit PNG and the others as JPEG with Huffman
//! tables fitted to the image (`jpeg_opt`: same pixels, 15–20 % smaller).

use std::io::Cursor;
use std::str::FromStr;

use image::imageops::FilterType;
use image::GrayImage;

use super::synth::rng::{mix, Rng};
use super::synth::{encode_jpeg, gaussian_blur};

/// The kinds of variant, in the order datasets list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VariantKind {
    Fax,
    Photo,
    Scan,
}

impl VariantKind {
    pub const ALL: [VariantKind; 3] = [VariantKind::Fax, VariantKind::Photo, VariantKind::Scan];

    /// The id suffix and CLI name (`fax`, `photo`, `scan`).
    pub fn as_str(self) -> &'static str {
        match self {
            VariantKind::Fax => "fax",
            VariantKind::Photo => "photo",
            VariantKind::Scan => "scan",
        }
    }

    /// The resolution pages should be rendered at for this variant (no resampling then).
    pub fn render_dpi(self) -> f32 {
        match self {
            VariantKind::Fax | VariantKind::Photo => 200.0,
            VariantKind::Scan => 300.0,
        }
    }

    /// Applies the variant to one page rendered at `dpi`.
    pub fn apply(self, page: &GrayImage, dpi: f32, seed: u64) -> Variant {
        match self {
            VariantKind::Fax => fax(page, dpi, seed),
            VariantKind::Photo => photo(page, dpi, seed),
            VariantKind::Scan => scan(page, dpi, seed),
        }
    }

    /// The file bytes of one variant page: 1-bit PNG for faxes, JPEG for photos and scans,
    /// with the DPI recorded (pHYs / JFIF density). `seed` picks the JPEG quality.
    pub fn encode(self, v: &Variant, seed: u64) -> Result<Vec<u8>, String> {
        let mut rng = Rng::new(mix(seed, 0x0E9C));
        let jpeg = |quality: i64| {
            let bytes = encode_jpeg(&v.image, quality as u8, v.dpi)?;
            // Tables fitted to the page: the same pixels in 15–20 % fewer bytes.
            Ok(super::jpeg_opt::optimize(&bytes).unwrap_or(bytes))
        };
        match self {
            VariantKind::Fax => encode_png_1bit(&v.image, v.dpi),
            VariantKind::Photo => jpeg(rng.range(60, 75)),
            VariantKind::Scan => jpeg(rng.range(55, 70)),
        }
    }

    /// File extension of [`VariantKind::encode`]'s output.
    pub fn extension(self) -> &'static str {
        match self {
            VariantKind::Fax => "png",
            VariantKind::Photo | VariantKind::Scan => "jpg",
        }
    }
}

impl std::fmt::Display for VariantKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VariantKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fax" => Ok(VariantKind::Fax),
            "photo" => Ok(VariantKind::Photo),
            "scan" => Ok(VariantKind::Scan),
            other => Err(format!(
                "unknown variant '{other}': choose from fax, photo, scan"
            )),
        }
    }
}

/// A projective map from the input page's pixel coordinates to the variant's: pixel
/// `(i, j)` covers `[i, i+1) × [j, j+1)` on both sides. Rotations and resampling are
/// special cases (last row `0 0 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Row-major 3×3 matrix: `(x', y', w') = m · (x, y, 1)`, output `(x'/w', y'/w')`.
    pub m: [f64; 9],
}

impl Transform {
    pub const IDENTITY: Transform = Transform {
        m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
    };

    /// Maps a point of the input page to the variant image.
    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let m = &self.m;
        let w = m[6] * x + m[7] * y + m[8];
        (
            (m[0] * x + m[1] * y + m[2]) / w,
            (m[3] * x + m[4] * y + m[5]) / w,
        )
    }

    /// `self` after `first`: maps through `first`, then `self`.
    pub fn after(&self, first: &Transform) -> Transform {
        let (a, b) = (&self.m, &first.m);
        let mut m = [0.0; 9];
        for r in 0..3 {
            for c in 0..3 {
                m[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
            }
        }
        Transform { m }
    }

    /// The inverse map (variant to input page); `None` if the matrix is singular.
    pub fn inverse(&self) -> Option<Transform> {
        let m = &self.m;
        let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6]);
        if det.abs() < 1e-12 {
            return None;
        }
        let inv = [
            (m[4] * m[8] - m[5] * m[7]) / det,
            (m[2] * m[7] - m[1] * m[8]) / det,
            (m[1] * m[5] - m[2] * m[4]) / det,
            (m[5] * m[6] - m[3] * m[8]) / det,
            (m[0] * m[8] - m[2] * m[6]) / det,
            (m[2] * m[3] - m[0] * m[5]) / det,
            (m[3] * m[7] - m[4] * m[6]) / det,
            (m[1] * m[6] - m[0] * m[7]) / det,
            (m[0] * m[4] - m[1] * m[3]) / det,
        ];
        Some(Transform { m: inv })
    }

    fn scale(sx: f64, sy: f64) -> Transform {
        Transform {
            m: [sx, 0.0, 0.0, 0.0, sy, 0.0, 0.0, 0.0, 1.0],
        }
    }

    /// Counter-clockwise rotation as seen on screen (y pointing down) by `angle_deg` about
    /// `(cx, cy)`.
    pub fn rotation(angle_deg: f64, cx: f64, cy: f64) -> Transform {
        let (s, c) = angle_deg.to_radians().sin_cos();
        // With y down, turning counter-clockwise lifts points right of the centre.
        Transform {
            m: [
                c,
                s,
                cx - c * cx - s * cy,
                -s,
                c,
                cy + s * cx - c * cy,
                0.0,
                0.0,
                1.0,
            ],
        }
    }

    /// The projective map taking the four `from` points onto the four `to` points.
    pub fn from_quads(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> Option<Transform> {
        // Eight equations in the eight unknowns h0..h7 (h8 = 1).
        let mut a = [[0.0f64; 9]; 8];
        for (i, (&(x, y), &(u, v))) in from.iter().zip(&to).enumerate() {
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        // Gaussian elimination with partial pivoting.
        for col in 0..8 {
            let pivot = (col..8).max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))?;
            if a[pivot][col].abs() < 1e-12 {
                return None;
            }
            a.swap(col, pivot);
            let pivot_row = a[col];
            for (r, row) in a.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (v, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                        *v -= f * p;
                    }
                }
            }
        }
        let mut m = [0.0; 9];
        for (i, row) in a.iter().enumerate() {
            m[i] = row[8] / row[i];
        }
        m[8] = 1.0;
        Some(Transform { m })
    }
}

/// One variant page.
#[derive(Debug, Clone)]
pub struct Variant {
    pub image: GrayImage,
    /// The resolution to record for the image (a photo's is its page's effective DPI).
    pub dpi: f32,
    /// Input page pixels → `image` pixels.
    pub transform: Transform,
    /// The skew applied, degrees counter-clockwise (photos: the perspective's mean tilt).
    pub angle_deg: f32,
}

/// Resamples `page` from `dpi` to `target` DPI; returns the image and the scale map.
fn resample(page: &GrayImage, dpi: f32, target: f32) -> (GrayImage, Transform) {
    let (w, h) = page.dimensions();
    if !(dpi.is_finite() && dpi > 0.0) || (dpi - target).abs() / target < 0.005 {
        return (page.clone(), Transform::IDENTITY);
    }
    let s = target / dpi;
    let (tw, th) = (
        ((w as f32 * s).round() as u32).max(1),
        ((h as f32 * s).round() as u32).max(1),
    );
    // Area-like filter when shrinking, Catmull-Rom when enlarging (as the image loader).
    let filter = if s < 1.0 {
        FilterType::Triangle
    } else {
        FilterType::CatmullRom
    };
    let img = image::imageops::resize(page, tw, th, filter);
    (
        img,
        Transform::scale(f64::from(tw) / f64::from(w), f64::from(th) / f64::from(h)),
    )
}

/// Bilinear sample at continuous pixel coordinates (pixel centres at +0.5); `None` outside.
fn sample(img: &GrayImage, x: f64, y: f64) -> Option<f32> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (sx, sy) = (x - 0.5, y - 0.5);
    if sx < -0.5 || sy < -0.5 || sx > w as f64 - 0.5 || sy > h as f64 - 0.5 {
        return None;
    }
    let (x0, y0) = (sx.floor(), sy.floor());
    let (fx, fy) = ((sx - x0) as f32, (sy - y0) as f32);
    let (x0, y0) = (x0 as i64, y0 as i64);
    let px = |x: i64, y: i64| {
        f32::from(
            img.get_pixel(x.clamp(0, w - 1) as u32, y.clamp(0, h - 1) as u32)
                .0[0],
        )
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
    let bottom = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
    Some(top * (1.0 - fy) + bottom * fy)
}

/// Warps `src` through `t` (source → output) into a `w × h` image; uncovered pixels get
/// `fill(x, y)`.
fn warp(
    src: &GrayImage,
    t: &Transform,
    w: u32,
    h: u32,
    fill: impl Fn(u32, u32) -> f32,
) -> Vec<f32> {
    let inv = t.inverse().unwrap_or(Transform::IDENTITY);
    let mut out = vec![0.0f32; (w as usize) * (h as usize)];
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = inv.apply(f64::from(x) + 0.5, f64::from(y) + 0.5);
            out[(y * w + x) as usize] = sample(src, sx, sy).unwrap_or_else(|| fill(x, y));
        }
    }
    out
}

fn to_gray(w: u32, h: u32, v: &[f32]) -> GrayImage {
    let raw = v
        .iter()
        .map(|p| p.round().clamp(0.0, 255.0) as u8)
        .collect();
    GrayImage::from_raw(w, h, raw).expect("buffer matches the dimensions")
}

/// How one fax is degraded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaxParams {
    /// Skew, degrees counter-clockwise, within ±1.5.
    pub angle_deg: f32,
    /// Grey level below which a pixel prints black: low thins strokes, high thickens them.
    pub threshold: f32,
    /// Noise added before thresholding, grey levels (ragged stroke edges).
    pub edge_noise: f32,
    /// Black specks per million pixels (salt-and-pepper; white specks are a quarter of it).
    pub specks_per_mp: f32,
    /// Small ink blobs on the page.
    pub blobs: usize,
    /// Horizontal streaks (transmission errors, dirty scanner glass).
    pub streaks: usize,
    /// Grey areas (shaded cells, seals) printed as an ordered-dither dot screen, as fax
    /// machines' halftone mode does; otherwise they drop out to white.
    pub halftone: bool,
}

impl FaxParams {
    /// Draws the parameters from `seed`.
    pub fn draw(seed: u64) -> FaxParams {
        let mut rng = Rng::new(mix(seed, 0xFA));
        FaxParams {
            angle_deg: rng.uniform(-1.5, 1.5) as f32,
            threshold: rng.uniform(105.0, 185.0) as f32,
            edge_noise: rng.uniform(6.0, 28.0) as f32,
            specks_per_mp: rng.uniform(40.0, 400.0) as f32,
            blobs: rng.range(2, 12) as usize,
            streaks: rng.range(1, 4) as usize,
            halftone: rng.chance(0.6),
        }
    }
}

/// Fax resolution (fine mode is 204×196; recorded as square 200 DPI).
pub const FAX_DPI: f32 = 200.0;

/// The geometric map [`fax`] applies to a `width × height` page rendered at `dpi`.
pub fn fax_transform(width: u32, height: u32, dpi: f32, seed: u64) -> Transform {
    let p = FaxParams::draw(seed);
    let s = if (dpi - FAX_DPI).abs() / FAX_DPI < 0.005 {
        1.0
    } else {
        FAX_DPI / dpi
    };
    let (tw, th) = (
        ((width as f32 * s).round() as u32).max(1),
        ((height as f32 * s).round() as u32).max(1),
    );
    let scale = Transform::scale(
        f64::from(tw) / f64::from(width),
        f64::from(th) / f64::from(height),
    );
    Transform::rotation(
        f64::from(p.angle_deg),
        f64::from(tw) / 2.0,
        f64::from(th) / 2.0,
    )
    .after(&scale)
}

/// A fax of `page` (rendered at `dpi`): 200 DPI, pixels only 0 or 255.
pub fn fax(page: &GrayImage, dpi: f32, seed: u64) -> Variant {
    let p = FaxParams::draw(seed);
    let mut rng = Rng::new(mix(seed, 0xFA5));
    let (img, scale) = resample(page, dpi, FAX_DPI);
    let (w, h) = img.dimensions();
    let rot = Transform::rotation(
        f64::from(p.angle_deg),
        f64::from(w) / 2.0,
        f64::from(h) / 2.0,
    );
    let grey = warp(&img, &rot, w, h, |_, _| 255.0);
    let mut bits = FaxBits {
        bits: threshold(&grey, w, &p, &mut rng),
        w,
        h,
    };
    bits.specks(&p, &mut rng);
    bits.blobs(&p, &mut rng);
    bits.streaks(&p, &mut rng);
    let raw = bits.bits.iter().map(|&b| if b { 0 } else { 255 }).collect();
    Variant {
        image: GrayImage::from_raw(w, h, raw).expect("buffer matches the dimensions"),
        dpi: FAX_DPI,
        transform: rot.after(&scale),
        angle_deg: p.angle_deg,
    }
}

/// Black (`true`) or white per pixel of the warped grey page: noisy threshold, and grey
/// areas as an ordered-dither dot screen in halftone mode.
fn threshold(grey: &[f32], w: u32, p: &FaxParams, rng: &mut Rng) -> Vec<bool> {
    // 4×4 Bayer matrix: a grey of level v prints about (1 - v/255) of its dots.
    const BAYER: [f32; 16] = [
        0.0, 8.0, 2.0, 10.0, 12.0, 4.0, 14.0, 6.0, 3.0, 11.0, 1.0, 9.0, 15.0, 7.0, 13.0, 5.0,
    ];
    grey.iter()
        .enumerate()
        .map(|(i, &clean)| {
            let v = clean + p.edge_noise * rng.normal() as f32 * 0.5;
            if v < p.threshold {
                return true;
            }
            // The screen reads the clean grey: paper must stay white, noise or not.
            if !p.halftone || clean >= 248.0 {
                return false;
            }
            let (x, y) = (i % w as usize, i / w as usize);
            let level = (BAYER[(y % 4) * 4 + x % 4] + 0.5) / 16.0;
            // Light greys are screened a little denser than their level, as toner spreads.
            (1.0 - clean / 255.0) * 1.4 > level
        })
        .collect()
}

/// A fax page as black (`true`) and white pixels, row by row.
struct FaxBits {
    bits: Vec<bool>,
    w: u32,
    h: u32,
}

impl FaxBits {
    fn idx(&self, x: u32, y: u32) -> usize {
        (y as usize) * (self.w as usize) + x as usize
    }

    /// Salt and pepper: isolated 1–2 px specks.
    fn specks(&mut self, p: &FaxParams, rng: &mut Rng) {
        let (w, h) = (self.w, self.h);
        let mp = f64::from(w) * f64::from(h) / 1e6;
        let specks = (f64::from(p.specks_per_mp) * mp) as usize;
        for i in 0..specks + specks / 4 {
            let black = i < specks;
            let (x, y) = (rng.below(w as usize) as u32, rng.below(h as usize) as u32);
            let size = 1 + rng.below(2) as u32;
            for dy in 0..size {
                for dx in 0..size {
                    if x + dx < w && y + dy < h {
                        let k = self.idx(x + dx, y + dy);
                        self.bits[k] = black;
                    }
                }
            }
        }
    }

    /// Blobs: small irregular ink dots (toner, dirt on the glass).
    fn blobs(&mut self, p: &FaxParams, rng: &mut Rng) {
        let (w, h) = (self.w, self.h);
        for _ in 0..p.blobs {
            let (cx, cy) = (
                rng.uniform(0.0, f64::from(w)),
                rng.uniform(0.0, f64::from(h)),
            );
            let r = rng.uniform(1.5, 4.5);
            let (rx, ry) = (r * rng.uniform(0.7, 1.3), r * rng.uniform(0.7, 1.3));
            let x0 = (cx - rx - 1.0).max(0.0) as u32;
            let y0 = (cy - ry - 1.0).max(0.0) as u32;
            let x1 = ((cx + rx + 1.0) as u32).min(w - 1);
            let y1 = ((cy + ry + 1.0) as u32).min(h - 1);
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let dx = (f64::from(x) + 0.5 - cx) / rx;
                    let dy = (f64::from(y) + 0.5 - cy) / ry;
                    if dx * dx + dy * dy <= 1.0 + 0.3 * rng.unit() {
                        let k = self.idx(x, y);
                        self.bits[k] = true;
                    }
                }
            }
        }
    }

    /// Streaks: a thin dark line with gaps across part of the page, or a white dropout row.
    fn streaks(&mut self, p: &FaxParams, rng: &mut Rng) {
        let (w, h) = (self.w, self.h);
        for _ in 0..p.streaks {
            let y = rng.below(h as usize) as u32;
            let thick = 1 + rng.below(2) as u32;
            let x_start = rng.below((w / 3).max(1) as usize) as u32;
            let x_end = w - rng.below((w / 3).max(1) as usize) as u32;
            let dark = rng.chance(0.7);
            let mut on = true;
            let mut run = 0u32;
            for x in x_start..x_end {
                if run == 0 {
                    on = !on || !dark;
                    run = if on {
                        rng.range(20, 300) as u32
                    } else {
                        rng.range(2, 30) as u32
                    };
                }
                run -= 1;
                if on {
                    for dy in 0..thick {
                        if y + dy < h {
                            let k = self.idx(x, y + dy);
                            self.bits[k] = dark;
                        }
                    }
                }
            }
        }
    }
}

/// How one photo is taken.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoParams {
    /// Desk border around the page, as a fraction of the page's width and height.
    pub border: f32,
    /// Page corner offsets (top-left, top-right, bottom-right, bottom-left) as fractions of
    /// the page's width (x) and height (y); each within ±0.06.
    pub corners: [(f32, f32); 4],
    /// Paper tone (page white becomes this).
    pub paper: f32,
    /// Desk base tone, darker than the paper.
    pub desk: f32,
    /// Wood-grain stripes: strength in grey levels and direction (radians).
    pub grain: f32,
    pub grain_dir: f32,
    /// Lighting: linear gradient strength (fraction) and direction, vignette strength.
    pub gradient: f32,
    pub gradient_dir: f32,
    pub vignette: f32,
    /// A soft shadow (hand or phone) across one side: depth (fraction), the edge's
    /// position along the page and its angle.
    pub shadow: f32,
    pub shadow_pos: f32,
    pub shadow_dir: f32,
    /// Blur sigma in output pixels and noise sigma in grey levels.
    pub blur: f32,
    pub noise: f32,
}

impl PhotoParams {
    pub fn draw(seed: u64) -> PhotoParams {
        let mut rng = Rng::new(mix(seed, 0xF070));
        let mut corner = || {
            (
                rng.uniform(-0.06, 0.06) as f32,
                rng.uniform(-0.06, 0.06) as f32,
            )
        };
        let corners = [corner(), corner(), corner(), corner()];
        PhotoParams {
            border: rng.uniform(0.07, 0.11) as f32,
            corners,
            paper: rng.uniform(222.0, 248.0) as f32,
            desk: rng.uniform(55.0, 140.0) as f32,
            grain: rng.uniform(2.5, 8.0) as f32,
            grain_dir: rng.uniform(0.0, std::f64::consts::PI) as f32,
            gradient: rng.uniform(0.05, 0.25) as f32,
            gradient_dir: rng.uniform(0.0, std::f64::consts::TAU) as f32,
            vignette: rng.uniform(0.08, 0.3) as f32,
            shadow: rng.uniform(0.0, 0.3) as f32,
            shadow_pos: rng.uniform(0.1, 0.35) as f32,
            shadow_dir: rng.uniform(0.0, std::f64::consts::TAU) as f32,
            blur: rng.uniform(0.5, 1.1) as f32,
            noise: rng.uniform(1.0, 2.5) as f32,
        }
    }
}

/// Resolution a photo's page is taken at before perspective.
pub const PHOTO_DPI: f32 = 200.0;

/// Smooth value noise in [0, 1) on a lattice of `cell` pixels (for the desk texture).
fn value_noise(seed: u64, x: f32, y: f32, cell: f32) -> f32 {
    let (gx, gy) = (x / cell, y / cell);
    let (x0, y0) = (gx.floor(), gy.floor());
    let (fx, fy) = (gx - x0, gy - y0);
    let lattice = |i: i64, j: i64| -> f32 {
        let h = mix(mix(seed, i as u64), j as u64);
        (h >> 40) as f32 / (1u64 << 24) as f32
    };
    let (i, j) = (x0 as i64, y0 as i64);
    let s = |t: f32| t * t * (3.0 - 2.0 * t);
    let (sx, sy) = (s(fx), s(fy));
    let top = lattice(i, j) * (1.0 - sx) + lattice(i + 1, j) * sx;
    let bottom = lattice(i, j + 1) * (1.0 - sx) + lattice(i + 1, j + 1) * sx;
    top * (1.0 - sy) + bottom * sy
}

/// A photo of `page` (rendered at `dpi`) lying on a desk, taken at an angle. The image is
/// larger than the page; `dpi` of the result is the page's effective resolution.
pub fn photo(page: &GrayImage, dpi: f32, seed: u64) -> Variant {
    let p = PhotoParams::draw(seed);
    let mut rng = Rng::new(mix(seed, 0xF071));
    let (img, scale) = resample(page, dpi, PHOTO_DPI);
    let g = PhotoGeometry::new(&img, &p);
    let (w, h) = (g.w, g.h);
    let desk = Desk {
        objects: desk_objects(&mut rng, w, h),
        seed: mix(seed, 0xDE5C),
        grain_dir: (p.grain_dir.cos(), p.grain_dir.sin()),
        p: &p,
        inv: g.persp.inverse().unwrap_or(Transform::IDENTITY),
        page: (g.pw, g.ph),
    };
    let paper = p.paper;
    let mut px = {
        // Page white becomes the paper tone; ink stays ink.
        let toned = image::ImageBuffer::from_fn(img.width(), img.height(), |x, y| {
            let v = f32::from(img.get_pixel(x, y).0[0]);
            image::Luma([(v * paper / 255.0).round().clamp(0.0, 255.0) as u8])
        });
        warp(&toned, &g.persp, w, h, |x, y| desk.tone(x, y))
    };
    light(&mut px, w, h, &p);
    let mut out = gaussian_blur(&to_gray(w, h, &px), p.blur);
    for v in out.pixels_mut() {
        let n = f32::from(v.0[0]) + p.noise * rng.normal() as f32;
        v.0[0] = n.round().clamp(0.0, 255.0) as u8;
    }
    let (effective, tilt) = g.effective_dpi_and_tilt();
    Variant {
        image: out,
        dpi: effective as f32,
        transform: g.persp.after(&scale),
        angle_deg: -tilt.to_degrees() as f32,
    }
}

/// Where the page lies in a photo: the photo's size (page plus desk border), the page's
/// corners in it, and the perspective map from page to photo.
struct PhotoGeometry {
    /// The page's size, pixels at [`PHOTO_DPI`].
    pw: f64,
    ph: f64,
    w: u32,
    h: u32,
    /// Page corners in the photo: top-left, top-right, bottom-right, bottom-left.
    dst: [(f64, f64); 4],
    persp: Transform,
}

impl PhotoGeometry {
    fn new(img: &GrayImage, p: &PhotoParams) -> PhotoGeometry {
        let (pw, ph) = (f64::from(img.width()), f64::from(img.height()));
        let (bx, by) = (pw * f64::from(p.border), ph * f64::from(p.border));
        let (w, h) = (
            (pw + 2.0 * bx).round() as u32,
            (ph + 2.0 * by).round() as u32,
        );
        let page_corners = [(0.0, 0.0), (pw, 0.0), (pw, ph), (0.0, ph)];
        let mut dst = [(0.0, 0.0); 4];
        for (k, (&(x, y), &(ox, oy))) in page_corners.iter().zip(&p.corners).enumerate() {
            dst[k] = (
                (bx + x + f64::from(ox) * pw).clamp(2.0, f64::from(w) - 2.0),
                (by + y + f64::from(oy) * ph).clamp(2.0, f64::from(h) - 2.0),
            );
        }
        let persp = Transform::from_quads(page_corners, dst).unwrap_or(Transform {
            m: [1.0, 0.0, bx, 0.0, 1.0, by, 0.0, 0.0, 1.0],
        });
        PhotoGeometry {
            pw,
            ph,
            w,
            h,
            dst,
            persp,
        }
    }

    /// Effective DPI (the mean length of the page's edges in the photo over its inches)
    /// and the mean tilt of its top and bottom edges, radians.
    fn effective_dpi_and_tilt(&self) -> (f64, f64) {
        let (dst, pw, ph) = (&self.dst, self.pw, self.ph);
        let len = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        let across = (len(dst[0], dst[1]) + len(dst[3], dst[2])) / 2.0 / pw;
        let down = (len(dst[0], dst[3]) + len(dst[1], dst[2])) / 2.0 / ph;
        let effective = f64::from(PHOTO_DPI) * (across + down) / 2.0;
        let tilt = ((dst[1].1 - dst[0].1).atan2(dst[1].0 - dst[0].0)
            + (dst[2].1 - dst[3].1).atan2(dst[2].0 - dst[3].0))
            / 2.0;
        (effective, tilt)
    }
}

/// A flat object on the desk (a pen, a phone, another sheet's edge): a rotated box.
struct DeskObject {
    cx: f64,
    cy: f64,
    hw: f64,
    hh: f64,
    cos: f64,
    sin: f64,
    tone: f32,
}

/// Clutter on the desk: a few flat objects.
fn desk_objects(rng: &mut Rng, w: u32, h: u32) -> Vec<DeskObject> {
    let n_objects = rng.range(1, 4) as usize;
    (0..n_objects)
        .map(|_| {
            let a = rng.uniform(0.0, std::f64::consts::PI);
            DeskObject {
                cx: rng.uniform(0.0, f64::from(w)),
                cy: rng.uniform(0.0, f64::from(h)),
                hw: rng.uniform(0.02, 0.25) * f64::from(w),
                hh: rng.uniform(0.01, 0.05) * f64::from(h),
                cos: a.cos(),
                sin: a.sin(),
                tone: rng.uniform(20.0, 230.0) as f32,
            }
        })
        .collect()
}

/// The desk around the page: wood grain, blotches, objects and the page's cast shadow.
struct Desk<'a> {
    objects: Vec<DeskObject>,
    seed: u64,
    /// Grain direction (cos, sin).
    grain_dir: (f32, f32),
    p: &'a PhotoParams,
    /// Photo pixels → page pixels.
    inv: Transform,
    /// The page's size, pixels.
    page: (f64, f64),
}

impl Desk<'_> {
    /// The desk's grey at photo pixel (x, y).
    fn tone(&self, x: u32, y: u32) -> f32 {
        let (fx, fy) = (x as f32, y as f32);
        let desk_seed = self.seed;
        for o in &self.objects {
            let (dx, dy) = (f64::from(fx) - o.cx, f64::from(fy) - o.cy);
            let (u, v) = (dx * o.cos + dy * o.sin, -dx * o.sin + dy * o.cos);
            if u.abs() <= o.hw && v.abs() <= o.hh {
                return o.tone + 6.0 * value_noise(desk_seed ^ 1, fx, fy, 9.0);
            }
        }
        let (gdx, gdy) = self.grain_dir;
        let along = fx * gdx + fy * gdy;
        let across = -fx * gdy + fy * gdx;
        // Wood grain: fine stripes along one direction, gently bent.
        let wobble = 4.0 * value_noise(desk_seed, along * 0.3, across, 400.0);
        let grain = (across * 0.11 + wobble).sin() * self.p.grain;
        let blotch = 18.0 * (value_noise(desk_seed ^ 2, fx, fy, 220.0) - 0.5)
            + 8.0 * (value_noise(desk_seed ^ 3, fx, fy, 40.0) - 0.5);
        // The page's own shadow on the desk, just outside its edges.
        let (pw, ph) = self.page;
        let (sx, sy) = self.inv.apply(f64::from(fx) + 0.5, f64::from(fy) + 0.5);
        let out = (-sx).max(sx - pw).max(0.0).max((-sy).max(sy - ph).max(0.0));
        let cast = if out < 14.0 {
            0.55 + 0.45 * (out / 14.0) as f32
        } else {
            1.0
        };
        (self.p.desk + grain + blotch) * cast
    }
}

/// Lighting: gradient × vignette × shadow, over page and desk alike.
fn light(px: &mut [f32], w: u32, h: u32, p: &PhotoParams) {
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let diag = (cx * cx + cy * cy).sqrt();
    let (gx, gy) = (
        f64::from(p.gradient_dir.cos()),
        f64::from(p.gradient_dir.sin()),
    );
    let (shx, shy) = (f64::from(p.shadow_dir.cos()), f64::from(p.shadow_dir.sin()));
    // The shadow's edge: a line at `shadow_pos` of the way in from one side, soft over 4%.
    let edge = (f64::from(p.shadow_pos) - 0.5) * 2.0 * diag;
    let soft = 0.04 * diag;
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (f64::from(x) - cx, f64::from(y) - cy);
            let r2 = (dx * dx + dy * dy) / (diag * diag);
            let grad = 1.0 + f64::from(p.gradient) * (dx * gx + dy * gy) / diag;
            let vig = 1.0 - f64::from(p.vignette) * r2;
            let d = (dx * shx + dy * shy - edge) / soft;
            let t = (0.5 - d.clamp(-1.0, 1.0) * 0.5).clamp(0.0, 1.0);
            let shade = 1.0 - f64::from(p.shadow) * t * t * (3.0 - 2.0 * t);
            let i = (y * w + x) as usize;
            px[i] *= (grad * vig * shade) as f32;
        }
    }
}

/// How one flatbed scan is degraded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanParams {
    /// Skew, degrees counter-clockwise, within ±0.5.
    pub angle_deg: f32,
    pub contrast: f32,
    pub brightness: f32,
    /// Blur sigma, pixels at 300 DPI.
    pub blur: f32,
    /// Noise sigma, grey levels.
    pub noise: f32,
}

impl ScanParams {
    pub fn draw(seed: u64) -> ScanParams {
        let mut rng = Rng::new(mix(seed, 0x5CA));
        ScanParams {
            angle_deg: rng.uniform(-0.5, 0.5) as f32,
            contrast: rng.uniform(0.85, 1.0) as f32,
            brightness: rng.uniform(-10.0, 2.0) as f32,
            blur: rng.uniform(0.45, 0.8) as f32,
            noise: rng.uniform(0.4, 1.0) as f32,
        }
    }
}

pub const SCAN_DPI: f32 = 300.0;

/// A flatbed scan of `page` (rendered at `dpi`): 300 DPI grey, slightly skewed and soft.
pub fn scan(page: &GrayImage, dpi: f32, seed: u64) -> Variant {
    let p = ScanParams::draw(seed);
    let mut rng = Rng::new(mix(seed, 0x5CB));
    let (img, scale) = resample(page, dpi, SCAN_DPI);
    let (w, h) = img.dimensions();
    let tone = |v: f32| (v - 128.0) * p.contrast + 128.0 + p.brightness;
    let rot = Transform::rotation(
        f64::from(p.angle_deg),
        f64::from(w) / 2.0,
        f64::from(h) / 2.0,
    );
    let px: Vec<f32> = warp(&img, &rot, w, h, |_, _| 255.0)
        .into_iter()
        .map(tone)
        .collect();
    let mut out = gaussian_blur(&to_gray(w, h, &px), p.blur);
    for v in out.pixels_mut() {
        let n = f32::from(v.0[0]) + p.noise * rng.normal() as f32;
        v.0[0] = n.round().clamp(0.0, 255.0) as u8;
    }
    Variant {
        image: out,
        dpi: SCAN_DPI,
        transform: rot.after(&scale),
        angle_deg: p.angle_deg,
    }
}

/// A 1-bit greyscale PNG (black where the pixel is below 128) with the DPI in pHYs.
pub fn encode_png_1bit(img: &GrayImage, dpi: f32) -> Result<Vec<u8>, String> {
    let (w, h) = img.dimensions();
    let row_bytes = (w as usize).div_ceil(8);
    let mut packed = vec![0u8; row_bytes * h as usize];
    for (y, row) in img.rows().enumerate() {
        for (x, p) in row.enumerate() {
            if p.0[0] >= 128 {
                packed[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    let mut out = Cursor::new(Vec::new());
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::One);
    enc.set_compression(png::Compression::High);
    let ppm = (f64::from(dpi) / 0.0254).round() as u32;
    enc.set_pixel_dims(Some(png::PixelDimensions {
        xppu: ppm,
        yppu: ppm,
        unit: png::Unit::Meter,
    }));
    let mut writer = enc.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&packed)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A white A6-ish page at 100 DPI with dark text-like bars.
    fn page() -> GrayImage {
        GrayImage::from_fn(400, 560, |x, y| {
            let bar = (40..360).contains(&x) && (y % 40) < 8 && (40..520).contains(&y);
            image::Luma([if bar { 20 } else { 255 }])
        })
    }

    #[test]
    fn fax_is_one_bit_at_200_dpi_and_skew_is_bounded() {
        for seed in 0..6 {
            let v = fax(&page(), 100.0, seed);
            assert_eq!(v.dpi, 200.0);
            assert_eq!(v.image.dimensions(), (800, 1120));
            assert!(v.image.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
            assert!(v.angle_deg.abs() <= 1.5, "{}", v.angle_deg);
            // The page is still mostly white, with ink where the bars are.
            let black = v.image.pixels().filter(|p| p.0[0] == 0).count() as f64;
            let share = black / (800.0 * 1120.0);
            assert!(share > 0.05 && share < 0.4, "{share}");
            // The transform maps the page centre near the image centre, and a bar's
            // left end onto ink.
            let (cx, cy) = v.transform.apply(200.0, 280.0);
            assert!((cx - 400.0).abs() < 1.0 && (cy - 560.0).abs() < 1.0);
            let (x, y) = v.transform.apply(60.0, 44.0);
            assert_eq!(v.image.get_pixel(x as u32, y as u32).0[0], 0, "seed {seed}");
            assert_eq!(
                fax_transform(400, 560, 100.0, seed),
                v.transform,
                "fax_transform gives the transform fax applied"
            );
        }
        assert_eq!(fax(&page(), 100.0, 3).image, fax(&page(), 100.0, 3).image);
    }

    #[test]
    fn fax_skew_is_measurable() {
        // A long horizontal bar: its two ends' rows differ by tan(angle) × length.
        let img = GrayImage::from_fn(800, 400, |x, y| {
            image::Luma([if (100..700).contains(&x) && (196..204).contains(&y) {
                0
            } else {
                255
            }])
        });
        for seed in 0..4 {
            let v = fax(&img, 200.0, seed);
            // The centre of the longest black run in the column (specks and streaks are
            // thinner than the bar).
            let row = |x: u32| {
                let (mut best, mut start, mut len) = ((0, 0), 0, 0);
                for y in 150..251 {
                    if y < 250 && v.image.get_pixel(x, y).0[0] == 0 {
                        if len == 0 {
                            start = y;
                        }
                        len += 1;
                    } else {
                        if len > best.1 {
                            best = (start, len);
                        }
                        len = 0;
                    }
                }
                f64::from(best.0) + f64::from(best.1) / 2.0
            };
            let measured = ((row(150) - row(650)) / 500.0).atan().to_degrees();
            assert!(
                (measured - f64::from(v.angle_deg)).abs() < 0.3,
                "seed {seed}: measured {measured}, drawn {}",
                v.angle_deg
            );
        }
    }

    #[test]
    fn photo_has_a_darker_desk_border_and_an_effective_dpi() {
        for seed in 0..4 {
            let v = photo(&page(), 100.0, seed);
            let (w, h) = v.image.dimensions();
            assert!(w > 800 && h > 1120, "{w}×{h}");
            // Every corner of the photo is desk, darker than the paper.
            let mean = |x0: u32, y0: u32| {
                let mut s = 0u32;
                for y in y0..y0 + 10 {
                    for x in x0..x0 + 10 {
                        s += u32::from(v.image.get_pixel(x, y).0[0]);
                    }
                }
                s as f32 / 100.0
            };
            let centre_paper = {
                let (x, y) = v.transform.apply(20.0, 280.0);
                mean(x as u32, y as u32)
            };
            for (x, y) in [(0, 0), (w - 10, 0), (0, h - 10), (w - 10, h - 10)] {
                assert!(
                    mean(x, y) < centre_paper - 30.0,
                    "seed {seed}: corner {x},{y}"
                );
            }
            assert!(v.dpi > 150.0 && v.dpi < 240.0, "{}", v.dpi);
            let jpg = VariantKind::Photo.encode(&v, seed).unwrap();
            assert_eq!(&jpg[..2], &[0xFF, 0xD8]);
        }
    }

    #[test]
    fn scan_is_300_dpi_grey_with_small_skew() {
        let v = scan(&page(), 100.0, 5);
        assert_eq!(v.dpi, 300.0);
        assert_eq!(v.image.dimensions(), (1200, 1680));
        assert!(v.angle_deg.abs() <= 0.5);
        // Ink is dark and paper light after degrading.
        let (x, y) = v.transform.apply(200.0, 43.0);
        assert!(v.image.get_pixel(x as u32, y as u32).0[0] < 110);
        let (x, y) = v.transform.apply(200.0, 25.0);
        assert!(v.image.get_pixel(x as u32, y as u32).0[0] > 200);
    }

    #[test]
    fn transforms_compose_and_invert() {
        let t = Transform::rotation(1.2, 50.0, 70.0).after(&Transform::scale(2.0, 2.0));
        let (x, y) = t.apply(10.0, 20.0);
        let (u, v) = t.inverse().unwrap().apply(x, y);
        assert!((u - 10.0).abs() < 1e-9 && (v - 20.0).abs() < 1e-9);
        let from = [(0.0, 0.0), (10.0, 0.0), (10.0, 20.0), (0.0, 20.0)];
        let to = [(1.0, 2.0), (12.0, 1.0), (13.0, 25.0), (-1.0, 22.0)];
        let h = Transform::from_quads(from, to).unwrap();
        for (a, b) in from.iter().zip(&to) {
            let (x, y) = h.apply(a.0, a.1);
            assert!((x - b.0).abs() < 1e-6 && (y - b.1).abs() < 1e-6);
        }
    }

    #[test]
    fn one_bit_png_round_trips_through_the_image_loader() {
        let v = fax(&page(), 100.0, 1);
        let bytes = encode_png_1bit(&v.image, v.dpi).unwrap();
        let back = image::load_from_memory(&bytes).unwrap().into_luma8();
        assert_eq!(back, v.image);
        assert_eq!("Photo".parse::<VariantKind>().unwrap(), VariantKind::Photo);
        assert!("fox"
            .parse::<VariantKind>()
            .unwrap_err()
            .contains("fax, photo, scan"));
    }
}
