//! Reading order as its own number (docs/metrics.md, "Reading order"). The order-sensitive CER
//! charges a column read in another order its whole length twice (deleted here, inserted
//! there). This module separates *what* was read from *in which order*:
//!
//! - **order-independent CER**: reference and hypothesis lines (each N1-normalised, empty
//!   lines dropped) are matched one-to-one at minimum total cost, where a matched pair costs
//!   its grapheme edit distance and an unmatched line costs its length (all deleted, or all
//!   inserted). Rate = total cost / N, N = graphemes of the reference lines. Solved exactly
//!   by Kuhn–Munkres on an (n + m)² matrix whose dummy rows and columns stand for "not
//!   matched", in the spirit of OmniDocBench's matched-block text metric.
//! - **reading order**: over the matched pairs, 1 − discordant / (k (k − 1) / 2), the
//!   normalised Kendall distance turned into a score: 1 when the hypothesis reads the
//!   matched lines in the reference's order, 0 when exactly reversed; `None` with fewer than
//!   two matched lines.
//!
//! Two lines are "matched" only when they are one line read with errors: cost at most
//! [`SAME_LINE`] of the longer line, or the shorter nearly contained in the longer (a split
//! or joined line). Unrelated lines the optimal pairing put together (a
//! substitution is cheaper than a deletion and an insertion) still count their cost but
//! take no part in the reading order.
//!
//! Lines are not always one-to-one: a VLM writes a wrapped paragraph as one line, or reads
//! a two-column block column by column (each reference row comes back as two lines). After
//! the exact one-to-one matching, a greedy pass adds each still-unmatched line (either
//! side) to the group where it lowers the total cost most, at its best position; a group's
//! cost is the edit distance between its reference lines and its hypothesis lines, each
//! side joined by spaces. For the reading order, a hypothesis line's place in the
//! reference is (its group's first reference line, its position inside the group).

use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;
use serde::{Deserialize, Serialize};

use super::distance::{distances_from, Symbol};
use super::normalize::{normalize, NormOptions};
use super::text::{grapheme_symbols, graphemes, Interner};

/// Most lines on both sides together that are matched exactly; beyond it (a runaway answer
/// of thousands of lines) the score is not computed: the (n + m)² matrix would take
/// gigabytes.
pub const MAX_LINES: usize = 1500;

/// Order-independent CER and reading order of one document (or a corpus sum).
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct OrderScore {
    /// Total cost of the optimal line matching.
    pub edits: usize,
    /// N: graphemes of the reference lines.
    pub ref_len: usize,
    /// `edits / ref_len`; `None` for an empty reference with a non-empty hypothesis.
    pub rate: Option<f64>,
    pub ref_lines: usize,
    pub hyp_lines: usize,
    /// Hypothesis lines matched to reference lines (one line read with errors, or part of
    /// a split or joined line).
    pub matched: usize,
    /// Pairs of matched lines read in the other order, and all pairs of matched lines.
    pub discordant: u64,
    pub pairs: u64,
    /// `1 − discordant / pairs`; `None` when fewer than two lines matched.
    pub reading_order: Option<f64>,
}

impl OrderScore {
    fn finish(mut self) -> OrderScore {
        self.rate = match (self.ref_len, self.edits) {
            (0, 0) => Some(0.0),
            (0, _) => None,
            (n, e) => Some(e as f64 / n as f64),
        };
        self.reading_order =
            (self.pairs > 0).then(|| 1.0 - self.discordant as f64 / self.pairs as f64);
        self
    }

    /// Corpus micro average: summed costs over summed N, summed discordant over summed
    /// pairs (long documents weigh more, as in the CER).
    pub fn sum(scores: &[OrderScore]) -> OrderScore {
        let mut t = OrderScore::default();
        for s in scores {
            t.edits += s.edits;
            t.ref_len += s.ref_len;
            t.ref_lines += s.ref_lines;
            t.hyp_lines += s.hyp_lines;
            t.matched += s.matched;
            t.discordant += s.discordant;
            t.pairs += s.pairs;
        }
        t.finish()
    }
}

/// Scores `hypothesis` against `reference` line by line; `None` when the two have more
/// than [`MAX_LINES`] lines together.
pub fn order_score(reference: &str, hypothesis: &str, opts: &NormOptions) -> Option<OrderScore> {
    let lines = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| normalize(l, opts))
            .filter(|l| !l.is_empty())
            .collect()
    };
    let (r, h) = (lines(reference), lines(hypothesis));
    let (n, m) = (r.len(), h.len());
    if n + m > MAX_LINES {
        return None;
    }
    let mut interner = Interner::default();
    let rs: Vec<Vec<Symbol>> = r
        .iter()
        .map(|l| grapheme_symbols(&graphemes(l), &mut interner))
        .collect();
    let hs: Vec<Vec<Symbol>> = h
        .iter()
        .map(|l| grapheme_symbols(&graphemes(l), &mut interner))
        .collect();
    let ref_len: usize = rs.iter().map(Vec::len).sum();
    let mut score = OrderScore {
        ref_len,
        ref_lines: n,
        hyp_lines: m,
        ..OrderScore::default()
    };
    if n == 0 || m == 0 {
        score.edits = ref_len + hs.iter().map(Vec::len).sum::<usize>();
        return Some(score.finish());
    }
    let (_, pairs) = min_cost_pairs(&rs, &hs);
    // Pairs that are the same line read with errors become groups; a pair further apart
    // (an unrelated line that is only cheaper to substitute than to delete and insert) is
    // left to the final pairing and takes no part in the reading order.
    let mut groups: Vec<Group> = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        if let Some((j, c)) = *p {
            if same_line(c, rs[i].len(), hs[j].len()) {
                groups.push(Group {
                    refs: vec![i],
                    hyps: vec![j],
                    cost: c,
                });
            }
        }
    }
    let space = grapheme_symbols(&[" "], &mut interner)[0];
    let lines = Lines {
        sides: [rs, hs],
        space,
    };
    lines.grow(&mut groups);
    let [ref_used, hyp_used] = in_groups(&groups, [n, m]);
    let left = |side: usize, used: &[bool]| -> Vec<Vec<Symbol>> {
        (0..used.len())
            .filter(|&x| !used[x])
            .map(|x| lines.sides[side][x].clone())
            .collect()
    };
    let (leftover, _) = min_cost_pairs(&left(0, &ref_used), &left(1, &hyp_used));
    score.edits = groups.iter().map(|g| g.cost).sum::<usize>() + leftover;
    // Reading order: hypothesis lines in their order, keyed by their place in the reference.
    let mut keyed: Vec<(usize, (usize, usize))> = Vec::new();
    for g in &groups {
        let first = g.refs.iter().copied().min().unwrap_or(0);
        for (pos, &j) in g.hyps.iter().enumerate() {
            keyed.push((j, (first, pos)));
        }
    }
    keyed.sort_unstable();
    let mut ranks: Vec<(usize, usize)> = keyed.iter().map(|k| k.1).collect();
    // Dense ranks of the keys, so ties cannot count as inversions.
    let mut sorted = ranks.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let order: Vec<usize> = ranks
        .drain(..)
        .map(|k| sorted.binary_search(&k).expect("key present"))
        .collect();
    score.matched = groups.iter().map(|g| g.hyps.len()).sum();
    let k = order.len() as u64;
    score.pairs = k * k.saturating_sub(1) / 2;
    score.discordant = inversions(&order);
    Some(score.finish())
}

/// Which reference and which hypothesis lines (`lens` of each) belong to a group.
fn in_groups(groups: &[Group], lens: [usize; 2]) -> [Vec<bool>; 2] {
    let mut used = lens.map(|n| vec![false; n]);
    for g in groups {
        for (side, used) in used.iter_mut().enumerate() {
            for &x in g.side(side) {
                used[x] = true;
            }
        }
    }
    used
}

/// Largest normalised edit distance (cost / longer line) of a pair that is one line read
/// with errors rather than two unrelated lines.
pub const SAME_LINE: f64 = 0.5;

/// Whether a pair of lines `la` and `lb` graphemes long at edit cost `c` is one line read
/// with errors: at most [`SAME_LINE`] of the longer line differs, or the shorter line (3
/// graphemes or more) is nearly contained in the longer (the edits beyond the length
/// difference are at most [`SAME_LINE`] of the shorter): a line the answer split or joined.
fn same_line(c: usize, la: usize, lb: usize) -> bool {
    let (short, long) = (la.min(lb), la.max(lb));
    c as f64 <= SAME_LINE * long as f64
        || (short >= 3 && (c - (long - short)) as f64 <= SAME_LINE * short as f64)
}

/// Minimum-cost one-to-one pairing of lines `a` and `b` (a pair costs its edit distance, an
/// unpaired line its length): the total, and each `a` line's partner with the pair's cost.
fn min_cost_pairs(a: &[Vec<Symbol>], b: &[Vec<Symbol>]) -> (usize, Vec<Option<(usize, usize)>>) {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        let total = a.iter().chain(b).map(Vec::len).sum();
        return (total, vec![None; n]);
    }
    // Rows: `a` then m dummies ("b line unpaired"); columns: `b` then n dummies.
    let size = n + m;
    let mut cost = Matrix::new(size, size, 0i64);
    for i in 0..n {
        for (j, d) in distances_from(&a[i], b.iter().map(Vec::as_slice))
            .into_iter()
            .enumerate()
        {
            cost[(i, j)] = d as i64;
        }
        for j in m..size {
            cost[(i, j)] = a[i].len() as i64;
        }
    }
    for i in n..size {
        for j in 0..m {
            cost[(i, j)] = b[j].len() as i64;
        }
    }
    let (total, assignment) = kuhn_munkres_min(&cost);
    let pairs = (0..n)
        .map(|i| {
            let j = assignment[i];
            let c = cost[(i, j)] as usize;
            // A pair costing as much as leaving both unpaired is no pair (ties: unpaired).
            (j < m && c < a[i].len() + b[j].len()).then_some((j, c))
        })
        .collect();
    (total as usize, pairs)
}

/// Lines matched together: reference lines `refs` read as hypothesis lines `hyps` (each in
/// its sequence order).
#[derive(Debug, Clone)]
struct Group {
    refs: Vec<usize>,
    hyps: Vec<usize>,
    cost: usize,
}

impl Group {
    fn side(&self, side: usize) -> &Vec<usize> {
        if side == 0 {
            &self.refs
        } else {
            &self.hyps
        }
    }
    fn side_mut(&mut self, side: usize) -> &mut Vec<usize> {
        if side == 0 {
            &mut self.refs
        } else {
            &mut self.hyps
        }
    }
}

/// A step of the greedy pass: a line joins `group` at `pos`, lowering the total by `gain`
/// (the group then costs `cost`).
#[derive(Debug, Clone, Copy)]
struct Move {
    gain: usize,
    group: usize,
    pos: usize,
    cost: usize,
}

/// Most trials (a line tried at a place in a group: one edit distance) of the greedy pass's
/// first round; beyond it (thousands of unmatched lines) the one-to-one matching stands.
const MAX_TRIALS: usize = 20_000;

struct Lines {
    /// Reference and hypothesis lines as grapheme symbols.
    sides: [Vec<Vec<Symbol>>; 2],
    space: Symbol,
}

impl Lines {
    fn joined(&self, side: usize, ids: &[usize]) -> Vec<Symbol> {
        let mut out = Vec::new();
        for (k, &i) in ids.iter().enumerate() {
            if k > 0 {
                out.push(self.space);
            }
            out.extend_from_slice(&self.sides[side][i]);
        }
        out
    }

    /// Adds unmatched lines to groups while that lowers the total cost (best gain first).
    fn grow(&self, groups: &mut [Group]) {
        let used = in_groups(groups, [self.sides[0].len(), self.sides[1].len()]);
        let mut unmatched: Vec<(usize, usize)> = (0..2)
            .flat_map(|side| {
                let used = &used[side];
                (0..used.len())
                    .filter(move |&x| !used[x])
                    .map(move |x| (side, x))
            })
            .filter(|&(side, x)| !self.sides[side][x].is_empty())
            .collect();
        // Trials of the first round (every unmatched line at every place of every group);
        // later rounds only redo the group that changed.
        let trials: usize = unmatched
            .iter()
            .map(|&(side, _)| groups.iter().map(|g| g.side(side).len() + 1).sum::<usize>())
            .sum();
        if unmatched.is_empty() || groups.is_empty() || trials > MAX_TRIALS {
            return;
        }
        // best[u][g]: line u's best move into group g, if it lowers the total.
        let mut best: Vec<Vec<Option<Move>>> = unmatched
            .iter()
            .map(|&(side, x)| {
                (0..groups.len())
                    .map(|gi| self.best_move(groups, gi, side, x))
                    .collect()
            })
            .collect();
        loop {
            let pick = best
                .iter()
                .enumerate()
                .flat_map(|(u, row)| row.iter().flatten().map(move |m| (u, m)))
                .max_by_key(|(_, m)| m.gain)
                .map(|(u, m)| (u, m.group, m.pos, m.cost));
            let Some((u, gi, pos, cost)) = pick else {
                return;
            };
            let (side, x) = unmatched[u];
            groups[gi].side_mut(side).insert(pos, x);
            groups[gi].cost = cost;
            unmatched.swap_remove(u);
            best.swap_remove(u);
            for (k, &(side, y)) in unmatched.iter().enumerate() {
                best[k][gi] = self.best_move(groups, gi, side, y);
            }
        }
    }

    /// The best place for line `x` of `side` in group `gi`, if adding it there lowers the
    /// total cost.
    fn best_move(&self, groups: &[Group], gi: usize, side: usize, x: usize) -> Option<Move> {
        let g = &groups[gi];
        let alone = self.sides[side][x].len();
        // Every trial changes only `side`: the other side's match vectors are built once
        // (the distance is symmetric), which halves the greedy pass's time.
        let fixed = self.joined(1 - side, g.side(1 - side));
        let trials: Vec<Vec<Symbol>> = (0..=g.side(side).len())
            .map(|pos| {
                let mut ids = g.side(side).clone();
                ids.insert(pos, x);
                self.joined(side, &ids)
            })
            .collect();
        let costs = distances_from(&fixed, trials.iter().map(Vec::as_slice));
        let mut best: Option<Move> = None;
        for (pos, c) in costs.into_iter().enumerate() {
            if c < g.cost + alone {
                let gain = g.cost + alone - c;
                if best.as_ref().is_none_or(|b| gain > b.gain) {
                    best = Some(Move {
                        gain,
                        group: gi,
                        pos,
                        cost: c,
                    });
                }
            }
        }
        best
    }
}

/// Pairs `a < b` with `v[a] > v[b]` (merge sort, O(k log k)).
fn inversions(v: &[usize]) -> u64 {
    fn sort(v: &mut [usize], buf: &mut Vec<usize>) -> u64 {
        let n = v.len();
        if n < 2 {
            return 0;
        }
        let mid = n / 2;
        let mut count = sort(&mut v[..mid], buf) + sort(&mut v[mid..], buf);
        buf.clear();
        let (mut i, mut j) = (0, mid);
        while i < mid && j < n {
            if v[i] <= v[j] {
                buf.push(v[i]);
                i += 1;
            } else {
                buf.push(v[j]);
                count += (mid - i) as u64;
                j += 1;
            }
        }
        buf.extend_from_slice(&v[i..mid]);
        buf.extend_from_slice(&v[j..n]);
        v.copy_from_slice(buf);
        count
    }
    let mut w = v.to_vec();
    sort(&mut w, &mut Vec::with_capacity(v.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(r: &str, h: &str) -> OrderScore {
        order_score(r, h, &NormOptions::default()).expect("small")
    }

    #[test]
    fn same_lines_in_another_order_cost_nothing_but_order() {
        let r = "처방전\n성명 홍길동\n아모잘탄정 1 3 7\n진단 I10";
        let s = score(r, "진단 I10\n아모잘탄정 1 3 7\n성명 홍길동\n처방전");
        assert_eq!(s.edits, 0);
        assert_eq!(s.rate, Some(0.0));
        assert_eq!(s.matched, 4);
        assert_eq!((s.discordant, s.pairs), (6, 6));
        assert_eq!(s.reading_order, Some(0.0));
        let same = score(r, r);
        assert_eq!(same.reading_order, Some(1.0));
        // One swap of neighbours: 1 discordant pair of 6.
        let one = score(r, "성명 홍길동\n처방전\n아모잘탄정 1 3 7\n진단 I10");
        assert!((one.reading_order.unwrap() - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn edits_inside_matched_lines_and_unmatched_lines_count() {
        // "홍길동" → "홍길돔" (1); "끝" and "광고" are unrelated: the cheapest pairing
        // substitutes one character and inserts one (2), but they are not a match.
        let s = score("성명 홍길동\n끝", "광고\n성명 홍길돔");
        assert_eq!(s.edits, 3);
        assert_eq!(s.ref_len, 7);
        assert_eq!(s.matched, 1);
        assert_eq!(s.reading_order, None, "one matched line has no order");
    }

    #[test]
    fn empty_sides() {
        let s = score("", "");
        assert_eq!((s.edits, s.rate, s.reading_order), (0, Some(0.0), None));
        let s = score("", "헛것");
        assert_eq!((s.edits, s.rate), (2, None));
        let s = score("가나\n다", "");
        assert_eq!((s.edits, s.rate), (3, Some(1.0)));
        let s = score("\n\n가나\n\n", "가나");
        assert_eq!((s.ref_lines, s.edits), (1, 0));
    }

    #[test]
    fn duplicate_lines_and_ties() {
        // Two identical reference lines, one read: one matched, one deleted.
        let s = score("- 1 -\n내용\n- 1 -", "- 1 -\n내용");
        assert_eq!(s.edits, 5);
        assert_eq!(s.matched, 2);
        // Equal costs either way: the total is the same whichever pair is kept.
        let s = score("ab\nab", "ab\nab\nab");
        assert_eq!(s.edits, 2);
        assert_eq!(s.reading_order, Some(1.0));
        // A line that shares nothing with another is not matched with it (but substituting
        // is still the cheapest way to account for both).
        let s = score("가나다", "라마바");
        assert_eq!((s.matched, s.edits), (0, 3));
    }

    #[test]
    fn two_column_block_read_column_wise() {
        let r = "성명 홍길동 성별 남\n나이 45 병동 3A";
        let h = "성명 홍길동\n나이 45\n성별 남\n병동 3A";
        let s = score(r, h);
        // Each row comes back as two lines: the order-free CER sees all the content, the
        // order score the jump between the columns.
        assert_eq!(s.edits, 0, "{s:?}");
        assert_eq!(s.matched, 4);
        assert!(s.reading_order.unwrap() < 1.0, "{s:?}");
        let cer = crate::score::cer(r, h, &NormOptions::default())
            .rate
            .unwrap();
        assert!(cer > 0.3, "{cer}");
    }

    #[test]
    fn a_wrapped_paragraph_written_as_one_line_matches_its_lines() {
        let r = "경과: 입원 후 항생제 치료를\n시작하였고 증상 호전되어\n퇴원함";
        let s = score(
            r,
            "경과: 입원 후 항생제 치료를 시작하였고 증상 호전되어 퇴원함",
        );
        assert_eq!(s.edits, 0, "{s:?}");
    }

    #[test]
    fn inversions_count_discordant_pairs() {
        assert_eq!(inversions(&[]), 0);
        assert_eq!(inversions(&[0, 1, 2]), 0);
        assert_eq!(inversions(&[2, 1, 0]), 3);
        assert_eq!(inversions(&[1, 0, 3, 2, 4]), 2);
    }

    #[test]
    fn sums_are_micro_averages() {
        let a = score("가나다라\n마", "가나다라\n마");
        let b = score("가나", "");
        let t = OrderScore::sum(&[a, b]);
        assert_eq!((t.edits, t.ref_len), (2, 7));
        assert!((t.rate.unwrap() - 2.0 / 7.0).abs() < 1e-12);
        assert_eq!(t.reading_order, Some(1.0));
    }
}
