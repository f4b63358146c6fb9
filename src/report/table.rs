//! The one table model of every report: a header, an alignment per column and rows of
//! cells, rendered to the console (padded columns), Markdown (a GFM table) and HTML. Each
//! format quotes text with its escaper ([`super::escape`]); numbers are right-aligned.

use super::escape;
use std::fmt::Write;

/// How a column lines up (Markdown `---` / `---:`, HTML `class="num"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Plain text, escaped for each format.
    Text(String),
    /// An identifier shown as code (Markdown backticks, HTML `<code>`).
    Code(String),
    /// Markup already made for the target format by the caller (escaped there).
    Raw(String),
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl Cell {
    /// An identifier shown as code.
    pub fn code(s: impl Into<String>) -> Cell {
        Cell::Code(s.into())
    }

    /// The text a console shows.
    fn plain(&self) -> &str {
        match self {
            Cell::Text(s) | Cell::Code(s) | Cell::Raw(s) => s,
        }
    }

    fn markdown(&self) -> String {
        match self {
            Cell::Text(s) => escape::markdown(s),
            Cell::Code(s) => format!("`{}`", escape::markdown_code(s)),
            Cell::Raw(s) => s.clone(),
        }
    }

    fn html(&self) -> String {
        match self {
            Cell::Text(s) => escape::html(s),
            Cell::Code(s) => format!("<code>{}</code>", escape::html(s)),
            Cell::Raw(s) => s.clone(),
        }
    }
}

/// A table: column names with their alignment, then rows of as many cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table of `columns` (name, alignment) and no rows yet.
    pub fn new<'a>(columns: impl IntoIterator<Item = (&'a str, Align)>) -> Table {
        let (header, align) = columns
            .into_iter()
            .map(|(name, a)| (name.to_string(), a))
            .unzip();
        Table {
            header,
            align,
            rows: Vec::new(),
        }
    }

    /// A table whose columns are all left-aligned.
    pub fn left<'a>(names: impl IntoIterator<Item = &'a str>) -> Table {
        Table::new(names.into_iter().map(|n| (n, Align::Left)))
    }

    /// Adds a row; it must have a cell per column.
    pub fn row<C: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = C>) {
        let row: Vec<Cell> = cells.into_iter().map(Into::into).collect();
        debug_assert_eq!(row.len(), self.header.len(), "one cell per column");
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Padded columns two spaces apart, trailing blanks trimmed; with `rule`, a line of
    /// dashes under the header.
    pub fn console(&self, rule: bool) -> String {
        let lines: Vec<Vec<&str>> =
            std::iter::once(self.header.iter().map(String::as_str).collect())
                .chain(
                    self.rows
                        .iter()
                        .map(|r| r.iter().map(Cell::plain).collect()),
                )
                .collect();
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                lines
                    .iter()
                    .map(|l| l[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for (n, line) in lines.iter().enumerate() {
            let mut text = String::new();
            for (c, cell) in line.iter().enumerate() {
                let pad = " ".repeat(widths[c] - cell.chars().count());
                match self.align[c] {
                    Align::Left => text.push_str(&format!("{cell}{pad}  ")),
                    Align::Right => text.push_str(&format!("{pad}{cell}  ")),
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
            if rule && n == 0 {
                let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
                let _ = writeln!(out, "{}", "-".repeat(total));
            }
        }
        out
    }

    /// A GFM table, one line per row. A header of empty names (a key–value table) is
    /// written `| | |`.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if self.header.iter().all(String::is_empty) {
            out.push('|');
            out.push_str(&" |".repeat(self.header.len()));
            out.push('\n');
        } else {
            let names: Vec<String> = self.header.iter().map(|h| escape::markdown(h)).collect();
            let _ = writeln!(out, "| {} |", names.join(" | "));
        }
        let rule: Vec<&str> = self
            .align
            .iter()
            .map(|a| match a {
                Align::Left => "---",
                Align::Right => "---:",
            })
            .collect();
        let _ = writeln!(out, "|{}|", rule.join("|"));
        for r in &self.rows {
            let cells: Vec<String> = r.iter().map(Cell::markdown).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    /// An HTML `<table>`: a row of `<th>`, then the rows; right-aligned cells carry
    /// `class="num"`.
    pub fn html(&self) -> String {
        let mut out = String::from("<table><tr>");
        for h in &self.header {
            let _ = write!(out, "<th>{}</th>", escape::html(h));
        }
        out.push_str("</tr>");
        for r in &self.rows {
            out.push_str("<tr>");
            for (cell, a) in r.iter().zip(&self.align) {
                let class = match a {
                    Align::Left => "",
                    Align::Right => r#" class="num""#,
                };
                let _ = write!(out, "<td{class}>{}</td>", cell.html());
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Align::{Left, Right};

    fn sample() -> Table {
        let mut t = Table::new([("type", Left), ("CER", Right), ("key", Left)]);
        t.row([
            Cell::from("a|b <x>"),
            Cell::from("1.00%"),
            Cell::code("k|1"),
        ]);
        t.row(["처방전", "12.50%", "—"]);
        t
    }

    #[test]
    fn console_pads_by_characters_and_aligns_numbers_right() {
        assert_eq!(
            sample().console(true),
            "type        CER  key\n\
             --------------------\n\
             a|b <x>   1.00%  k|1\n\
             처방전      12.50%  —\n"
        );
        assert!(!sample().console(false).contains("---"));
    }

    #[test]
    fn markdown_escapes_every_cell() {
        assert_eq!(
            sample().markdown(),
            "| type | CER | key |\n|---|---:|---|\n| a\\|b <x> | 1.00% | `k\\|1` |\n| 처방전 | 12.50% | — |\n"
        );
        let kv = Table::left(["", ""]);
        assert_eq!(kv.markdown(), "| | |\n|---|---|\n");
    }

    #[test]
    fn html_escapes_and_marks_numbers() {
        let h = sample().html();
        assert!(h.starts_with("<table><tr><th>type</th><th>CER</th><th>key</th></tr>"));
        assert!(h.contains(
            r#"<td>a|b &lt;x&gt;</td><td class="num">1.00%</td><td><code>k|1</code></td>"#
        ));
        assert!(h.ends_with("</tr></table>"));
    }
}
