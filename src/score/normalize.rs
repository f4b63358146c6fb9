//! Normalisation N1 (DESIGN.md, "Text metrics"), applied to both reference and hypothesis
//! before any text or field metric:
//!
//! 1. optional width folding: full-width ASCII U+FF01..U+FF5E → U+0021..U+007E
//!    (off by default; never blanket NFKC, which would also rewrite ①, ㄱ, ㎖);
//! 2. Unicode NFC (so NFD Hangul from a PDF layer equals precomposed syllables);
//! 3. every run of whitespace (Unicode `White_Space`: space, tab, newline, NBSP U+00A0,
//!    ideographic space U+3000, …) becomes one U+0020;
//! 4. leading and trailing spaces are removed.
//!
//! Folding runs before NFC so a folded letter followed by a combining mark still composes.

use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

/// Options of N1. The default is plain N1 (no width folding).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormOptions {
    /// Fold full-width ASCII (U+FF01..U+FF5E, e.g. `１２３`, `ｍｇ`) to ASCII.
    #[serde(default)]
    pub fold_fullwidth: bool,
}

/// N1-normalises `text`.
pub fn normalize(text: &str, opts: &NormOptions) -> String {
    let fold = opts.fold_fullwidth;
    let chars = text
        .chars()
        .map(move |c| if fold { fold_fullwidth(c) } else { c });
    // Most OCR output is already NFC (precomposed Hangul, ASCII): characters below the
    // combining marks (U+0300) and Hangul syllables are NFC-stable starters, and the
    // quick check covers the rest without the normaliser's buffering.
    let stable = |c: char| c < '\u{300}' || ('\u{AC00}'..='\u{D7A3}').contains(&c);
    if chars.clone().all(stable) || is_nfc_quick(chars.clone()) == IsNormalized::Yes {
        collapse_spaces(chars, text.len())
    } else {
        collapse_spaces(chars.nfc(), text.len())
    }
}

/// Steps 3 and 4 of N1.
fn collapse_spaces(chars: impl Iterator<Item = char>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    let mut pending_space = false;
    for c in chars {
        if is_space(c) {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

/// Whitespace as N1 sees it: the Unicode `White_Space` property.
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Maps a full-width ASCII character (U+FF01..U+FF5E) to its ASCII twin; others unchanged.
pub fn fold_fullwidth(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n1(s: &str) -> String {
        normalize(s, &NormOptions::default())
    }

    #[test]
    fn collapses_every_whitespace_kind_and_trims() {
        assert_eq!(n1("  처 방\n\n전\t\u{00A0}x\u{3000}y \r\n"), "처 방 전 x y");
        assert_eq!(n1(""), "");
        assert_eq!(n1(" \n\t "), "");
    }

    #[test]
    fn nfd_hangul_becomes_nfc() {
        let nfd = "\u{1100}\u{1161}\u{11A8}"; // ᄀ ᅡ ᆨ
        assert_eq!(n1(nfd), "각");
        assert_eq!(n1(&"한국어".nfd().collect::<String>()), "한국어");
    }

    #[test]
    fn width_folding_is_opt_in_and_keeps_compatibility_symbols() {
        let s = "５００ｍｇ ① ㄱ ㎖";
        assert_eq!(n1(s), s);
        let folded = normalize(
            s,
            &NormOptions {
                fold_fullwidth: true,
            },
        );
        assert_eq!(folded, "500mg ① ㄱ ㎖");
    }
}
