//! Table metrics (docs/metrics.md, "Tables"): when an answer holds tables (Markdown or
//! HTML, `markup`), each reference table of the manifest's `tables` is paired with one of
//! them and scored two ways:
//!
//! - **TEDS** (tree-edit-distance similarity, Zhong et al., PubTabNet; as OmniDocBench):
//!   a table is the tree `table → tr → td`, a cell node carrying its text and spans.
//!   TEDS = 1 − TED / max(|T_ref|, |T_hyp|) with |T| the node count, insertions and
//!   deletions costing 1, and renaming a cell costing 1 when the spans differ, else the
//!   normalised edit distance of the two cells' N1 texts (graphemes). Rows and the table
//!   node rename for free. Header cells are cells: references from the generators do not
//!   mark them.
//! - **cell accuracy**: the share of non-empty reference cells whose N1 text equals the
//!   answer's cell at the same row and column (spans expanded onto the grid).
//!
//! Tables are paired at maximum total TEDS (Kuhn–Munkres); an unpaired reference table
//! scores 0 on both. TED is Zhang–Shasha's algorithm, O(n² m²) in the worst case, well
//! within budget for document tables (a 40 × 6 table is under 300 nodes). No maintained
//! crate computes the general ordered tree edit distance with a custom rename cost:
//! `tree-edit-distance` solves a top-down restricted variant, `apted` is a 0.1 port.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;
use serde::{Deserialize, Serialize};

use super::distance::distance;
use super::markup::{Cell, Table};
use super::normalize::{normalize, NormOptions};
use super::text::{grapheme_symbols, graphemes, Interner};

/// Largest table (nodes) scored; bigger answers (a runaway table) get TEDS 0.
pub const MAX_NODES: usize = 2_000;

/// Table scores of one document (or a sum).
#[derive(schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TableScore {
    /// Reference tables, and tables in the answer.
    pub reference_tables: usize,
    pub answer_tables: usize,
    /// Σ TEDS over reference tables (unpaired ones add 0).
    pub teds_sum: f64,
    /// Non-empty reference cells, and those read right at their row and column.
    pub cells: usize,
    pub cells_correct: usize,
    /// `teds_sum / reference_tables`.
    pub teds: Option<f64>,
    /// `cells_correct / cells`.
    pub cell_accuracy: Option<f64>,
}

impl TableScore {
    fn finish(mut self) -> TableScore {
        self.teds =
            (self.reference_tables > 0).then(|| self.teds_sum / self.reference_tables as f64);
        self.cell_accuracy =
            (self.cells > 0).then(|| self.cells_correct as f64 / self.cells as f64);
        self
    }

    /// Corpus figures: mean TEDS over all reference tables, cell accuracy over all cells.
    pub fn sum(scores: &[TableScore]) -> TableScore {
        let mut t = TableScore::default();
        for s in scores {
            t.reference_tables += s.reference_tables;
            t.answer_tables += s.answer_tables;
            t.teds_sum += s.teds_sum;
            t.cells += s.cells;
            t.cells_correct += s.cells_correct;
        }
        t.finish()
    }
}

/// Scores the answer's tables against the reference's; `None` when either side has none
/// (a plain-text answer has no table to score).
pub fn table_score(
    reference: &[Vec<Vec<String>>],
    answer: &[Table],
    opts: &NormOptions,
) -> Option<TableScore> {
    if reference.is_empty() || answer.is_empty() {
        return None;
    }
    let refs: Vec<Table> = reference
        .iter()
        .map(|rows| Table {
            rows: rows
                .iter()
                .map(|r| r.iter().map(|c| Cell::new(c.as_str())).collect())
                .collect(),
        })
        .collect();
    let (n, m) = (refs.len(), answer.len());
    // TEDS of every pair, scaled to integers for the assignment.
    let mut teds = vec![vec![0.0; m]; n];
    for (i, r) in refs.iter().enumerate() {
        for (j, a) in answer.iter().enumerate() {
            teds[i][j] = teds_of(r, a, opts);
        }
    }
    let size = n.max(m);
    let mut weights = Matrix::new(size, size, 0i64);
    for i in 0..n {
        for j in 0..m {
            weights[(i, j)] = (teds[i][j] * 1e9).round() as i64;
        }
    }
    let (_, assignment) = kuhn_munkres(&weights);
    let mut score = TableScore {
        reference_tables: n,
        answer_tables: m,
        ..TableScore::default()
    };
    for (i, r) in refs.iter().enumerate() {
        let cells = grid(r);
        score.cells += cells
            .iter()
            .flatten()
            .flatten()
            .filter(|c| !c.is_empty())
            .count();
        let j = assignment[i];
        if j >= m {
            continue;
        }
        score.teds_sum += teds[i][j];
        let theirs = grid(&answer[j]);
        for (y, row) in cells.iter().enumerate() {
            for (x, c) in row.iter().enumerate() {
                // An empty cell has nothing to read: it counts in TEDS (structure), not here.
                let Some(c) = c.as_ref().filter(|c| !c.is_empty()) else {
                    continue;
                };
                let same = theirs
                    .get(y)
                    .and_then(|r| r.get(x))
                    .and_then(|t| t.as_ref())
                    .is_some_and(|t| normalize(t, opts) == normalize(c, opts));
                score.cells_correct += usize::from(same);
            }
        }
    }
    Some(score.finish())
}

/// The table's cells on a row × column grid: a spanned cell's text at its top-left
/// position, `None` at the positions it covers and at holes.
fn grid(t: &Table) -> Vec<Vec<Option<String>>> {
    let mut g: Vec<Vec<Option<String>>> = Vec::new();
    let mut taken: Vec<Vec<bool>> = Vec::new();
    for (y, row) in t.rows.iter().enumerate() {
        let mut x = 0;
        for c in row {
            while taken
                .get(y)
                .and_then(|r| r.get(x))
                .copied()
                .unwrap_or(false)
            {
                x += 1;
            }
            for dy in 0..c.rowspan.max(1) {
                for dx in 0..c.colspan.max(1) {
                    let (yy, xx) = (y + dy, x + dx);
                    if taken.len() <= yy {
                        taken.resize(yy + 1, Vec::new());
                        g.resize(yy + 1, Vec::new());
                    }
                    if taken[yy].len() <= xx {
                        taken[yy].resize(xx + 1, false);
                        g[yy].resize(xx + 1, None);
                    }
                    taken[yy][xx] = true;
                }
            }
            g[y][x] = Some(c.text.clone());
            x += c.colspan.max(1);
        }
    }
    g
}

/// A node of a table tree in postorder.
struct Node {
    /// 0 = table, 1 = row, 2 = cell.
    kind: u8,
    /// Cell text as grapheme symbols, and spans.
    text: Vec<u32>,
    spans: (usize, usize),
    /// Postorder index of the leftmost leaf of this node's subtree.
    leftmost: usize,
}

/// The postorder nodes of `table → tr → td` (cells interned in `interner`).
fn tree<'a>(t: &'a Table, texts: &'a [String], interner: &mut Interner<'a>) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut k = 0;
    for row in &t.rows {
        let first = nodes.len();
        for c in row {
            let text = grapheme_symbols(&graphemes(&texts[k]), interner);
            k += 1;
            let i = nodes.len();
            nodes.push(Node {
                kind: 2,
                text,
                spans: (c.rowspan.max(1), c.colspan.max(1)),
                leftmost: i,
            });
        }
        let i = nodes.len();
        nodes.push(Node {
            kind: 1,
            text: Vec::new(),
            spans: (1, 1),
            leftmost: if row.is_empty() { i } else { first },
        });
    }
    nodes.push(Node {
        kind: 0,
        text: Vec::new(),
        spans: (1, 1),
        leftmost: 0,
    });
    nodes
}

/// TEDS of two tables.
fn teds_of(a: &Table, b: &Table, opts: &NormOptions) -> f64 {
    let texts = |t: &Table| -> Vec<String> {
        t.rows
            .iter()
            .flatten()
            .map(|c| normalize(&c.text, opts))
            .collect()
    };
    let (ta, tb) = (texts(a), texts(b));
    let mut interner = Interner::default();
    let na = tree(a, &ta, &mut interner);
    let nb = tree(b, &tb, &mut interner);
    let size = na.len().max(nb.len());
    if na.len() > MAX_NODES || nb.len() > MAX_NODES {
        return 0.0;
    }
    1.0 - zhang_shasha(&na, &nb) / size as f64
}

fn rename(a: &Node, b: &Node) -> f64 {
    match (a.kind, b.kind) {
        (2, 2) if a.spans != b.spans => 1.0,
        (2, 2) => {
            let longest = a.text.len().max(b.text.len());
            if longest == 0 {
                0.0
            } else {
                distance(&a.text, &b.text) as f64 / longest as f64
            }
        }
        (x, y) if x == y => 0.0,
        _ => 1.0,
    }
}

/// Zhang–Shasha ordered tree edit distance (insert and delete cost 1).
fn zhang_shasha(a: &[Node], b: &[Node]) -> f64 {
    let keyroots = |t: &[Node]| -> Vec<usize> {
        // A keyroot is the highest node with its leftmost leaf: the last in postorder.
        let mut last = std::collections::HashMap::new();
        for (i, n) in t.iter().enumerate() {
            last.insert(n.leftmost, i);
        }
        let mut k: Vec<usize> = last.into_values().collect();
        k.sort_unstable();
        k
    };
    let (n, m) = (a.len(), b.len());
    let mut td = vec![vec![0.0f64; m]; n];
    let mut fd = vec![vec![0.0f64; m + 1]; n + 1];
    for &i in &keyroots(a) {
        for &j in &keyroots(b) {
            let (li, lj) = (a[i].leftmost, b[j].leftmost);
            // Forest distances over a[li..=i] × b[lj..=j], offset by one.
            fd[0][0] = 0.0;
            for x in li..=i {
                fd[x - li + 1][0] = fd[x - li][0] + 1.0;
            }
            for y in lj..=j {
                fd[0][y - lj + 1] = fd[0][y - lj] + 1.0;
            }
            for x in li..=i {
                for y in lj..=j {
                    let (fx, fy) = (x - li + 1, y - lj + 1);
                    let del = fd[fx - 1][fy] + 1.0;
                    let ins = fd[fx][fy - 1] + 1.0;
                    if a[x].leftmost == li && b[y].leftmost == lj {
                        let ren = fd[fx - 1][fy - 1] + rename(&a[x], &b[y]);
                        fd[fx][fy] = del.min(ins).min(ren);
                        td[x][y] = fd[fx][fy];
                    } else {
                        let (px, py) = (a[x].leftmost - li, b[y].leftmost - lj);
                        fd[fx][fy] = del.min(ins).min(fd[px][py] + td[x][y]);
                    }
                }
            }
        }
    }
    td[n - 1][m - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::markup::{canonicalize, OutputFormat};

    fn rows(t: &[&[&str]]) -> Vec<Vec<String>> {
        t.iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    fn md_tables(md: &str) -> Vec<Table> {
        canonicalize(md, OutputFormat::Markdown).tables
    }

    #[test]
    fn identical_tables_score_one() {
        let reference = vec![rows(&[&["검사", "결과"], &["AST", "30"], &["ALT", "25"]])];
        let answer = md_tables("| 검사 | 결과 |\n|---|---|\n| AST | 30 |\n| ALT | 25 |");
        let s = table_score(&reference, &answer, &NormOptions::default()).unwrap();
        assert_eq!(s.teds, Some(1.0));
        assert_eq!((s.cells_correct, s.cells), (6, 6));
    }

    #[test]
    fn one_wrong_cell_and_one_missing_row() {
        let reference = vec![rows(&[&["검사", "결과"], &["AST", "30"], &["ALT", "25"]])];
        // "30" read as "38": rename cost 1/2 over 10 nodes (table, 3 rows, 6 cells).
        let answer = md_tables("| 검사 | 결과 |\n|---|---|\n| AST | 38 |\n| ALT | 25 |");
        let s = table_score(&reference, &answer, &NormOptions::default()).unwrap();
        assert!(
            (s.teds.unwrap() - (1.0 - 0.5 / 10.0)).abs() < 1e-12,
            "{s:?}"
        );
        assert_eq!(s.cells_correct, 5);
        // The ALT row missing: 3 nodes deleted of 10.
        let answer = md_tables("| 검사 | 결과 |\n|---|---|\n| AST | 30 |");
        let s = table_score(&reference, &answer, &NormOptions::default()).unwrap();
        assert!((s.teds.unwrap() - 0.7).abs() < 1e-12, "{s:?}");
        assert_eq!(s.cells_correct, 4);
    }

    #[test]
    fn spans_shift_the_grid_and_cost_a_rename() {
        let reference = vec![rows(&[&["성명", "홍길동", "나이"], &["a", "b", "c"]])];
        let html = "<table><tr><td colspan=2>성명 홍길동</td><td>나이</td></tr><tr><td>a</td><td>b</td><td>c</td></tr></table>";
        let answer = canonicalize(html, OutputFormat::Html).tables;
        let s = table_score(&reference, &answer, &NormOptions::default()).unwrap();
        // Second row right; first row: 나이 lands at column 2 as in the reference.
        assert_eq!((s.cells_correct, s.cells), (4, 6));
        assert!(s.teds.unwrap() < 1.0 && s.teds.unwrap() > 0.6, "{s:?}");
    }

    #[test]
    fn tables_pair_at_best_similarity_and_unpaired_ones_score_zero() {
        let reference = vec![
            rows(&[&["a", "b"], &["1", "2"]]),
            rows(&[&["x", "y"], &["8", "9"]]),
        ];
        let answer = md_tables("| x | y |\n|---|---|\n| 8 | 9 |");
        let s = table_score(&reference, &answer, &NormOptions::default()).unwrap();
        assert_eq!((s.reference_tables, s.answer_tables), (2, 1));
        assert!((s.teds.unwrap() - 0.5).abs() < 1e-12, "{s:?}");
        assert_eq!((s.cells_correct, s.cells), (4, 8));
        assert!(table_score(&reference, &[], &NormOptions::default()).is_none());
        assert!(table_score(&[], &answer, &NormOptions::default()).is_none());
    }

    #[test]
    fn zhang_shasha_matches_a_hand_count() {
        // Two rows swapped: delete a row subtree (3 nodes) and insert it again = 6, or
        // rename 4 cells = 4 (texts of one character: cost 1 each).
        let reference = vec![rows(&[&["a", "b"], &["c", "d"]])];
        let answer = md_tables("| c | d |\n|---|---|\n| a | b |");
        let s = table_score(&reference, &answer, &NormOptions::default()).unwrap();
        assert!((s.teds.unwrap() - (1.0 - 4.0 / 7.0)).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn sums_are_over_tables_and_cells() {
        let a = TableScore {
            reference_tables: 1,
            teds_sum: 1.0,
            cells: 4,
            cells_correct: 4,
            ..TableScore::default()
        };
        let b = TableScore {
            reference_tables: 3,
            teds_sum: 1.0,
            cells: 6,
            cells_correct: 0,
            ..TableScore::default()
        };
        let t = TableScore::sum(&[a, b]);
        assert_eq!(t.teds, Some(0.5));
        assert_eq!(t.cell_accuracy, Some(0.4));
    }
}
