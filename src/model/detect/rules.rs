//! Table-rule removal: horizontal and vertical ink runs longer than any glyph.
//!
//! A run may have small breaks: a thin grey rule thresholded to one bit (a fax, a light
//! Chromium border at 150 DPI) comes out dashed, and a rule still tilted by a few hundredths
//! of a degree after deskewing steps by one row now and then. Breaks up to `bridge` pixels are
//! spanned when measuring a run, as a morphological closing along the rule would, but only the
//! ink of the run is erased. A bridged run must be mostly ink and much longer than an unbroken
//! one: a row through text whose glyphs have middle bars (`-*******`, `-5989-`) is dense ink
//! with one-pixel breaks for half an inch at 150 DPI, never for an inch and a half.

/// Least share of ink in a bridged run for it to be a rule.
const MIN_DENSITY: f32 = 0.75;
/// A bridged run must be this many times longer than an unbroken one.
const BRIDGED_LENGTH: f32 = 3.0;

/// Marks the pixels of rules: unbroken horizontal runs of at least `min_h` pixels and vertical
/// runs of at least `min_v`, and runs [`BRIDGED_LENGTH`] times as long with breaks of at most
/// `bridge` pixels.
pub fn find_rules(
    mask: &[bool],
    w: usize,
    h: usize,
    min_h: usize,
    min_v: usize,
    bridge: usize,
) -> Vec<bool> {
    let mut erase = vec![false; w * h];
    let mut line = Vec::new();
    for y in 0..h {
        line.clear();
        line.extend((0..w).map(|x| mask[y * w + x]));
        for (s, e) in rule_runs(&line, min_h, bridge) {
            for x in s..e {
                erase[y * w + x] |= mask[y * w + x];
            }
        }
    }
    for x in 0..w {
        line.clear();
        line.extend((0..h).map(|y| mask[y * w + x]));
        for (s, e) in rule_runs(&line, min_v, bridge) {
            for y in s..e {
                erase[y * w + x] |= mask[y * w + x];
            }
        }
    }
    erase
}

/// Unbroken runs of at least `min_len`, and bridged runs of [`BRIDGED_LENGTH`] × `min_len`.
fn rule_runs(line: &[bool], min_len: usize, bridge: usize) -> Vec<(usize, usize)> {
    let mut out = runs(line, min_len, 0);
    let long = (min_len as f32 * BRIDGED_LENGTH) as usize;
    out.extend(runs(line, long, bridge));
    out
}

/// The bridged runs of `line` at least `min_len` long and at least [`MIN_DENSITY`] ink.
fn runs(line: &[bool], min_len: usize, bridge: usize) -> Vec<(usize, usize)> {
    let n = line.len();
    let mut out = Vec::new();
    let mut x = 0;
    while x < n {
        if !line[x] {
            x += 1;
            continue;
        }
        let start = x;
        let mut end = x; // exclusive end of the last ink seen
        let mut ink = 0usize;
        while x < n {
            if line[x] {
                ink += 1;
                x += 1;
                end = x;
            } else if x - end < bridge {
                x += 1;
            } else {
                break;
            }
        }
        let len = end - start;
        if len >= min_len && ink as f32 >= MIN_DENSITY * len as f32 {
            out.push((start, end));
        }
        x = end.max(start + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Vec<bool> {
        s.bytes().map(|b| b == b'#').collect()
    }

    #[test]
    fn a_dashed_rule_is_one_run_and_text_is_none() {
        // 30 px with two 1-px breaks: one rule.
        let l = line("..##############.#######.#######....");
        assert_eq!(runs(&l, 20, 2), vec![(2, 32)]);
        // Strokes with wide gaps (a text row): not a rule.
        let t = line("..###...###...###...###...###...###..");
        assert!(runs(&t, 20, 2).is_empty());
        // Too short.
        assert!(runs(&line("..##########.."), 20, 2).is_empty());
    }

    #[test]
    fn rules_in_both_directions_are_found_and_only_their_ink() {
        let (w, h) = (40, 30);
        let mut m = vec![false; w * h];
        for x in 2..38 {
            if x != 20 {
                m[5 * w + x] = true; // a horizontal rule with one break
            }
        }
        for y in 6..28 {
            m[y * w + 3] = true; // a vertical rule
        }
        m[15 * w + 10] = true; // a dot of text
        let e = find_rules(&m, w, h, 10, 15, 2);
        assert!(e[5 * w + 2] && e[5 * w + 37] && !e[5 * w + 20]);
        assert!(e[10 * w + 3]);
        assert!(!e[15 * w + 10]);
    }
}
