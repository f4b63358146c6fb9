//! Character confusions: which reference grapheme was read as which, counted from the
//! alignment the CER was computed on (so the counts add up to S + D + I). A deletion is
//! recognised as `""`, an insertion comes from `""`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::distance::{Alignment, OpKind};

/// One confusion pair and how often it occurred.
#[derive(schemars::JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// The reference grapheme (`""` for an insertion).
    pub reference: String,
    /// What was recognised (`""` for a deletion).
    pub recognised: String,
    pub count: usize,
}

/// Every confusion of one alignment, most frequent first (ties in text order).
pub fn confusions(
    ref_graphemes: &[&str],
    hyp_graphemes: &[&str],
    al: &Alignment,
) -> Vec<Confusion> {
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    for op in &al.ops {
        let pair = match op.kind {
            OpKind::Match => continue,
            OpKind::Sub => (ref_graphemes[op.ref_pos], hyp_graphemes[op.hyp_pos]),
            OpKind::Del => (ref_graphemes[op.ref_pos], ""),
            OpKind::Ins => ("", hyp_graphemes[op.hyp_pos]),
        };
        *counts.entry(pair).or_default() += 1;
    }
    sorted(
        counts
            .into_iter()
            .map(|((r, h), n)| ((r.to_string(), h.to_string()), n)),
    )
}

/// Sums confusion lists (documents of a group) and keeps the `top` most frequent.
pub fn merge<'a>(lists: impl IntoIterator<Item = &'a [Confusion]>, top: usize) -> Vec<Confusion> {
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for list in lists {
        for c in list {
            *counts
                .entry((c.reference.clone(), c.recognised.clone()))
                .or_default() += c.count;
        }
    }
    let mut v = sorted(counts.into_iter());
    v.truncate(top);
    v
}

fn sorted(pairs: impl Iterator<Item = ((String, String), usize)>) -> Vec<Confusion> {
    let mut v: Vec<Confusion> = pairs
        .map(|((reference, recognised), count)| Confusion {
            reference,
            recognised,
            count,
        })
        .collect();
    v.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.reference.cmp(&b.reference))
            .then_with(|| a.recognised.cmp(&b.recognised))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::distance::align;
    use crate::score::text::{grapheme_symbols, graphemes, Interner};

    #[test]
    fn confusions_count_every_edit_once() {
        let (r, h) = ("타이레놀 500 정", "타이레늘 5O0 정 x");
        let (rg, hg) = (graphemes(r), graphemes(h));
        let mut int = Interner::default();
        let al = align(
            &grapheme_symbols(&rg, &mut int),
            &grapheme_symbols(&hg, &mut int),
        );
        let c = confusions(&rg, &hg, &al);
        let total: usize = c.iter().map(|c| c.count).sum();
        assert_eq!(total, al.counts().edits());
        assert!(c
            .iter()
            .any(|c| c.reference == "놀" && c.recognised == "늘"));
        assert!(c.iter().any(|c| c.reference == "0" && c.recognised == "O"));
        let merged = merge([c.as_slice(), c.as_slice()], 1);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].count, 2 * c[0].count);
    }
}
