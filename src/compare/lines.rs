//! The documents that regressed most, with their worst lines side by side.
//!
//! A document's N1 reference is split into its lines (each line normalised on its own;
//! N1 of the whole text is those lines joined by one space). The grapheme alignment of
//! the reference onto a hypothesis attributes every op to a line: matches, substitutions
//! and deletions to the line of their reference cluster, insertions to the line of the
//! last reference cluster consumed before them. A line's hypothesis text is the clusters
//! its ops produced, and its edits the ops that are not matches.

use super::load::PredictionRecord;
use super::metrics::PairScore;
use super::CompareOptions;
use crate::dataset::{DocType, Document};
use crate::report::redact::Redactor;
use crate::score::distance::{align, OpKind};
use crate::score::text::{grapheme_symbols, graphemes, Interner};
use crate::score::{normalize, NormOptions};
use serde::{Deserialize, Serialize};

/// Lines shown per regressed document.
const WORST_LINES: usize = 3;
/// Longest quoted line, in characters.
const MAX_LINE_CHARS: usize = 200;

/// One reference line and what each run read there (redacted unless `--show-phi`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    pub reference: String,
    pub baseline: String,
    pub candidate: String,
    pub baseline_edits: usize,
    pub candidate_edits: usize,
}

/// A document whose CER rose, with its worst lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regression {
    pub id: String,
    pub doc_type: DocType,
    pub baseline_dpi: f32,
    pub candidate_dpi: f32,
    /// N, reference grapheme clusters.
    pub reference_units: usize,
    pub baseline_cer: f64,
    pub candidate_cer: f64,
    /// `(E_c − E_b) / N`.
    pub delta: f64,
    /// The candidate engine's error on this document, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_error: Option<String>,
    pub lines: Vec<LineView>,
}

/// The `opts.top` pairs with the largest positive `Δ edits / N`, worst first.
/// `matched[i]` holds the document and records of `pairs[i]`.
pub(super) fn regressions(
    pairs: &[PairScore],
    matched: &[(&Document, &PredictionRecord, &PredictionRecord)],
    opts: &CompareOptions,
) -> Vec<Regression> {
    let mut ranked: Vec<(usize, f64)> = pairs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.cer_n > 0 && p.candidate.cer_edits > p.baseline.cer_edits)
        .map(|(i, p)| {
            let d = (p.candidate.cer_edits - p.baseline.cer_edits) as f64 / p.cer_n as f64;
            (i, d)
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| pairs[a.0].id.cmp(&pairs[b.0].id))
    });
    ranked
        .into_iter()
        .take(opts.top)
        .map(|(i, delta)| {
            let p = &pairs[i];
            let (doc, b, c) = matched[i];
            let redactor = Redactor::new(doc.fields.patient_name.as_deref());
            let show = |s: &str| {
                let s = if opts.show_phi {
                    s.to_string()
                } else {
                    redactor.redact(s)
                };
                truncate(&s)
            };
            let n = p.cer_n as f64;
            Regression {
                id: p.id.clone(),
                doc_type: p.doc_type,
                baseline_dpi: b.dpi,
                candidate_dpi: c.dpi,
                reference_units: p.cer_n,
                baseline_cer: p.baseline.cer_edits as f64 / n,
                candidate_cer: p.candidate.cer_edits as f64 / n,
                delta,
                candidate_error: c.error.clone(),
                lines: worst_lines(&doc.text, &b.text, &c.text, &opts.score.norm)
                    .into_iter()
                    .map(|l| LineView {
                        reference: show(&l.reference),
                        baseline: show(&l.baseline),
                        candidate: show(&l.candidate),
                        ..l
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The lines where the candidate made more edits than the baseline, most extra edits
/// first (at most [`WORST_LINES`]); unredacted.
pub fn worst_lines(
    reference: &str,
    baseline: &str,
    candidate: &str,
    norm: &NormOptions,
) -> Vec<LineView> {
    let b = line_edits(reference, baseline, norm);
    let c = line_edits(reference, candidate, norm);
    let mut views: Vec<LineView> = b
        .into_iter()
        .zip(c)
        .map(|(b, c)| LineView {
            reference: b.0,
            baseline: b.1,
            candidate: c.1,
            baseline_edits: b.2,
            candidate_edits: c.2,
        })
        .filter(|v| v.candidate_edits > v.baseline_edits)
        .collect();
    views.sort_by_key(|v| {
        (
            std::cmp::Reverse(v.candidate_edits - v.baseline_edits),
            std::cmp::Reverse(v.candidate_edits),
        )
    });
    views.truncate(WORST_LINES);
    views
}

/// Per reference line (N1, non-empty): (reference line, hypothesis text attributed to
/// it, edits attributed to it), as described in the module docs.
pub fn line_edits(
    reference: &str,
    hypothesis: &str,
    norm: &NormOptions,
) -> Vec<(String, String, usize)> {
    let r = normalize(reference, norm);
    let mut lines: Vec<String> = reference
        .split('\n')
        .map(|l| normalize(l, norm))
        .filter(|l| !l.is_empty())
        .collect();
    if lines.join(" ") != r {
        // Normalisation joined something across a line break: one line.
        lines = vec![r.clone()];
    }
    if r.is_empty() {
        return Vec::new();
    }
    let mut starts = Vec::with_capacity(lines.len());
    let mut at = 0;
    for l in &lines {
        starts.push(at);
        at += l.len() + 1;
    }
    let h = normalize(hypothesis, norm);
    let (rg, hg) = (graphemes(&r), graphemes(&h));
    let mut interner = Interner::default();
    let a = grapheme_symbols(&rg, &mut interner);
    let b = grapheme_symbols(&hg, &mut interner);
    let mut line_of = Vec::with_capacity(rg.len());
    let mut off = 0;
    for g in &rg {
        line_of.push(starts.partition_point(|&s| s <= off) - 1);
        off += g.len();
    }
    let mut hyp = vec![String::new(); lines.len()];
    let mut edits = vec![0; lines.len()];
    let mut cur = 0;
    for op in &align(&a, &b).ops {
        if op.kind != OpKind::Ins {
            cur = line_of[op.ref_pos];
        }
        if op.kind != OpKind::Del {
            hyp[cur].push_str(hg[op.hyp_pos]);
        }
        if op.kind != OpKind::Match {
            edits[cur] += 1;
        }
    }
    lines
        .into_iter()
        .zip(hyp)
        .zip(edits)
        .map(|((l, h), e)| (l, h.trim().to_string(), e))
        .collect()
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_LINE_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_LINE_CHARS).collect();
        t.push('…');
        t
    }
}
