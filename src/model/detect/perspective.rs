//! Photos of a page: find the page's quadrilateral against a darker background and warp it
//! back to a rectangle (a homography). Crude on purpose: the page is the largest bright region
//! of a downscaled copy, each side a line fitted to the middle half of that region's outline,
//! the corners where the sides meet (the extreme points along the diagonals were thrown off by
//! light streaks and tape touching a corner: 2–3° of skew left on 2 of 4 one-page photos).
//! When the page fills the frame (a scan, a rendered PDF) nothing is done.

use crate::dataset::variants::Transform;
use image::{GrayImage, Luma};

/// Width of the copy the page is searched on.
const SEARCH_WIDTH: usize = 400;

/// The four corners of the page (top-left, top-right, bottom-right, bottom-left), in pixels of
/// `img`, or `None` when no page stands out from a background.
pub fn find_page(img: &GrayImage) -> Option<[(f32, f32); 4]> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 64 || h < 64 {
        return None;
    }
    let f = (w / SEARCH_WIDTH).max(1);
    let (sw, sh) = (w / f, h / f);
    // Block means.
    let mut small = vec![0u8; sw * sh];
    for y in 0..sh {
        for x in 0..sw {
            let mut sum = 0u32;
            for yy in y * f..(y + 1) * f {
                for xx in x * f..(x + 1) * f {
                    sum += img.get_pixel(xx as u32, yy as u32).0[0] as u32;
                }
            }
            small[y * sw + x] = (sum / (f * f) as u32) as u8;
        }
    }
    let small_img = GrayImage::from_raw(sw as u32, sh as u32, small).expect("size");
    // Text and rules must not split the page into pieces: close them first.
    let closed = super::background::closing(&small_img, 7);
    let t = super::otsu(&closed);
    let bright: Vec<bool> = closed.as_raw().iter().map(|&v| v > t).collect();
    let (labels, comps) = super::components::label(&bright, sw, sh);
    let (id, page) = comps.iter().enumerate().max_by_key(|(_, c)| c.area)?;
    let page = *page;
    let total = sw * sh;
    // The page must be a large part of the frame, and background must be visible around it.
    if page.area * 10 < total * 3 || page.area * 100 > total * 93 {
        return None;
    }
    let id = id as u32 + 1;
    let inside = |x: usize, y: usize| labels[y * sw + x] == id;
    // The page's four sides, each a line fitted to the region's outermost pixels along the
    // middle half of that side: the corners themselves are where a light streak, tape or a
    // shadow joins the page region, so their extreme points cannot be trusted.
    let (mut left, mut right, mut top, mut bottom) = (vec![], vec![], vec![], vec![]);
    for y in page.y0..page.y1 {
        if let Some(x) = (page.x0..page.x1).find(|&x| inside(x, y)) {
            left.push((y as f32, x as f32));
        }
        if let Some(x) = (page.x0..page.x1).rev().find(|&x| inside(x, y)) {
            right.push((y as f32, x as f32 + 1.0));
        }
    }
    for x in page.x0..page.x1 {
        if let Some(y) = (page.y0..page.y1).find(|&y| inside(x, y)) {
            top.push((x as f32, y as f32));
        }
        if let Some(y) = (page.y0..page.y1).rev().find(|&y| inside(x, y)) {
            bottom.push((x as f32, y as f32 + 1.0));
        }
    }
    // Sides as x = a y + b (left, right) and y = a x + b (top, bottom).
    let (l, r, t, b) = (fit(&left)?, fit(&right)?, fit(&top)?, fit(&bottom)?);
    // Corner of a "x = a y + b" side and a "y = c x + d" side.
    let meet = |(a, b): (f32, f32), (c, d): (f32, f32)| {
        let y = (c * b + d) / (1.0 - a * c);
        (a * y + b, y)
    };
    let corners = [meet(l, t), meet(r, t), meet(r, b), meet(l, b)];
    let scale = f as f32;
    Some(corners.map(|(x, y)| (x * scale, y * scale)))
}

/// A robust line `v = a u + b` through the middle half of `points` (u, v): least squares,
/// then again without the points more than 2 px off the first fit.
fn fit(points: &[(f32, f32)]) -> Option<(f32, f32)> {
    let n = points.len();
    if n < 8 {
        return None;
    }
    let mid = &points[n / 4..n - n / 4];
    let lsq = |pts: &[&(f32, f32)]| -> Option<(f32, f32)> {
        let m = pts.len() as f32;
        if m < 4.0 {
            return None;
        }
        let (su, sv) = pts.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
        let (mu, mv) = (su / m, sv / m);
        let (mut suu, mut suv) = (0.0, 0.0);
        for p in pts {
            suu += (p.0 - mu) * (p.0 - mu);
            suv += (p.0 - mu) * (p.1 - mv);
        }
        let a = if suu > 0.0 { suv / suu } else { 0.0 };
        Some((a, mv - a * mu))
    };
    let all: Vec<&(f32, f32)> = mid.iter().collect();
    let (a, b) = lsq(&all)?;
    let close: Vec<&(f32, f32)> = mid
        .iter()
        .filter(|p| (p.1 - a * p.0 - b).abs() <= 2.0)
        .collect();
    lsq(&close).or(Some((a, b)))
}

/// Warps the quadrilateral `corners` (TL, TR, BR, BL) of `img` to an upright rectangle whose
/// sides are the quadrilateral's longer opposite sides, inset by `inset` of each side to drop
/// the page's edge.
pub fn rectify(img: &GrayImage, corners: [(f32, f32); 4], inset: f32) -> GrayImage {
    let (out_w, out_h) = out_size(corners);
    // Homography from the unit square to the quadrilateral (Heckbert's closed form).
    let hm = square_to_quad(corners);
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let src = img.as_raw();
    let w = img.width() as usize;
    GrayImage::from_fn(out_w, out_h, |x, y| {
        let u = inset + (1.0 - 2.0 * inset) * (x as f32 + 0.5) / out_w as f32;
        let v = inset + (1.0 - 2.0 * inset) * (y as f32 + 0.5) / out_h as f32;
        let den = hm[6] * u + hm[7] * v + 1.0;
        let sx = (hm[0] * u + hm[1] * v + hm[2]) / den - 0.5;
        let sy = (hm[3] * u + hm[4] * v + hm[5]) / den - 0.5;
        if sx < 0.0 || sy < 0.0 || sx >= iw - 1.0 || sy >= ih - 1.0 {
            return Luma([255]);
        }
        let (x0, y0) = (sx as usize, sy as usize);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |xx: usize, yy: usize| src[yy * w + xx] as f32;
        let a = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
        let b = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
        Luma([(a * (1.0 - fy) + b * fy).round() as u8])
    })
}

/// Size of [`rectify`]'s output: the quadrilateral's longer opposite sides.
fn out_size(corners: [(f32, f32); 4]) -> (u32, u32) {
    let d = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let [tl, tr, br, bl] = corners;
    let out_w = d(tl, tr).max(d(bl, br)).round().max(2.0) as u32;
    let out_h = d(tl, bl).max(d(tr, br)).round().max(2.0) as u32;
    (out_w, out_h)
}

/// The map [`rectify`] applies, from the photo's pixel coordinates to the rectified
/// image's (continuous coordinates: pixel `i` covers `[i, i + 1)`); `None` when degenerate.
pub fn rectify_transform(corners: [(f32, f32); 4], inset: f32) -> Option<Transform> {
    let (out_w, out_h) = out_size(corners);
    // Output pixel centre (x + 0.5) ↦ u = inset + (1 − 2 inset)(x + 0.5) / out_w, so the
    // quadrilateral's corners (u, v ∈ {0, 1}) land at ((u − inset) / (1 − 2 inset)) · size.
    let (i, k) = (f64::from(inset), f64::from(1.0 - 2.0 * inset));
    let at = |u: f64, v: f64| {
        (
            (u - i) / k * f64::from(out_w),
            (v - i) / k * f64::from(out_h),
        )
    };
    Transform::from_quads(
        corners.map(|(x, y)| (f64::from(x), f64::from(y))),
        [at(0.0, 0.0), at(1.0, 0.0), at(1.0, 1.0), at(0.0, 1.0)],
    )
}

/// The projective map (a, b, c, d, e, f, g, h) taking (u, v) in the unit square to
/// ((a u + b v + c) / (g u + h v + 1), (d u + e v + f) / (g u + h v + 1)), with (0,0), (1,0),
/// (1,1), (0,1) going to the four corners in order.
fn square_to_quad(q: [(f32, f32); 4]) -> [f32; 8] {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = q;
    let (sx, sy) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
    if sx.abs() < 1e-6 && sy.abs() < 1e-6 {
        // Affine.
        return [x1 - x0, x2 - x1, x0, y1 - y0, y2 - y1, y0, 0.0, 0.0];
    }
    let (dx1, dx2, dy1, dy2) = (x1 - x2, x3 - x2, y1 - y2, y3 - y2);
    let den = dx1 * dy2 - dx2 * dy1;
    let g = (sx * dy2 - dx2 * sy) / den;
    let h = (dx1 * sy - sx * dy1) / den;
    [
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        x0,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
        y0,
        g,
        h,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_maps_to_its_corners() {
        let q = [(10.0, 20.0), (110.0, 15.0), (120.0, 140.0), (5.0, 130.0)];
        let m = square_to_quad(q);
        let map = |u: f32, v: f32| {
            let den = m[6] * u + m[7] * v + 1.0;
            (
                (m[0] * u + m[1] * v + m[2]) / den,
                (m[3] * u + m[4] * v + m[5]) / den,
            )
        };
        for ((u, v), c) in [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
            .into_iter()
            .zip(q)
        {
            let p = map(u, v);
            assert!(
                (p.0 - c.0).abs() < 1e-3 && (p.1 - c.1).abs() < 1e-3,
                "{p:?} vs {c:?}"
            );
        }
    }

    /// A bright tilted page on a dark desk is found and rectified; a plain page is left alone.
    #[test]
    fn finds_a_page_on_a_dark_background() {
        let (w, h) = (800u32, 1000u32);
        let q = [(120.0, 90.0), (690.0, 140.0), (650.0, 930.0), (80.0, 880.0)];
        let inside = |x: f32, y: f32| {
            (0..4).all(|i| {
                let (a, b) = (q[i], q[(i + 1) % 4]);
                (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0) >= 0.0
            })
        };
        let img = GrayImage::from_fn(w, h, |x, y| {
            Luma([if inside(x as f32, y as f32) { 235 } else { 70 }])
        });
        let found = find_page(&img).expect("page found");
        for (f, c) in found.iter().zip(q) {
            assert!(
                (f.0 - c.0).abs() < 8.0 && (f.1 - c.1).abs() < 8.0,
                "{found:?}"
            );
        }
        let flat = rectify(&img, found, 0.01);
        // The map sends the page's corners to the rectified image's corners (less the inset).
        let map = rectify_transform(found, 0.01).expect("regular quad");
        let (fw, fh) = (flat.width() as f64, flat.height() as f64);
        let expect = [
            (-0.0102, -0.0102),
            (1.0102, -0.0102),
            (1.0102, 1.0102),
            (-0.0102, 1.0102),
        ];
        for (c, e) in found.iter().zip(expect) {
            let (x, y) = map.apply(c.0 as f64, c.1 as f64);
            assert!(
                (x - e.0 * fw).abs() < 1.0 && (y - e.1 * fh).abs() < 1.0,
                "{c:?} -> ({x}, {y}), expected ({}, {})",
                e.0 * fw,
                e.1 * fh
            );
        }
        let dark = flat.pixels().filter(|p| p.0[0] < 128).count();
        assert!(dark * 100 < flat.len(), "background left: {dark} px");
        assert!(find_page(&GrayImage::from_pixel(800, 1000, Luma([240]))).is_none());
    }
}
