//! The lines of a generated document and the style they are printed in: what the content
//! generators write and the layout places on pages.

use super::dates::DateFormat;
use super::fonts::FontFamily;

/// What a line is; decides its font, size, alignment and rules in the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// The document name, large and centred (`처 방 전`).
    Title,
    /// Small print: form numbers, issue numbers, notes. Cells go left / centre / right.
    Meta,
    /// A section heading, bold.
    Heading,
    /// A form row of label/value cells in a ruled grid (labels shaded).
    Field,
    /// A table's header row (shaded, repeated on continuation pages).
    TableHeader,
    /// A table row; consecutive header/rows form one table with shared columns.
    TableRow,
    /// Prose, wrapped to the text width by the layout.
    Body,
    /// Prose in the handwriting-like face (의무기록 notes), wrapped like `Body`.
    Handwritten,
    /// Right-aligned cells: signatures, issue dates.
    Signature,
    /// Repeated at the top of continuation pages (added by the layout).
    PageHeader,
    /// Page number at the bottom (added by the layout).
    PageFooter,
}

/// One line: before layout a logical block (a prose block is one long cell), after layout
/// one visual line.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthLine {
    pub kind: LineKind,
    pub cells: Vec<String>,
}

impl SynthLine {
    pub fn new(kind: LineKind, cells: Vec<String>) -> SynthLine {
        SynthLine { kind, cells }
    }

    /// The ground-truth text of this line: non-empty cells joined by one space.
    pub fn text(&self) -> String {
        let cells: Vec<&str> = self
            .cells
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        cells.join(" ")
    }
}

/// How tables are ruled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRules {
    /// Every cell boxed, like a printed form.
    Grid,
    /// Horizontal rules only: above and below the header, and below the last row.
    Horizontal,
}

/// How pages are numbered at the bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageNumbers {
    /// `- 1 -`
    Dashes,
    /// `1 / 3`
    OfTotal,
    /// `1쪽`
    Korean,
}

impl PageNumbers {
    pub fn format(self, page: usize, total: usize) -> String {
        match self {
            PageNumbers::Dashes => format!("- {page} -"),
            PageNumbers::OfTotal => format!("{page} / {total}"),
            PageNumbers::Korean => format!("{page}쪽"),
        }
    }
}

/// The look of one document, drawn from its seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    pub family: FontFamily,
    /// Body text size in points (9.5–11.5).
    pub body_size: f32,
    /// Line height as a multiple of the font size (prose).
    pub leading: f32,
    /// Left and right margin, points.
    pub margin_x: f32,
    pub margin_top: f32,
    pub margin_bottom: f32,
    pub table_rules: TableRules,
    /// The main printed date style (forms sometimes print the issue date as `2024년 3월 5일`).
    pub date_format: DateFormat,
    pub page_numbers: Option<PageNumbers>,
    /// Printed at the top of every page after the first.
    pub running_header: Option<String>,
}
