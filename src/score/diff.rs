//! Aligned error examples for reports: the grapheme alignment of N1 texts grouped into
//! runs of equal text, substitutions, deletions and insertions.

use serde::{Deserialize, Serialize};

use super::distance::{align, Alignment, OpKind};
use super::normalize::{normalize, NormOptions};
use super::text::{grapheme_symbols, graphemes, Interner};

/// The kind of an aligned run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffKind {
    Equal,
    Sub,
    Del,
    Ins,
}

/// One run of the alignment: `reference` is empty for insertions, `hypothesis` for
/// deletions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSegment {
    pub kind: DiffKind,
    pub reference: String,
    pub hypothesis: String,
}

/// Aligned runs of the N1 texts (default options), over grapheme clusters.
pub fn aligned_diff(reference: &str, hypothesis: &str) -> Vec<DiffSegment> {
    aligned_diff_with(reference, hypothesis, &NormOptions::default())
}

/// [`aligned_diff`] with explicit normalisation options.
pub fn aligned_diff_with(
    reference: &str,
    hypothesis: &str,
    opts: &NormOptions,
) -> Vec<DiffSegment> {
    let (r, h) = (normalize(reference, opts), normalize(hypothesis, opts));
    let (rg, hg) = (graphemes(&r), graphemes(&h));
    let mut interner = Interner::default();
    let a = grapheme_symbols(&rg, &mut interner);
    let b = grapheme_symbols(&hg, &mut interner);
    segments(&align(&a, &b), &rg, &hg)
}

/// Groups consecutive ops of the same kind into segments.
pub(crate) fn segments(alignment: &Alignment, ref_g: &[&str], hyp_g: &[&str]) -> Vec<DiffSegment> {
    let mut out: Vec<DiffSegment> = Vec::new();
    for op in &alignment.ops {
        let kind = match op.kind {
            OpKind::Match => DiffKind::Equal,
            OpKind::Sub => DiffKind::Sub,
            OpKind::Del => DiffKind::Del,
            OpKind::Ins => DiffKind::Ins,
        };
        if out.last().is_none_or(|s| s.kind != kind) {
            out.push(DiffSegment {
                kind,
                reference: String::new(),
                hypothesis: String::new(),
            });
        }
        let seg = out.last_mut().expect("pushed above");
        if kind != DiffKind::Ins {
            seg.reference.push_str(ref_g[op.ref_pos]);
        }
        if kind != DiffKind::Del {
            seg.hypothesis.push_str(hyp_g[op.hyp_pos]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_rebuild_both_texts() {
        let segs = aligned_diff("타이레놀정 500밀리그램", "타이레늘정  5000밀리그램x");
        let r: String = segs.iter().map(|s| s.reference.as_str()).collect();
        let h: String = segs.iter().map(|s| s.hypothesis.as_str()).collect();
        assert_eq!(r, "타이레놀정 500밀리그램");
        assert_eq!(h, "타이레늘정 5000밀리그램x");
        assert_eq!(segs[0].kind, DiffKind::Equal);
        assert_eq!(
            segs[1],
            DiffSegment {
                kind: DiffKind::Sub,
                reference: "놀".into(),
                hypothesis: "늘".into()
            }
        );
        assert!(segs
            .iter()
            .any(|s| s.kind == DiffKind::Ins && s.hypothesis == "x"));
        let json = serde_json::to_string(&segs[1]).unwrap();
        assert_eq!(json, r#"{"kind":"sub","reference":"놀","hypothesis":"늘"}"#);
    }

    #[test]
    fn empty_inputs() {
        assert!(aligned_diff("", "").is_empty());
        assert_eq!(aligned_diff("", "ab")[0].kind, DiffKind::Ins);
        assert_eq!(aligned_diff("ab", "")[0].kind, DiffKind::Del);
    }
}
