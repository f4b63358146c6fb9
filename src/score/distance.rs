//! Levenshtein distance and alignment over symbol sequences (unit costs).
//!
//! Symbols are `u32` ids (grapheme clusters, jamo or words interned by the caller).
//! The DP matrix `D[i][j]` (reference prefix `i`, hypothesis prefix `j`) is computed
//! bit-parallel (Myers 1999, in Hyyrö's 2003 formulation with 64-row blocks): a column
//! is held as two bit-vectors, `VP`/`VN`, marking rows whose vertical delta
//! `D[i][j] − D[i−1][j]` is +1/−1, so a block of 64 cells costs a few word operations.
//!
//! **Band.** A path through `(i, j)` costs at least `|t| + |t + d|` with `t = i − j`,
//! `d = n − m`, so for a threshold `k` only the rows with `|t| + |t + d| ≤ k` matter
//! (Ukkonen 1985). Each column computes just the blocks covering that band; cells outside
//! are taken as upper bounds that keep every delta in {−1, 0, +1} (the row above the band
//! grows by +1 per column, a block entering the band below starts from +1 per row). So
//! the banded values `D'` never underestimate `D`, equal it along any optimal path of cost
//! ≤ k, and `D'[m][n] ≤ k` proves `D'[m][n] = D[m][n]`; otherwise `k` doubles and the pass
//! is redone (`k ≥ max(m, n)` always succeeds). Cost: O(n·⌈k/64⌉) per pass.
//!
//! **Alignment.** The banded pass stores every column's `VP`/`VN` blocks and walks back
//! from `(m, n)`. Rules at `(i, j)`, valid for unit-cost Levenshtein where
//! `D[i][j] ∈ {D[i−1][j−1], D[i−1][j−1] + 1}` (and for `D'`, whose boundary keeps it):
//! - `VP_j[i]` set → `D[i][j] = D[i−1][j] + 1`: delete `ref[i−1]`;
//! - else `VN_{j−1}[i]` set → `D[i][j−1] = D[i−1][j−1] − 1`, hence
//!   `D[i][j] = D[i][j−1] + 1`: insert `hyp[j−1]`;
//! - else the diagonal is optimal: match or substitution.
//!
//! Every cell of the recovered path has `D' ≥ D` and lies on a path of cost ≤ k, so it is
//! inside the band: the walk never needs a cell that was not computed.
//!
//! **Memory bound.** When the stored blocks would exceed a word budget, Hirschberg's
//! divide and conquer splits the hypothesis in half, finds the row where an optimal path
//! crosses the middle column (forward pass on prefixes + backward pass on reversed
//! suffixes, both bit-parallel over full columns), and recurses.

use serde::{Deserialize, Serialize};

use rustc_hash::FxHashMap as FastMap;

/// One symbol of a sequence (an interned grapheme, jamo or word).
pub type Symbol = u32;

/// Default cap on stored trace words per bit-vector set: 4 Mi words, i.e. 2 × 32 MiB for
/// `VP` + `VN`; only the band is stored (n · ⌈band/64⌉ words), so e.g. 100k symbols with
/// a 2,500-row band fit. Larger traces use Hirschberg's split.
pub const DEFAULT_TRACE_BUDGET_WORDS: usize = 1 << 22;

/// What one alignment step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// `ref[ref_pos] == hyp[hyp_pos]`.
    Match,
    /// `ref[ref_pos]` read as `hyp[hyp_pos]`.
    Sub,
    /// `ref[ref_pos]` missing from the hypothesis (before `hyp[hyp_pos]`).
    Del,
    /// `hyp[hyp_pos]` not in the reference (before `ref[ref_pos]`).
    Ins,
}

/// One alignment step. For `Del`, `hyp_pos` is the hypothesis cursor (the index the next
/// hypothesis symbol has); for `Ins`, `ref_pos` is the reference cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    pub ref_pos: usize,
    pub hyp_pos: usize,
}

/// Hits and errors of an alignment; `substitutions + deletions + insertions` is the
/// edit distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EditCounts {
    pub hits: usize,
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
}

impl EditCounts {
    /// S + D + I.
    pub fn edits(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }
}

/// An optimal alignment of a reference onto a hypothesis, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alignment {
    pub ops: Vec<Op>,
    pub ref_len: usize,
    pub hyp_len: usize,
}

impl Alignment {
    /// Hits, S, D and I counted from the ops.
    pub fn counts(&self) -> EditCounts {
        let mut c = EditCounts::default();
        for op in &self.ops {
            match op.kind {
                OpKind::Match => c.hits += 1,
                OpKind::Sub => c.substitutions += 1,
                OpKind::Del => c.deletions += 1,
                OpKind::Ins => c.insertions += 1,
            }
        }
        c
    }

    /// The edit distance (S + D + I of the ops).
    pub fn distance(&self) -> usize {
        self.counts().edits()
    }
}

/// Levenshtein distance between `reference` and `hypothesis` (unit costs), bit-parallel.
pub fn distance(reference: &[Symbol], hypothesis: &[Symbol]) -> usize {
    let (pre, suf) = common_affixes(reference, hypothesis);
    let a = &reference[pre..reference.len() - suf];
    let b = &hypothesis[pre..hypothesis.len() - suf];
    if a.is_empty() || b.is_empty() {
        return a.len().max(b.len());
    }
    distance_to(&Peq::new(a), b)
}

/// Levenshtein distances from one `reference` to each of `hypotheses`, as [`distance`]
/// gives them. The reference's match vectors are built once: reading-order scoring
/// compares every reference line with every hypothesis line, and building them per pair
/// was a quarter of `score_document`'s time.
pub fn distances_from<'b>(
    reference: &[Symbol],
    hypotheses: impl IntoIterator<Item = &'b [Symbol]>,
) -> Vec<usize> {
    let peq = Peq::new(reference);
    hypotheses
        .into_iter()
        .map(|b| match (reference.len(), b.len()) {
            (0, n) | (n, 0) => n,
            (m, _) if m <= 64 => single_block_distance(&peq, b),
            _ => distance_to(&peq, b),
        })
        .collect()
}

/// The distance from the reference of `peq` to non-empty `b`, widening the band until a
/// pass answers.
fn distance_to(peq: &Peq, b: &[Symbol]) -> usize {
    let cols = peq.offsets(b);
    let mut k = initial_threshold(peq.m, b.len());
    loop {
        if let Some(d) = banded_pass(peq, &cols, k, None) {
            return d;
        }
        k = next_threshold(k, peq.m, b.len());
    }
}

/// Myers' column for a reference of at most 64 symbols: one word, no band and no
/// allocation. `D[m][n] = D[0][n] + Σ vertical deltas = n + |VP| − |VN|`.
fn single_block_distance(peq: &Peq, b: &[Symbol]) -> usize {
    let (mut vp, mut vn) = (!0u64, 0u64);
    for &s in b {
        // Row 0 is D[0][j] = j: the delta entering the top is +1.
        step_block(&mut vp, &mut vn, peq.eq(s)[0], 1, 0);
    }
    let mask = row_mask(0, peq.m);
    b.len() + (vp & mask).count_ones() as usize - (vn & mask).count_ones() as usize
}

/// First band threshold: the length difference plus slack, at least two blocks' worth
/// (a narrower band still spans two or three blocks, so it would save little).
fn initial_threshold(m: usize, n: usize) -> usize {
    (m.abs_diff(n) + 64).max(128).min(m.max(n))
}

/// Doubles the threshold, up to `max(m, n)` (an upper bound of any distance).
fn next_threshold(k: usize, m: usize, n: usize) -> usize {
    let cap = m.max(n);
    assert!(k < cap, "a pass with k = max(m, n) cannot fail");
    (k * 2).min(cap)
}

/// An optimal alignment (ops in order), with the default memory budget.
pub fn align(reference: &[Symbol], hypothesis: &[Symbol]) -> Alignment {
    align_with_budget(reference, hypothesis, DEFAULT_TRACE_BUDGET_WORDS)
}

/// An optimal alignment storing at most about `budget_words` trace words per bit-vector
/// set; beyond that the problem is split (Hirschberg). The budget is raised to one
/// column's worth if smaller.
pub fn align_with_budget(
    reference: &[Symbol],
    hypothesis: &[Symbol],
    budget_words: usize,
) -> Alignment {
    let (pre, suf) = common_affixes(reference, hypothesis);
    let (m, n) = (reference.len(), hypothesis.len());
    let mut ops = Vec::with_capacity(m + n);
    ops.extend((0..pre).map(|k| Op {
        kind: OpKind::Match,
        ref_pos: k,
        hyp_pos: k,
    }));
    let a = &reference[pre..m - suf];
    let b = &hypothesis[pre..n - suf];
    let budget = budget_words.max(blocks_for(a.len()));
    align_rec(a, b, pre, pre, budget, &mut ops);
    ops.extend((0..suf).map(|k| Op {
        kind: OpKind::Match,
        ref_pos: m - suf + k,
        hyp_pos: n - suf + k,
    }));
    Alignment {
        ops,
        ref_len: m,
        hyp_len: n,
    }
}

/// Lengths of the common prefix and (non-overlapping) common suffix: matching them is
/// always optimal and shrinks the matrix.
fn common_affixes(a: &[Symbol], b: &[Symbol]) -> (usize, usize) {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (pre, suf)
}

fn blocks_for(m: usize) -> usize {
    m.div_ceil(64)
}

/// Aligns `a` onto `b` (no common affixes assumed), appending ops with absolute positions.
fn align_rec(
    a: &[Symbol],
    b: &[Symbol],
    a_off: usize,
    b_off: usize,
    budget: usize,
    ops: &mut Vec<Op>,
) {
    if a.is_empty() || b.is_empty() {
        ops.extend((0..a.len()).map(|i| Op {
            kind: OpKind::Del,
            ref_pos: a_off + i,
            hyp_pos: b_off,
        }));
        ops.extend((0..b.len()).map(|j| Op {
            kind: OpKind::Ins,
            ref_pos: a_off,
            hyp_pos: b_off + j,
        }));
        return;
    }
    let peq = Peq::new(a);
    // Reuse this thread's trace buffer: fresh large allocations cost page faults on every
    // document. The split recurses only after the buffer is released; should it ever be
    // held (re-entrancy), a fresh buffer is used instead of panicking.
    let aligned = TRACE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut trace) => align_banded(&peq, a, b, (a_off, b_off), budget, ops, &mut trace),
        Err(_) => align_banded(
            &peq,
            a,
            b,
            (a_off, b_off),
            budget,
            ops,
            &mut Trace::default(),
        ),
    });
    if !aligned {
        hirschberg(a, b, a_off, b_off, budget, ops);
    }
}

thread_local! {
    static TRACE: std::cell::RefCell<Trace> = std::cell::RefCell::new(Trace::default());
}

/// Banded passes with a doubling threshold until one answers, then the traceback.
/// Returns `false`, having appended nothing, when the band's trace would exceed the
/// budget (the caller splits the problem instead).
fn align_banded(
    peq: &Peq,
    a: &[Symbol],
    b: &[Symbol],
    (a_off, b_off): (usize, usize),
    budget: usize,
    ops: &mut Vec<Op>,
    trace: &mut Trace,
) -> bool {
    let (m, n) = (a.len(), b.len());
    let cols = peq.offsets(b);
    let mut k = initial_threshold(m, n);
    loop {
        let words = Band::new(m, n, k).words(n);
        if words > budget && n > 1 {
            return false;
        }
        trace.clear();
        trace.reserve(n, words);
        if banded_pass(peq, &cols, k, Some(trace)).is_some() {
            traceback(trace, a, b, a_off, b_off, ops);
            return true;
        }
        k = next_threshold(k, m, n);
    }
}

/// Hirschberg's split: an optimal path crosses column `mid` at a row minimising
/// `D(a[..i], b[..mid]) + D(a[i..], b[mid..])`; both halves are aligned recursively.
fn hirschberg(
    a: &[Symbol],
    b: &[Symbol],
    a_off: usize,
    b_off: usize,
    budget: usize,
    ops: &mut Vec<Op>,
) {
    let m = a.len();
    let mid = b.len() / 2;
    let fwd = column_values(&Peq::new(a).last_column(&b[..mid]), m, mid);
    let ra: Vec<Symbol> = a.iter().rev().copied().collect();
    let rb: Vec<Symbol> = b[mid..].iter().rev().copied().collect();
    let bwd = column_values(&Peq::new(&ra).last_column(&rb), m, rb.len());
    let split = (0..=m)
        .min_by_key(|&i| fwd[i] + bwd[m - i])
        .expect("range is non-empty");
    align_rec(&a[..split], &b[..mid], a_off, b_off, budget, ops);
    align_rec(
        &a[split..],
        &b[mid..],
        a_off + split,
        b_off + mid,
        budget,
        ops,
    );
}

/// The rows an optimal path of cost ≤ k can visit: `t = i − j ∈ [tlo, thi]`.
#[derive(Debug, Clone, Copy)]
struct Band {
    m: usize,
    tlo: isize,
    thi: isize,
}

impl Band {
    /// `|t| + |t + d| ≤ k` with `d = n − m` ⇔ `t` within `e = ⌊(k − |d|) / 2⌋` of the
    /// interval between 0 and `−d`.
    fn new(m: usize, n: usize, k: usize) -> Self {
        let d = n as isize - m as isize;
        let e = (k as isize - d.abs()).max(0) / 2;
        Band {
            m,
            tlo: (-d).min(0) - e,
            thi: (-d).max(0) + e,
        }
    }

    /// First and last block (inclusive) holding the band's rows of column `j ≥ 1`; both
    /// never decrease with `j`, and the last column's range ends at row `m`.
    fn blocks(&self, j: usize) -> (usize, usize) {
        let j = j as isize;
        let lo = (j + self.tlo).max(1) as usize;
        let hi = (j + self.thi).min(self.m as isize) as usize;
        ((lo - 1) / 64, (hi - 1) / 64)
    }

    /// Trace words one bit-vector set of a pass over `n` columns stores.
    fn words(&self, n: usize) -> usize {
        (1..=n)
            .map(|j| {
                let (f, l) = self.blocks(j);
                l - f + 1
            })
            .sum()
    }
}

/// One banded pass over the hypothesis (given as [`Peq::offsets`]) with threshold `k`:
/// `Some(D[m][n])` when it is ≤ k (exact then, see module docs), `None` otherwise.
/// Stores the columns in `trace` if given.
fn banded_pass(
    peq: &Peq,
    cols: &[usize],
    k: usize,
    mut trace: Option<&mut Trace>,
) -> Option<usize> {
    let (m, n) = (peq.m, cols.len());
    let band = Band::new(m, n, k);
    // Column 0 is exact in every block: D[i][0] = i.
    let mut vp = vec![!0u64; peq.blocks];
    let mut vn = vec![0u64; peq.blocks];
    let (mut f, mut l) = band.blocks(1);
    // D' of the row just above the computed blocks (row 64·f), in the current column.
    let mut top = (64 * f) as isize;
    for (j, &off) in (1..=n).zip(cols) {
        let (nf, nl) = band.blocks(j);
        // Blocks leaving the band at the top: the boundary row moves down through their
        // (previous column) deltas.
        for blk in f..nf {
            top += vp[blk].count_ones() as isize - vn[blk].count_ones() as isize;
        }
        // Blocks entering at the bottom: their previous column is taken as +1 per row.
        for blk in (l + 1)..=nl {
            vp[blk] = !0;
            vn[blk] = 0;
        }
        (f, l) = (nf, nl);
        let eq = &peq.table[off + f..=off + l];
        // Row 0 is D[0][j] = j and the boundary row above a dropped block grows by +1
        // too: the horizontal delta entering the top block is +1 either way.
        let (mut hp, mut hn) = (1, 0);
        for ((p, q), &e) in vp[f..=l].iter_mut().zip(&mut vn[f..=l]).zip(eq) {
            (hp, hn) = step_block(p, q, e, hp, hn);
        }
        top += 1;
        if let Some(t) = trace.as_deref_mut() {
            t.push_column(f, &vp[f..=l], &vn[f..=l]);
        }
    }
    let mut d = top;
    for blk in f..=l {
        let mask = row_mask(blk, m);
        d += (vp[blk] & mask).count_ones() as isize - (vn[blk] & mask).count_ones() as isize;
    }
    let d = d as usize;
    (d <= k).then_some(d)
}

/// The stored `VP`/`VN` blocks of each column of a banded pass.
#[derive(Debug, Default)]
struct Trace {
    /// First stored block of column `j` at index `j − 1`.
    first: Vec<usize>,
    /// Start of column `j`'s words at index `j − 1`.
    start: Vec<usize>,
    vp: Vec<u64>,
    vn: Vec<u64>,
}

impl Trace {
    fn clear(&mut self) {
        self.first.clear();
        self.start.clear();
        self.vp.clear();
        self.vn.clear();
    }

    fn reserve(&mut self, columns: usize, words: usize) {
        self.first.reserve(columns);
        self.start.reserve(columns);
        self.vp.reserve(words);
        self.vn.reserve(words);
    }

    fn push_column(&mut self, first: usize, vp: &[u64], vn: &[u64]) {
        self.first.push(first);
        self.start.push(self.vp.len());
        // Element pushes: a column is a few words, too short for a memcpy call to pay.
        for (&p, &q) in vp.iter().zip(vn) {
            self.vp.push(p);
            self.vn.push(q);
        }
    }

    /// `(VP, VN)` bits of row `i + 1` in column `j ≥ 1`. Rows below the stored blocks are
    /// the +1 boundary a later column started from; rows above are never asked for.
    fn bits(&self, j: usize, i: usize) -> (bool, bool) {
        let c = j - 1;
        let blk = i / 64;
        let first = self.first[c];
        let end = self.start.get(c + 1).copied().unwrap_or(self.vp.len());
        debug_assert!(blk >= first, "traceback left the band");
        if blk < first {
            return (false, false);
        }
        if blk - first >= end - self.start[c] {
            return (true, false);
        }
        let w = self.start[c] + blk - first;
        let s = i % 64;
        ((self.vp[w] >> s) & 1 == 1, (self.vn[w] >> s) & 1 == 1)
    }
}

/// Walks back from (m, n) over a stored pass (rules in the module docs).
fn traceback(
    trace: &Trace,
    a: &[Symbol],
    b: &[Symbol],
    a_off: usize,
    b_off: usize,
    ops: &mut Vec<Op>,
) {
    let start = ops.len();
    let (mut i, mut j) = (a.len(), b.len());
    // Column 0 has VP = all, VN = none.
    while i > 0 && j > 0 {
        if trace.bits(j, i - 1).0 {
            i -= 1;
            ops.push(Op {
                kind: OpKind::Del,
                ref_pos: a_off + i,
                hyp_pos: b_off + j,
            });
        } else if j >= 2 && trace.bits(j - 1, i - 1).1 {
            j -= 1;
            ops.push(Op {
                kind: OpKind::Ins,
                ref_pos: a_off + i,
                hyp_pos: b_off + j,
            });
        } else {
            i -= 1;
            j -= 1;
            let kind = if a[i] == b[j] {
                OpKind::Match
            } else {
                OpKind::Sub
            };
            ops.push(Op {
                kind,
                ref_pos: a_off + i,
                hyp_pos: b_off + j,
            });
        }
    }
    while i > 0 {
        i -= 1;
        ops.push(Op {
            kind: OpKind::Del,
            ref_pos: a_off + i,
            hyp_pos: b_off,
        });
    }
    while j > 0 {
        j -= 1;
        ops.push(Op {
            kind: OpKind::Ins,
            ref_pos: a_off,
            hyp_pos: b_off + j,
        });
    }
    ops[start..].reverse();
}

/// Match bit-vectors of the reference: for each distinct symbol, the rows where it occurs,
/// `blocks` words per symbol. Row 0 of the table is all zeros: symbols absent from the
/// reference match nowhere.
struct Peq {
    m: usize,
    blocks: usize,
    rows: FastMap<Symbol, usize>,
    table: Vec<u64>,
}

impl Peq {
    fn new(a: &[Symbol]) -> Self {
        let blocks = blocks_for(a.len());
        let mut rows = FastMap::with_capacity_and_hasher(a.len().min(1024), Default::default());
        let mut table = vec![0; blocks];
        for (i, &s) in a.iter().enumerate() {
            let next = rows.len() + 1;
            let r = *rows.entry(s).or_insert(next);
            if r == next {
                table.resize(table.len() + blocks, 0);
            }
            table[r * blocks + i / 64] |= 1u64 << (i % 64);
        }
        Peq {
            m: a.len(),
            blocks,
            rows,
            table,
        }
    }

    /// Table offset of each hypothesis symbol's match vector (looked up once per
    /// alignment rather than once per pass).
    fn offsets(&self, b: &[Symbol]) -> Vec<usize> {
        b.iter()
            .map(|s| self.rows.get(s).map_or(0, |&r| r * self.blocks))
            .collect()
    }

    fn eq(&self, sym: Symbol) -> &[u64] {
        let off = self.rows.get(&sym).map_or(0, |&r| r * self.blocks);
        &self.table[off..off + self.blocks]
    }

    /// The VP/VN vectors after processing all of `b`.
    fn last_column(&self, b: &[Symbol]) -> Column {
        let mut col = Column::new(self.blocks);
        let mut pairs = b.chunks_exact(2);
        for p in &mut pairs {
            col.advance_pair(self.eq(p[0]), self.eq(p[1]), |_, _, _, _| {});
        }
        if let [last] = pairs.remainder() {
            col.advance(self.eq(*last));
        }
        col
    }
}

/// One DP column as vertical-delta bit-vectors (bits past `m` are padding).
struct Column {
    vp: Vec<u64>,
    vn: Vec<u64>,
}

impl Column {
    /// Column 0: `D[i][0] = i`, every vertical delta is +1.
    fn new(blocks: usize) -> Self {
        Column {
            vp: vec![!0; blocks],
            vn: vec![0; blocks],
        }
    }

    /// Moves to the next column. Row 0 is `D[0][j] = j`, so the horizontal delta entering
    /// the top block is +1; each block passes its bottom horizontal delta to the next.
    #[inline]
    fn advance(&mut self, eq: &[u64]) {
        let (mut hp, mut hn) = (1, 0);
        for ((vp, vn), &e) in self.vp.iter_mut().zip(self.vn.iter_mut()).zip(eq) {
            (hp, hn) = step_block(vp, vn, e, hp, hn);
        }
    }
}

impl Column {
    /// Advances two columns (`eq0` then `eq1`) with the second staggered one block behind
    /// the first: the two block-to-block carry chains are independent, so the CPU
    /// overlaps them. `sink(c, k, vp, vn)` receives block `k` of column `c ∈ {0, 1}`.
    #[inline]
    fn advance_pair(
        &mut self,
        eq0: &[u64],
        eq1: &[u64],
        mut sink: impl FnMut(usize, usize, u64, u64),
    ) {
        let blocks = self.vp.len();
        let (vp, vn) = (&mut self.vp[..], &mut self.vn[..blocks]);
        let (eq0, eq1) = (&eq0[..blocks], &eq1[..blocks]);
        let (mut hp0, mut hn0) = step_block(&mut vp[0], &mut vn[0], eq0[0], 1, 0);
        sink(0, 0, vp[0], vn[0]);
        let (mut hp1, mut hn1) = (1, 0);
        for k in 1..blocks {
            (hp0, hn0) = step_block(&mut vp[k], &mut vn[k], eq0[k], hp0, hn0);
            sink(0, k, vp[k], vn[k]);
            (hp1, hn1) = step_block(&mut vp[k - 1], &mut vn[k - 1], eq1[k - 1], hp1, hn1);
            sink(1, k - 1, vp[k - 1], vn[k - 1]);
        }
        let last = blocks - 1;
        step_block(&mut vp[last], &mut vn[last], eq1[last], hp1, hn1);
        sink(1, last, vp[last], vn[last]);
    }
}

/// One 64-row block of Myers' step (Hyyrö 2003): updates the block's VP/VN given the
/// match vector and the horizontal delta above the block, passed as two carry bits
/// (`hp_in` = 1 for +1, `hn_in` = 1 for −1); returns the carries below the block. Only
/// `hn_in` is on the dependency chain from block to block, which keeps it short.
#[inline(always)]
fn step_block(vp: &mut u64, vn: &mut u64, eq: u64, hp_in: u64, hn_in: u64) -> (u64, u64) {
    let (pv, mv) = (*vp, *vn);
    let xv = eq | mv;
    // A negative delta entering from above acts like a match on the block's first row.
    let eq = eq | hn_in;
    let xh = (((eq & pv).wrapping_add(pv)) ^ pv) | eq;
    let ph = mv | !(xh | pv);
    let mh = pv & xh;
    let out = (ph >> 63, mh >> 63);
    let ph = (ph << 1) | hp_in;
    let mh = (mh << 1) | hn_in;
    *vp = mh | !(xv | ph);
    *vn = ph & xv;
    out
}

/// `D[i][n]` for every `i` in `0..=m`.
fn column_values(col: &Column, m: usize, n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(m + 1);
    let mut d = n as i64;
    out.push(n);
    for i in 0..m {
        let (w, b) = (i / 64, i % 64);
        d += ((col.vp[w] >> b) & 1) as i64 - ((col.vn[w] >> b) & 1) as i64;
        out.push(d as usize);
    }
    out
}

/// Bits of block `k` that are real rows (< m).
fn row_mask(k: usize, m: usize) -> u64 {
    let rows = m.saturating_sub(k * 64).min(64);
    if rows == 64 {
        !0
    } else {
        (1u64 << rows) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Textbook O(nm) Levenshtein, the oracle.
    fn dp_distance(a: &[Symbol], b: &[Symbol]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        let mut cur = vec![0; b.len() + 1];
        for (i, &x) in a.iter().enumerate() {
            cur[0] = i + 1;
            for (j, &y) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(x != y);
                cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        prev[b.len()]
    }

    /// Replays the ops: consumes the reference in order and must rebuild the hypothesis.
    fn replay(al: &Alignment, a: &[Symbol], b: &[Symbol]) {
        let (mut i, mut j) = (0, 0);
        let mut rebuilt = Vec::new();
        for op in &al.ops {
            assert_eq!(
                (op.ref_pos, op.hyp_pos),
                (i, j),
                "cursor mismatch at {op:?}"
            );
            match op.kind {
                OpKind::Match => {
                    assert_eq!(a[i], b[j]);
                    rebuilt.push(a[i]);
                    i += 1;
                    j += 1;
                }
                OpKind::Sub => {
                    assert_ne!(a[i], b[j]);
                    rebuilt.push(b[j]);
                    i += 1;
                    j += 1;
                }
                OpKind::Del => i += 1,
                OpKind::Ins => {
                    rebuilt.push(b[j]);
                    j += 1;
                }
            }
        }
        assert_eq!((i, j), (a.len(), b.len()));
        assert_eq!(rebuilt, b);
    }

    fn random_seq(rng: &mut ChaCha8Rng, len: usize, alphabet: u32) -> Vec<Symbol> {
        (0..len).map(|_| rng.random_range(0..alphabet)).collect()
    }

    /// A hypothesis made from the reference by random edits (realistic OCR-like pairs).
    fn mutate(rng: &mut ChaCha8Rng, a: &[Symbol], rate: f64, alphabet: u32) -> Vec<Symbol> {
        let mut out = Vec::new();
        for &s in a {
            let r: f64 = rng.random();
            if r < rate / 3.0 {
                continue;
            } else if r < 2.0 * rate / 3.0 {
                out.push(rng.random_range(0..alphabet));
            } else if r < rate {
                out.push(s);
                out.push(rng.random_range(0..alphabet));
            } else {
                out.push(s);
            }
        }
        out
    }

    fn check(a: &[Symbol], b: &[Symbol], budget: usize) {
        let expected = dp_distance(a, b);
        assert_eq!(distance(a, b), expected, "distance a={a:?} b={b:?}");
        let al = align_with_budget(a, b, budget);
        replay(&al, a, b);
        let c = al.counts();
        assert_eq!(c.edits(), expected, "alignment cost a={a:?} b={b:?}");
        assert_eq!(c.hits + c.substitutions + c.deletions, a.len());
        assert_eq!(c.hits + c.substitutions + c.insertions, b.len());
    }

    #[test]
    fn matches_dp_on_random_sequences() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..1500 {
            let alphabet = [2u32, 4, 30, 5000][round % 4];
            let la = rng.random_range(0..=300);
            let lb = rng.random_range(0..=300);
            let a = random_seq(&mut rng, la, alphabet);
            let b = if round % 3 == 0 {
                random_seq(&mut rng, lb, alphabet)
            } else {
                mutate(&mut rng, &a, 0.15, alphabet)
            };
            check(&a, &b, DEFAULT_TRACE_BUDGET_WORDS);
        }
    }

    #[test]
    fn block_boundaries_and_short_sequences() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for &la in &[0usize, 1, 2, 63, 64, 65, 127, 128, 129, 192] {
            for &lb in &[0usize, 1, 63, 64, 65, 130] {
                for alphabet in [2u32, 50] {
                    let a = random_seq(&mut rng, la, alphabet);
                    let b = random_seq(&mut rng, lb, alphabet);
                    check(&a, &b, DEFAULT_TRACE_BUDGET_WORDS);
                }
            }
        }
    }

    #[test]
    fn hirschberg_split_matches_dp() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for round in 0..300 {
            let alphabet = [3u32, 40][round % 2];
            let la = rng.random_range(0..=300);
            let a = random_seq(&mut rng, la, alphabet);
            let b = mutate(&mut rng, &a, 0.3, alphabet);
            // Tiny budgets force several levels of splitting.
            check(&a, &b, [1, 8, 64][round % 3]);
        }
    }

    #[test]
    fn distances_from_equals_distance_for_each_hypothesis() {
        // Short (one word) and long references, empty sides, every alphabet size.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for round in 0..200 {
            let alphabet = [2u32, 6, 300][round % 3];
            let la = [0, 1, 63, 64, 65, 200][round % 6].min(rng.random_range(0..=200));
            let a = random_seq(&mut rng, la, alphabet);
            let bs: Vec<Vec<Symbol>> = (0..5)
                .map(|i| match i {
                    0 => Vec::new(),
                    1 => a.clone(),
                    _ => mutate(&mut rng, &a, [0.05, 0.3, 0.9][i % 3], alphabet),
                })
                .collect();
            let got = distances_from(&a, bs.iter().map(Vec::as_slice));
            let want: Vec<usize> = bs.iter().map(|b| dp_distance(&a, b)).collect();
            assert_eq!(got, want, "round {round}, |a| = {}", a.len());
        }
    }

    #[test]
    fn banded_pass_is_exact_whenever_it_answers() {
        // For every threshold: `Some(d)` only with d = D, and always `Some` when k ≥ D.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for round in 0..300 {
            let alphabet = [2u32, 6, 300][round % 3];
            let la = rng.random_range(1..=260);
            let a = random_seq(&mut rng, la, alphabet);
            let b = mutate(&mut rng, &a, [0.05, 0.3, 0.9][round % 3], alphabet);
            if b.is_empty() {
                continue;
            }
            let exact = dp_distance(&a, &b);
            let peq = Peq::new(&a);
            for k in [0, 1, 2, 5, 17, 64, 65, 130, 600] {
                let k = k.max(a.len().abs_diff(b.len()));
                match banded_pass(&peq, &peq.offsets(&b), k, None) {
                    Some(d) => assert_eq!(d, exact, "k={k}"),
                    None => assert!(k < exact, "k={k} ≥ D={exact} must answer"),
                }
            }
        }
    }

    #[test]
    fn long_documents_with_few_errors() {
        // Long enough for the band to drop blocks at the top and add them at the bottom.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for round in 0..12 {
            let alphabet = [4u32, 1000][round % 2];
            let la = rng.random_range(500..=3000);
            let a = random_seq(&mut rng, la, alphabet);
            let b = mutate(&mut rng, &a, [0.01, 0.05, 0.2][round % 3], alphabet);
            check(&a, &b, DEFAULT_TRACE_BUDGET_WORDS);
            check(&a, &b, 256);
        }
    }

    #[test]
    fn known_values() {
        let s = |t: &str| t.chars().map(|c| c as u32).collect::<Vec<_>>();
        assert_eq!(distance(&s("kitten"), &s("sitting")), 3);
        assert_eq!(distance(&s(""), &s("abc")), 3);
        assert_eq!(distance(&s("abc"), &s("")), 3);
        assert_eq!(distance(&s("flaw"), &s("lawn")), 2);
        let al = align(&s("abc"), &s("abc"));
        assert_eq!(al.counts().hits, 3);
        let al = align(&s("ab"), &s("xaby"));
        assert_eq!(al.counts().insertions, 2);
        assert_eq!(al.ops[0].kind, OpKind::Ins);
        assert_eq!(al.ops[3].kind, OpKind::Ins);
    }
}
