//! Text metrics (DESIGN.md, "Text metrics"): CER over extended grapheme clusters, CER
//! without spaces, jamo-level CER and WER, each as S/D/I/hits/N so results re-aggregate.
//!
//! All rates are `(S + D + I) / N` with N the number of reference units after N1.
//! An empty reference has no rate (`None`, flagged) unless the hypothesis is empty too,
//! which is a perfect 0.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use super::distance::{align, Alignment, EditCounts, Symbol};
use super::normalize::{normalize, NormOptions};
use rustc_hash::FxHashMap as FastMap;

/// Edit counts and rate of one hypothesis against one reference (or a corpus sum).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TextScore {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub hits: usize,
    /// N: reference units (graphemes, jamo or words).
    pub ref_len: usize,
    pub hyp_len: usize,
    /// `(S + D + I) / N`; `None` when N = 0 and the hypothesis is not empty.
    pub rate: Option<f64>,
    /// The reference had no units (the rate is `None`, or 0 for empty vs empty).
    pub empty_reference: bool,
}

impl TextScore {
    /// A score from alignment counts; the rate follows the empty-reference rule.
    pub fn from_counts(counts: EditCounts, ref_len: usize, hyp_len: usize) -> Self {
        let edits = counts.edits();
        let rate = match (ref_len, hyp_len) {
            (0, 0) => Some(0.0),
            (0, _) => None,
            (n, _) => Some(edits as f64 / n as f64),
        };
        TextScore {
            substitutions: counts.substitutions,
            deletions: counts.deletions,
            insertions: counts.insertions,
            hits: counts.hits,
            ref_len,
            hyp_len,
            rate,
            empty_reference: ref_len == 0,
        }
    }

    /// S + D + I.
    pub fn edits(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// The counts without the lengths.
    pub fn counts(&self) -> EditCounts {
        EditCounts {
            hits: self.hits,
            substitutions: self.substitutions,
            deletions: self.deletions,
            insertions: self.insertions,
        }
    }
}

/// Corpus micro average: `Σ(S + D + I) / Σ N` over the scores, with summed counts.
/// Documents with an empty reference add their insertions to the numerator and nothing to
/// N; the result is flagged `empty_reference` only when the whole corpus has N = 0.
pub fn micro_average(scores: &[TextScore]) -> TextScore {
    let mut c = EditCounts::default();
    let (mut n, mut h) = (0, 0);
    for s in scores {
        c.hits += s.hits;
        c.substitutions += s.substitutions;
        c.deletions += s.deletions;
        c.insertions += s.insertions;
        n += s.ref_len;
        h += s.hyp_len;
    }
    TextScore::from_counts(c, n, h)
}

/// CER over extended grapheme clusters after N1, spaces counted.
pub fn cer(reference: &str, hypothesis: &str, opts: &NormOptions) -> TextScore {
    let (r, h) = (normalize(reference, opts), normalize(hypothesis, opts));
    let mut interner = Interner::default();
    let a = grapheme_symbols(&graphemes(&r), &mut interner);
    let b = grapheme_symbols(&graphemes(&h), &mut interner);
    score_symbols(&a, &b).0
}

/// CER over grapheme clusters after N1 with the spaces removed (Korean spacing is noisy).
pub fn cer_no_space(reference: &str, hypothesis: &str, opts: &NormOptions) -> TextScore {
    let (r, h) = (normalize(reference, opts), normalize(hypothesis, opts));
    let mut interner = Interner::default();
    let a = without_spaces(&grapheme_symbols(&graphemes(&r), &mut interner));
    let b = without_spaces(&grapheme_symbols(&graphemes(&h), &mut interner));
    score_symbols(&a, &b).0
}

/// CER over jamo after N1: each precomposed Hangul syllable becomes its 2 or 3 jamo,
/// other grapheme clusters (spaces included) stay one unit each.
pub fn cer_jamo(reference: &str, hypothesis: &str, opts: &NormOptions) -> TextScore {
    let (r, h) = (normalize(reference, opts), normalize(hypothesis, opts));
    let mut interner = Interner::default();
    let a = jamo_symbols(&grapheme_symbols(&graphemes(&r), &mut interner));
    let b = jamo_symbols(&grapheme_symbols(&graphemes(&h), &mut interner));
    score_symbols(&a, &b).0
}

/// WER over space-separated words (eojeol) after N1.
pub fn wer(reference: &str, hypothesis: &str, opts: &NormOptions) -> TextScore {
    let (r, h) = (normalize(reference, opts), normalize(hypothesis, opts));
    let mut interner = Interner::default();
    let a = word_symbols(&r, &mut interner);
    let b = word_symbols(&h, &mut interner);
    score_symbols(&a, &b).0
}

/// Splits a Hangul syllable (U+AC00..U+D7A3) into its leading consonant, vowel and
/// optional trailing consonant (conjoining jamo, U+1100 block), arithmetically:
/// `s = c − 0xAC00; L = 0x1100 + s / 588; V = 0x1161 + (s % 588) / 28;
/// T = 0x11A7 + s % 28` (absent when `s % 28 == 0`).
pub fn decompose_hangul(c: char) -> Option<(char, char, Option<char>)> {
    let s = (c as u32).checked_sub(0xAC00).filter(|&s| s < 11172)?;
    let l = char::from_u32(0x1100 + s / 588)?;
    let v = char::from_u32(0x1161 + (s % 588) / 28)?;
    let t = match s % 28 {
        0 => None,
        t => char::from_u32(0x11A7 + t),
    };
    Some((l, v, t))
}

/// Edit counts and the alignment of two symbol sequences.
pub(crate) fn score_symbols(a: &[Symbol], b: &[Symbol]) -> (TextScore, Alignment) {
    let al = align(a, b);
    (TextScore::from_counts(al.counts(), a.len(), b.len()), al)
}

/// Extended grapheme clusters of an (N1) text.
pub(crate) fn graphemes(text: &str) -> Vec<&str> {
    if text.chars().all(is_lone_cluster_char) {
        // Every boundary rule (UAX #29) breaks between two such characters.
        text.char_indices()
            .map(|(i, c)| &text[i..i + c.len_utf8()])
            .collect()
    } else {
        text.graphemes(true).collect()
    }
}

/// Characters whose Grapheme_Cluster_Break is Other and that are neither Extended
/// Pictographic nor Regional Indicators, so no rule joins them with a neighbour of the
/// same set: printable ASCII, Hangul syllables (LV/LVT only join following V/T jamo),
/// Hangul compatibility jamo, the middle dot and CJK unified ideographs.
fn is_lone_cluster_char(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{AC00}'..='\u{D7A3}' | '\u{3131}'..='\u{318E}' | '\u{B7}' | '\u{4E00}'..='\u{9FFF}')
}

/// Interns strings to dense ids shared by reference and hypothesis.
#[derive(Default)]
pub(crate) struct Interner<'a> {
    ids: FastMap<&'a str, Symbol>,
}

impl<'a> Interner<'a> {
    fn intern(&mut self, s: &'a str) -> Symbol {
        let next = self.ids.len() as Symbol;
        *self.ids.entry(s).or_insert(next)
    }
}

/// First id for multi-character grapheme clusters: above every scalar value, so a
/// one-character cluster can use its own code point (no hashing in the common case).
const CLUSTER_BASE: Symbol = 0x11_0000;

const SPACE: Symbol = ' ' as Symbol;

/// One symbol per grapheme cluster.
pub(crate) fn grapheme_symbols<'a>(
    graphemes: &[&'a str],
    interner: &mut Interner<'a>,
) -> Vec<Symbol> {
    graphemes
        .iter()
        .map(|g| {
            let mut cs = g.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) => c as Symbol,
                _ => CLUSTER_BASE + interner.intern(g),
            }
        })
        .collect()
}

/// The grapheme symbols without spaces (N1 leaves only U+0020 as whitespace).
pub(crate) fn without_spaces(symbols: &[Symbol]) -> Vec<Symbol> {
    symbols.iter().copied().filter(|&s| s != SPACE).collect()
}

/// Grapheme symbols with every precomposed syllable replaced by its jamo.
pub(crate) fn jamo_symbols(symbols: &[Symbol]) -> Vec<Symbol> {
    let mut out = Vec::with_capacity(symbols.len() * 5 / 2);
    for &s in symbols {
        match char::from_u32(s).and_then(decompose_hangul) {
            Some((l, v, t)) => {
                out.push(l as Symbol);
                out.push(v as Symbol);
                if let Some(t) = t {
                    out.push(t as Symbol);
                }
            }
            None => out.push(s),
        }
    }
    out
}

/// One symbol per space-separated word of an N1 text.
pub(crate) fn word_symbols<'a>(text: &'a str, interner: &mut Interner<'a>) -> Vec<Symbol> {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| interner.intern(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    const N1: NormOptions = NormOptions {
        fold_fullwidth: false,
    };
    const FOLD: NormOptions = NormOptions {
        fold_fullwidth: true,
    };

    fn counts(s: &TextScore) -> (usize, usize, usize, usize, usize) {
        (
            s.substitutions,
            s.deletions,
            s.insertions,
            s.hits,
            s.ref_len,
        )
    }

    #[test]
    fn nfd_and_nfc_hangul_are_equal() {
        let nfd: String = "처방전 타이레놀".nfd().collect();
        assert_ne!(nfd, "처방전 타이레놀");
        for f in [cer, cer_no_space, cer_jamo, wer] {
            let s = f("처방전 타이레놀", &nfd, &N1);
            assert_eq!(s.rate, Some(0.0));
        }
        assert_eq!(cer("처방전 타이레놀", &nfd, &N1).ref_len, 8);
    }

    #[test]
    fn full_width_digits_count_unless_folded() {
        let s = cer("500mg", "５００mg", &N1);
        assert_eq!(counts(&s), (3, 0, 0, 2, 5));
        assert_eq!(s.rate, Some(0.6));
        assert_eq!(cer("500mg", "５００mg", &FOLD).rate, Some(0.0));
        assert_eq!(wer("500mg 1정", "５００mg 1정", &N1).rate, Some(0.5));
    }

    #[test]
    fn newlines_tabs_and_space_runs_equal_one_space() {
        let s = cer("처방전\n\n환자:\t홍길동", "처방전 환자: 홍길동", &N1);
        assert_eq!(s.rate, Some(0.0));
        assert_eq!(s.ref_len, 11);
        assert_eq!(wer("a\nb", "a b", &N1).ref_len, 2);
    }

    #[test]
    fn empty_reference_has_no_rate_and_empty_vs_empty_is_zero() {
        let s = cer("", "abc", &N1);
        assert_eq!(s.rate, None);
        assert!(s.empty_reference);
        assert_eq!(s.insertions, 3);
        let s = cer(" \n", "", &N1);
        assert_eq!(s.rate, Some(0.0));
        assert!(s.empty_reference);
        assert_eq!(wer("", "", &N1).rate, Some(0.0));
        // Empty hypothesis: all deletions.
        assert_eq!(counts(&cer("가나", "", &N1)), (0, 2, 0, 0, 2));
    }

    #[test]
    fn insertions_only() {
        let s = cer("abc", "xabcy", &N1);
        assert_eq!(counts(&s), (0, 0, 2, 3, 3));
        assert_eq!(s.rate, Some(2.0 / 3.0));
    }

    #[test]
    fn korean_prescription_line_by_hand() {
        let (r, h) = ("타이레놀정 500밀리그램", "타이레늘정 5O0밀리그램");
        // 13 graphemes, 놀→늘 and 0→O.
        let s = cer(r, h, &N1);
        assert_eq!(counts(&s), (2, 0, 0, 11, 13));
        assert_eq!(s.rate, Some(2.0 / 13.0));
        assert_eq!(cer_no_space(r, h, &N1).rate, Some(2.0 / 12.0));
        // Jamo: 2+2+2+3+3 + 1 + 3 + 3+2+2+3 = 26 units; ㅗ→ㅡ and 0→O.
        let s = cer_jamo(r, h, &N1);
        assert_eq!(counts(&s), (2, 0, 0, 24, 26));
        let s = wer(r, h, &N1);
        assert_eq!(counts(&s), (2, 0, 0, 0, 2));
        // A split word: one substitution and one insertion over 3 words.
        let s = wer("1일 3회 7일분", "1일 3회 7 일분", &N1);
        assert_eq!(counts(&s), (1, 0, 1, 2, 3));
    }

    #[test]
    fn spaces_count_in_cer_but_not_in_cer_no_space() {
        let s = cer("혈압 측정", "혈압측정", &N1);
        assert_eq!(counts(&s), (0, 1, 0, 4, 5));
        assert_eq!(cer_no_space("혈압 측정", "혈압측정", &N1).rate, Some(0.0));
    }

    #[test]
    fn multi_codepoint_clusters_are_one_unit() {
        // A flag (two regional indicators) is one cluster of two scalars.
        let s = cer("a🇰🇷b", "a🇯🇵b", &N1);
        assert_eq!(counts(&s), (1, 0, 0, 2, 3));
    }

    #[test]
    fn grapheme_fast_path_agrees_with_uax29() {
        let samples = [
            "처방전 타이레놀정500밀리그램 1 3 7 식후 30분 · ㄱㄴ 藥",
            "가\u{1161}\u{11A8}", // syllable + conjoining jamo: slow path joins them
            "a\u{0301}b ①㎖ 🇰🇷",
            "",
        ];
        for s in samples {
            let ours = graphemes(s);
            let uax: Vec<&str> = s.graphemes(true).collect();
            assert_eq!(ours, uax, "{s:?}");
        }
    }

    #[test]
    fn hangul_decomposition() {
        assert_eq!(decompose_hangul('가'), Some(('\u{1100}', '\u{1161}', None)));
        assert_eq!(
            decompose_hangul('힣'),
            Some(('\u{1112}', '\u{1175}', Some('\u{11C2}')))
        );
        assert_eq!(decompose_hangul('a'), None);
        assert_eq!(decompose_hangul('\u{D7A4}'), None);
    }

    #[test]
    fn micro_average_sums_edits_over_units() {
        let a = cer("abcd", "abxd", &N1); // 1/4
        let b = cer("ab", "", &N1); // 2/2
        let e = cer("", "zz", &N1); // None, 2 insertions
        let m = micro_average(&[a, b, e]);
        assert_eq!(m.edits(), 5);
        assert_eq!(m.ref_len, 6);
        assert_eq!(m.rate, Some(5.0 / 6.0));
        assert!(!m.empty_reference);
        assert_eq!(micro_average(&[]).rate, Some(0.0));
    }
}
