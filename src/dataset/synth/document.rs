//! A generated document: its logical content, its layout on A4 pages, and the ground
//! truth (text and fields) built from that layout.

use super::layout::Page;
use super::lines::{LineKind, Style, SynthLine};
use crate::dataset::{DocType, Fields};

/// A generated document with its exact ground truth.
#[derive(Debug, Clone)]
pub struct SynthDocument {
    pub doc_type: DocType,
    /// The seed it was generated from (`document(doc_type, seed)` gives it back).
    pub seed: u64,
    /// The document's name as printed (`처방전`, …).
    pub title: String,
    pub style: Style,
    /// Logical content before layout (prose not yet wrapped).
    pub blocks: Vec<SynthLine>,
    /// Where everything goes on the A4 pages.
    pub pages: Vec<Page>,
    /// Visual lines in reading order, page after page: what an OCR model should read.
    pub lines: Vec<SynthLine>,
    /// Ground truth: `lines`' texts joined by `\n`.
    pub text: String,
    pub fields: Fields,
}

impl SynthDocument {
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// The data tables as printed: each run of table header and row lines, split where a
    /// page breaks it; rows of trimmed cells (empty cells kept, so columns line up).
    pub fn tables(&self) -> Vec<Vec<Vec<String>>> {
        let mut tables: Vec<Vec<Vec<String>>> = Vec::new();
        let mut current: Vec<Vec<String>> = Vec::new();
        for line in &self.lines {
            if matches!(line.kind, LineKind::TableHeader | LineKind::TableRow) {
                current.push(line.cells.iter().map(|c| c.trim().to_string()).collect());
            } else if !current.is_empty() {
                tables.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            tables.push(current);
        }
        tables
    }
}
