//! Connected components of the ink mask, and speck removal by component size.
//!
//! A speck is a small component with little ink around it: fax noise, toner dust. Small
//! components near a character (a decimal point, a hyphen, the dot of `i`) or among many
//! other small ones (the broken spokes of a row of `*******` at 150 DPI) are kept, so the test
//! is size plus neighbourhood, not size alone.

/// One 8-connected component: its pixel count and bounding box (exclusive ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    pub area: usize,
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
}

/// Labels the 8-connected components of `mask` (`w × h`, row-major). Returns the label of
/// every pixel (0 = background, component `i` has label `i + 1`) and the components.
pub fn label(mask: &[bool], w: usize, h: usize) -> (Vec<u32>, Vec<Component>) {
    let mut labels = vec![0u32; w * h];
    let mut parent: Vec<u32> = vec![0];
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    // First pass: provisional labels from the already-visited neighbours (W, NW, N, NE).
    for y in 0..h {
        for x in 0..w {
            if !mask[y * w + x] {
                continue;
            }
            let mut best = 0u32;
            let mut neighbours = [0u32; 4];
            if x > 0 {
                neighbours[0] = labels[y * w + x - 1];
            }
            if y > 0 {
                let up = (y - 1) * w;
                if x > 0 {
                    neighbours[1] = labels[up + x - 1];
                }
                neighbours[2] = labels[up + x];
                if x + 1 < w {
                    neighbours[3] = labels[up + x + 1];
                }
            }
            for &n in &neighbours {
                if n != 0 {
                    let r = find(&mut parent, n);
                    if best == 0 {
                        best = r;
                    } else if r != best {
                        let (a, b) = (best.min(r), best.max(r));
                        parent[b as usize] = a;
                        best = a;
                    }
                }
            }
            if best == 0 {
                best = parent.len() as u32;
                parent.push(best);
            }
            labels[y * w + x] = best;
        }
    }
    // Second pass: final labels 1..=n and the components' statistics.
    let mut compact = vec![0u32; parent.len()];
    let mut comps: Vec<Component> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let l = labels[y * w + x];
            if l == 0 {
                continue;
            }
            let r = find(&mut parent, l) as usize;
            if compact[r] == 0 {
                comps.push(Component {
                    area: 0,
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                });
                compact[r] = comps.len() as u32;
            }
            let id = compact[r];
            labels[y * w + x] = id;
            let c = &mut comps[id as usize - 1];
            c.area += 1;
            c.x0 = c.x0.min(x);
            c.x1 = c.x1.max(x + 1);
            c.y0 = c.y0.min(y);
            c.y1 = c.y1.max(y + 1);
        }
    }
    (labels, comps)
}

/// Marks the specks of `mask`: components of fewer than `small_area` pixels with no larger
/// component, and less than three small components' worth of ink, within `radius` pixels of
/// their bounding box. Returns the pixels to erase.
pub fn specks(mask: &[bool], w: usize, h: usize, small_area: usize, radius: usize) -> Vec<bool> {
    let (labels, comps) = label(mask, w, h);
    // Integral images of all ink and of the ink of large components.
    let stride = w + 1;
    let mut all = vec![0u32; stride * (h + 1)];
    let mut large = vec![0u32; stride * (h + 1)];
    for y in 0..h {
        let (mut row_all, mut row_large) = (0u32, 0u32);
        for x in 0..w {
            let l = labels[y * w + x];
            row_all += u32::from(l != 0);
            row_large += u32::from(l != 0 && comps[l as usize - 1].area >= small_area);
            all[(y + 1) * stride + x + 1] = all[y * stride + x + 1] + row_all;
            large[(y + 1) * stride + x + 1] = large[y * stride + x + 1] + row_large;
        }
    }
    let sum = |t: &[u32], c: &Component| {
        let (x0, y0) = (c.x0.saturating_sub(radius), c.y0.saturating_sub(radius));
        let (x1, y1) = ((c.x1 + radius).min(w), (c.y1 + radius).min(h));
        let i = |x: usize, y: usize| t[y * stride + x] as usize;
        i(x1, y1) + i(x0, y0) - i(x0, y1) - i(x1, y0)
    };
    let speck: Vec<bool> = comps
        .iter()
        .map(|c| c.area < small_area && sum(&large, c) == 0 && sum(&all, c) < 3 * small_area)
        .collect();
    labels
        .iter()
        .map(|&l| l != 0 && speck[l as usize - 1])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> (Vec<bool>, usize, usize) {
        let w = rows[0].len();
        let m = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| b == b'#'))
            .collect();
        (m, w, rows.len())
    }

    #[test]
    fn labels_eight_connected_components() {
        let (m, w, h) = mask(&[
            "##....#", //
            ".#...#.", //
            "..#....", //
            ".....##", //
            "#.....#",
        ]);
        let (labels, comps) = label(&m, w, h);
        assert_eq!(comps.len(), 4, "{comps:?}");
        let areas: Vec<usize> = comps.iter().map(|c| c.area).collect();
        assert_eq!(areas, vec![4, 2, 3, 1]);
        assert_eq!(labels[0], labels[2 * w + 2], "diagonal pixels join");
    }

    #[test]
    fn small_pieces_together_stay() {
        // A row of asterisks broken into small fragments at low resolution.
        let (m, w, h) = mask(&[
            "......................",
            ".#.#..#.#..#.#..#.#...",
            "..#....#....#....#....",
            ".#.#..#.#..#.#..#.#...",
            "......................",
        ]);
        let erase = specks(&m, w, h, 4, 3);
        assert!(erase.iter().all(|&e| !e));
    }

    #[test]
    fn a_dot_beside_a_character_stays_and_a_lone_speck_goes() {
        let (m, w, h) = mask(&[
            "..............................",
            ".####.........................",
            ".#..#.#.......................",
            ".####...................#.....",
            "..............................",
        ]);
        let erase = specks(&m, w, h, 4, 3);
        assert!(!erase[2 * w + 6], "the dot next to the glyph is kept");
        assert!(erase[3 * w + 24], "the lone speck is erased");
        assert!(!erase[w + 1]);
    }
}
