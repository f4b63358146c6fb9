//! Lays a document's logical lines out on A4 pages: wraps prose, sizes table columns,
//! breaks pages, and places every text run and ruled line.
//!
//! Layout measures text with the width tables in `widths.rs`, not the font files, so
//! that `document()` is cheap, infallible and gives the same lines on every machine. The
//! tables hold each family's widest advances, so real text is never wider than measured;
//! should an installed font differ, the PDF writer squeezes the run horizontally instead
//! of re-wrapping, so the visual lines (and with them the ground truth) never change.

use super::lines::{LineKind, Style, SynthLine, TableRules};
use super::widths::Widths;

/// A4 in PDF points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;

/// Which face of the document's family a run is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    Regular,
    Bold,
    /// The handwriting-like face (falls back to `Regular` for chars it lacks).
    Hand,
}

/// Which point of the run `x` refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Left,
    Center,
    Right,
}

/// One run of text at a position. Coordinates are points from the page's top-left.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedText {
    pub text: String,
    pub x: f32,
    pub baseline: f32,
    pub size: f32,
    pub face: Face,
    pub anchor: Anchor,
    /// The run must not be wider than this (the PDF squeezes it if the font is wider).
    pub max_width: f32,
    /// Extra space after every glyph, in points (letter-spaced titles such as `처 방 전`).
    pub tracking: f32,
}

/// A straight ruled line (table and form borders).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    pub width: f32,
}

/// A filled grey rectangle (shaded form labels and table headers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shade {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    /// 0 = black, 1 = white.
    pub gray: f32,
}

/// One visual line and the runs that print it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedLine {
    pub line: SynthLine,
    pub items: Vec<PlacedText>,
}

/// One A4 page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub lines: Vec<PlacedLine>,
    pub rules: Vec<Rule>,
    pub shades: Vec<Shade>,
}

/// Width of `text` at `size` points, measured with `widths`.
pub fn text_width(text: &str, size: f32, widths: &Widths) -> f32 {
    text.chars().map(|c| widths.em(c)).sum::<f32>() * size
}

/// Greedy word wrap (Korean breaks between 어절, i.e. at spaces); a word longer than the
/// line is broken between characters.
pub fn wrap(text: &str, width: f32, size: f32, widths: &Widths) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if text_width(&candidate, size, widths) <= width {
            cur = candidate;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        for c in word.chars() {
            if !cur.is_empty() && text_width(&cur, size, widths) + widths.em(c) * size > width {
                lines.push(std::mem::take(&mut cur));
            }
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// One cell's horizontal slot in a row.
#[derive(Debug, Clone, Copy)]
struct Slot {
    x: f32,
    anchor: Anchor,
    max_width: f32,
}

/// A boxed cell (forms and tables): its span and whether it is shaded.
#[derive(Debug, Clone, Copy)]
struct CellBox {
    x0: f32,
    x1: f32,
    shaded: bool,
}

/// A visual line ready to be placed: everything but its vertical position.
#[derive(Debug, Clone)]
struct Row {
    line: SynthLine,
    size: f32,
    face: Face,
    height: f32,
    space_before: f32,
    slots: Vec<Slot>,
    /// Forms and tables: the ruled cell boxes and which group (form/table) the row is in.
    boxes: Option<(usize, Vec<CellBox>)>,
    /// A heading or table header must not be the last line on a page.
    keep_with_next: bool,
    /// Extra space after every glyph, points.
    tracking: f32,
}

/// Per-kind sizes derived from the style.
struct Metrics {
    body: f32,
    /// Prose line height as a multiple of the size.
    leading: f32,
    /// The family's advance widths.
    widths: &'static Widths,
    left: f32,
    width: f32,
}

impl Metrics {
    fn new(style: &Style) -> Metrics {
        Metrics {
            body: style.body_size,
            leading: style.leading,
            widths: Widths::of(style.family),
            left: style.margin_x,
            width: PAGE_WIDTH - 2.0 * style.margin_x,
        }
    }
    fn right(&self) -> f32 {
        self.left + self.width
    }
    fn small(&self) -> f32 {
        (self.body - 1.0).max(9.0)
    }
    fn table(&self) -> f32 {
        (self.body - 0.5).max(9.0)
    }
    fn hand(&self) -> f32 {
        self.body + 3.5
    }
}

/// Lays out `blocks` on as many A4 pages as they need.
pub fn layout(blocks: &[SynthLine], style: &Style) -> Vec<Page> {
    let m = Metrics::new(style);
    let rows = build_rows(blocks, &m);
    let mut pages = paginate(rows, style, &m);
    add_page_furniture(&mut pages, style, &m);
    pages
}

/// Turns logical blocks into visual rows: wraps prose, sizes tables and forms.
fn build_rows(blocks: &[SynthLine], m: &Metrics) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut group = 0usize;
    let mut i = 0;
    let mut prev_kind: Option<LineKind> = None;
    while i < blocks.len() {
        let kind = blocks[i].kind;
        // A run of consecutive boxed lines forms one group with shared columns.
        let is_table = matches!(kind, LineKind::TableHeader | LineKind::TableRow);
        if is_table || kind == LineKind::Field {
            let end = (i..blocks.len())
                .find(|&j| {
                    let k = blocks[j].kind;
                    if is_table {
                        // A header after rows starts a new table.
                        !(k == LineKind::TableRow || (k == LineKind::TableHeader && j == i))
                    } else {
                        k != LineKind::Field
                    }
                })
                .unwrap_or(blocks.len());
            let gap = if prev_kind.is_some() {
                m.body * 0.7
            } else {
                0.0
            };
            let mut group_rows = if is_table {
                table_rows(&blocks[i..end], group, m)
            } else {
                form_rows(&blocks[i..end], group, m)
            };
            group_rows[0].space_before = gap;
            rows.extend(group_rows);
            group += 1;
            prev_kind = Some(kind);
            i = end;
            continue;
        }
        let after_group = matches!(
            prev_kind,
            Some(LineKind::Field | LineKind::TableHeader | LineKind::TableRow)
        );
        let line = &blocks[i];
        let mut new_rows = text_rows(line, m);
        if let Some(first) = new_rows.first_mut() {
            if after_group {
                first.space_before = first.space_before.max(m.body * 0.7);
            }
        }
        rows.extend(new_rows);
        prev_kind = Some(kind);
        i += 1;
    }
    rows
}

fn text_row(
    kind: LineKind,
    cells: Vec<String>,
    size: f32,
    face: Face,
    height: f32,
    slots: Vec<Slot>,
) -> Row {
    Row {
        line: SynthLine::new(kind, cells),
        size,
        face,
        height,
        space_before: 0.0,
        slots,
        boxes: None,
        keep_with_next: false,
        tracking: 0.0,
    }
}

/// Rows for a non-boxed line (titles, headings, prose, signatures).
fn text_rows(line: &SynthLine, m: &Metrics) -> Vec<Row> {
    match line.kind {
        LineKind::Title => vec![title_row(line, m)],
        LineKind::Heading => vec![heading_row(line, m)],
        LineKind::Body | LineKind::Handwritten => prose_rows(line, m),
        LineKind::Meta | LineKind::PageHeader | LineKind::PageFooter => {
            let size = m.small();
            let slots = spread_slots(line.cells.len(), m);
            vec![text_row(
                line.kind,
                line.cells.clone(),
                size,
                Face::Regular,
                size * 1.6,
                slots,
            )]
        }
        LineKind::Signature => vec![signature_row(line, m)],
        // Boxed kinds are handled by table_rows / form_rows.
        LineKind::Field | LineKind::TableHeader | LineKind::TableRow => Vec::new(),
    }
}

/// A slot as wide as the text area.
fn full_slot(anchor: Anchor, x: f32, m: &Metrics) -> Slot {
    Slot {
        x,
        anchor,
        max_width: m.width,
    }
}

/// The big title, centred and kept with the next line.
fn title_row(line: &SynthLine, m: &Metrics) -> Row {
    let size = m.body * 1.75;
    let mut r = text_row(
        line.kind,
        line.cells.clone(),
        size,
        Face::Bold,
        size * 2.2,
        vec![full_slot(Anchor::Center, m.left + m.width / 2.0, m)],
    );
    r.keep_with_next = true;
    // Forms space the title's syllables out widely (`처 방 전`).
    if letter_spaced(&line.text()) {
        r.tracking = size * 0.35;
    }
    r
}

fn heading_row(line: &SynthLine, m: &Metrics) -> Row {
    let size = m.body + 1.0;
    let mut r = text_row(
        line.kind,
        line.cells.clone(),
        size,
        Face::Bold,
        size * 1.7,
        vec![full_slot(Anchor::Left, m.left, m)],
    );
    r.space_before = m.body * 0.8;
    r.keep_with_next = true;
    r
}

/// Body text or a hand-written note (indented, in the pen face), wrapped to the width.
fn prose_rows(line: &SynthLine, m: &Metrics) -> Vec<Row> {
    let (size, face, height, indent, widths) = if line.kind == LineKind::Body {
        (m.body, Face::Regular, m.body * m.leading, 0.0, m.widths)
    } else {
        (
            m.hand(),
            Face::Hand,
            m.hand() * 1.45,
            m.body,
            &super::widths::HAND,
        )
    };
    let text = line.text();
    wrap(&text, m.width - indent, size, widths)
        .into_iter()
        .map(|l| {
            text_row(
                line.kind,
                vec![l],
                size,
                face,
                height,
                vec![Slot {
                    x: m.left + indent,
                    anchor: Anchor::Left,
                    max_width: m.width - indent,
                }],
            )
        })
        .collect()
}

/// Signature cells, right-aligned, laid out from the right margin leftwards.
fn signature_row(line: &SynthLine, m: &Metrics) -> Row {
    let size = m.body;
    let gap = size * 1.5;
    let mut x = m.right();
    let mut slots = Vec::new();
    for cell in line.cells.iter().rev() {
        let w = text_width(cell, size, m.widths);
        slots.push(Slot {
            x,
            anchor: Anchor::Right,
            max_width: w.min(m.width),
        });
        x -= w + gap;
    }
    slots.reverse();
    let mut r = text_row(
        line.kind,
        line.cells.clone(),
        size,
        Face::Regular,
        size * 2.0,
        slots,
    );
    r.space_before = size * 0.4;
    r
}

/// Left / centre / right slots for 1–3 cells; more cells are spread evenly.
fn spread_slots(n: usize, m: &Metrics) -> Vec<Slot> {
    let slot = |x, anchor| Slot {
        x,
        anchor,
        max_width: m.width,
    };
    match n {
        0 | 1 => vec![slot(m.left, Anchor::Left)],
        2 => vec![slot(m.left, Anchor::Left), slot(m.right(), Anchor::Right)],
        3 => vec![
            slot(m.left, Anchor::Left),
            slot(m.left + m.width / 2.0, Anchor::Center),
            slot(m.right(), Anchor::Right),
        ],
        _ => (0..n)
            .map(|i| Slot {
                x: m.left + m.width * i as f32 / n as f32,
                anchor: Anchor::Left,
                max_width: m.width / n as f32,
            })
            .collect(),
    }
}

/// Rows of one table: columns as wide as their widest cell, spare width shared out.
fn table_rows(lines: &[SynthLine], group: usize, m: &Metrics) -> Vec<Row> {
    let n = lines
        .iter()
        .map(|l| l.cells.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut size = m.table();
    let natural = |size: f32| -> Vec<f32> {
        let pad = size * 0.7;
        (0..n)
            .map(|c| {
                lines
                    .iter()
                    .filter_map(|l| l.cells.get(c))
                    .map(|t| text_width(t, size, m.widths))
                    .fold(0.0, f32::max)
                    + 2.0 * pad
            })
            .collect()
    };
    let mut widths = natural(size);
    let total: f32 = widths.iter().sum();
    if total > m.width {
        // Shrink the table's font (not below 8 pt) before squeezing cells.
        size = (size * m.width / total).max(8.0);
        widths = natural(size);
    }
    let total: f32 = widths.iter().sum();
    let extra = (m.width - total).max(0.0) / n as f32;
    let scale = if total > m.width {
        m.width / total
    } else {
        1.0
    };
    let mut x = m.left;
    let mut spans = Vec::with_capacity(n);
    for w in &widths {
        let w = w * scale + extra;
        spans.push((x, x + w));
        x += w;
    }
    let pad = size * 0.7;
    lines
        .iter()
        .map(|l| {
            let header = l.kind == LineKind::TableHeader;
            let slots = spans
                .iter()
                .enumerate()
                .map(|(c, &(x0, x1))| {
                    let (x, anchor) = if c == 0 {
                        (x0 + pad, Anchor::Left)
                    } else {
                        ((x0 + x1) / 2.0, Anchor::Center)
                    };
                    Slot {
                        x,
                        anchor,
                        max_width: x1 - x0 - pad,
                    }
                })
                .collect();
            let boxes = spans
                .iter()
                .map(|&(x0, x1)| CellBox {
                    x0,
                    x1,
                    shaded: header,
                })
                .collect();
            Row {
                line: l.clone(),
                size,
                face: if header { Face::Bold } else { Face::Regular },
                height: size * 1.9,
                space_before: 0.0,
                slots,
                boxes: Some((group, boxes)),
                keep_with_next: header,
                tracking: 0.0,
            }
        })
        .collect()
}

/// Rows of one form: label/value pairs, labels as wide as the widest label in their column.
fn form_rows(lines: &[SynthLine], group: usize, m: &Metrics) -> Vec<Row> {
    let size = m.body;
    let pad = size * 0.6;
    lines
        .iter()
        .map(|l| {
            let n = l.cells.len().max(1);
            let pairs = n.div_ceil(2);
            let pair_w = m.width / pairs as f32;
            let mut slots = Vec::with_capacity(n);
            let mut boxes = Vec::with_capacity(n);
            for p in 0..pairs {
                let x0 = m.left + pair_w * p as f32;
                // Labels in the same column across rows of the same shape line up.
                let label_w = lines
                    .iter()
                    .filter(|o| o.cells.len() == l.cells.len())
                    .filter_map(|o| o.cells.get(2 * p))
                    .map(|t| text_width(t, size, m.widths))
                    .fold(0.0, f32::max)
                    + 2.0 * pad;
                let has_value = 2 * p + 1 < n;
                let label_w = if has_value {
                    label_w.min(pair_w * 0.5)
                } else {
                    pair_w
                };
                boxes.push(CellBox {
                    x0,
                    x1: x0 + label_w,
                    shaded: has_value || n > 1,
                });
                slots.push(Slot {
                    x: x0 + label_w / 2.0,
                    anchor: Anchor::Center,
                    max_width: label_w - pad,
                });
                if has_value {
                    boxes.push(CellBox {
                        x0: x0 + label_w,
                        x1: x0 + pair_w,
                        shaded: false,
                    });
                    slots.push(Slot {
                        x: x0 + label_w + pad,
                        anchor: Anchor::Left,
                        max_width: pair_w - label_w - 2.0 * pad,
                    });
                }
            }
            Row {
                line: l.clone(),
                size,
                face: Face::Regular,
                height: size * 2.1,
                space_before: 0.0,
                slots,
                boxes: Some((group, boxes)),
                keep_with_next: false,
                tracking: 0.0,
            }
        })
        .collect()
}

/// A placed boxed row, remembered to draw its group's rules once the page is known.
struct BoxedRow {
    group: usize,
    top: f32,
    bottom: f32,
    header: bool,
    boxes: Vec<CellBox>,
}

/// Places rows top to bottom, breaking pages; repeats a table's header on continuation pages.
fn paginate(rows: Vec<Row>, style: &Style, m: &Metrics) -> Vec<Page> {
    let top = style.margin_top;
    let bottom = PAGE_HEIGHT - style.margin_bottom;
    let mut pages = vec![Page::default()];
    let mut boxed: Vec<Vec<BoxedRow>> = vec![Vec::new()];
    let mut y = top;
    let mut last_header: Option<Row> = None;
    let mut i = 0;
    while i < rows.len() {
        let row = &rows[i];
        let at_top = y <= top + 0.01;
        let sb = if at_top { 0.0 } else { row.space_before };
        let mut need = sb + row.height;
        if row.keep_with_next {
            if let Some(next) = rows.get(i + 1) {
                need += next.space_before + next.height;
            }
        }
        if y + need > bottom && !at_top {
            pages.push(Page::default());
            boxed.push(Vec::new());
            y = top;
            // A table cut by the page break gets its header again.
            if row.line.kind == LineKind::TableRow {
                if let Some(h) = &last_header {
                    if h.boxes.as_ref().map(|b| b.0) == row.boxes.as_ref().map(|b| b.0) {
                        let h = h.clone();
                        place(&h, y, pages.last_mut().unwrap(), boxed.last_mut().unwrap());
                        y += h.height;
                    }
                }
            }
            continue;
        }
        y += sb;
        if row.line.kind == LineKind::TableHeader {
            last_header = Some(row.clone());
        }
        place(row, y, pages.last_mut().unwrap(), boxed.last_mut().unwrap());
        y += row.height;
        i += 1;
    }
    for (page, rows) in pages.iter_mut().zip(&boxed) {
        draw_rules(page, rows, style.table_rules, m);
    }
    pages
}

/// Whether every other char is a space (`처 방 전`, `- 1 -`, `1 / 2`). Text extractors
/// read evenly spaced glyphs as letter-spacing and drop the spaces unless the gaps are
/// wide, so such runs get tracking.
fn letter_spaced(text: &str) -> bool {
    let n = text.chars().count();
    n >= 3
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| (i % 2 == 1) == (c == ' '))
}

/// Puts one row's runs on the page at `top`.
fn place(row: &Row, top: f32, page: &mut Page, boxed: &mut Vec<BoxedRow>) {
    let baseline = top + row.height * 0.5 + row.size * 0.35;
    let items = row
        .line
        .cells
        .iter()
        .zip(&row.slots)
        .filter(|(t, _)| !t.trim().is_empty())
        .map(|(t, s)| PlacedText {
            text: t.trim().to_string(),
            x: s.x,
            baseline,
            size: row.size,
            face: row.face,
            anchor: s.anchor,
            max_width: s.max_width.max(1.0),
            tracking: if letter_spaced(t.trim()) {
                row.tracking.max(row.size * 0.25)
            } else {
                row.tracking
            },
        })
        .collect();
    page.lines.push(PlacedLine {
        line: row.line.clone(),
        items,
    });
    if let Some((group, boxes)) = &row.boxes {
        boxed.push(BoxedRow {
            group: *group,
            top,
            bottom: top + row.height,
            header: row.line.kind == LineKind::TableHeader,
            boxes: boxes.clone(),
        });
    }
}

/// Draws the borders and shading of the forms and tables placed on one page.
fn draw_rules(page: &mut Page, rows: &[BoxedRow], rules: TableRules, m: &Metrics) {
    let hline = |y: f32, w: f32| Rule {
        x0: m.left,
        y0: y,
        x1: m.right(),
        y1: y,
        width: w,
    };
    let mut start = 0;
    while start < rows.len() {
        let group = rows[start].group;
        let end = (start..rows.len())
            .find(|&j| rows[j].group != group)
            .unwrap_or(rows.len());
        let seg = &rows[start..end];
        // Forms have no header rows; tables always start with one (repeated if cut).
        let is_table = seg.iter().any(|r| r.header);
        for r in seg {
            for b in r.boxes.iter().filter(|b| b.shaded) {
                page.shades.push(Shade {
                    x: b.x0,
                    y: r.top,
                    w: b.x1 - b.x0,
                    h: r.bottom - r.top,
                    gray: 0.9,
                });
            }
        }
        let first_top = seg[0].top;
        let last_bottom = seg[seg.len() - 1].bottom;
        if is_table && rules == TableRules::Horizontal {
            page.rules.push(hline(first_top, 1.2));
            for r in seg.iter().filter(|r| r.header) {
                page.rules.push(hline(r.bottom, 0.6));
            }
            page.rules.push(hline(last_bottom, 1.2));
        } else {
            for r in seg {
                page.rules.push(hline(r.top, 0.5));
                for b in &r.boxes {
                    page.rules.push(Rule {
                        x0: b.x0,
                        y0: r.top,
                        x1: b.x0,
                        y1: r.bottom,
                        width: 0.5,
                    });
                }
                if let Some(b) = r.boxes.last() {
                    page.rules.push(Rule {
                        x0: b.x1,
                        y0: r.top,
                        x1: b.x1,
                        y1: r.bottom,
                        width: 0.5,
                    });
                }
            }
            page.rules.push(hline(last_bottom, 0.5));
            // A heavier outer frame, as printed forms have.
            page.rules.push(hline(first_top, 1.0));
        }
        start = end;
    }
}

/// Running headers on continuation pages and page numbers at the bottom.
fn add_page_furniture(pages: &mut [Page], style: &Style, m: &Metrics) {
    let total = pages.len();
    let size = 9.0;
    for (i, page) in pages.iter_mut().enumerate() {
        if i > 0 {
            if let Some(h) = &style.running_header {
                let baseline = style.margin_top * 0.55;
                page.lines.insert(
                    0,
                    PlacedLine {
                        line: SynthLine::new(LineKind::PageHeader, vec![h.clone()]),
                        items: vec![PlacedText {
                            text: h.clone(),
                            x: m.left,
                            baseline,
                            size,
                            face: Face::Regular,
                            anchor: Anchor::Left,
                            max_width: m.width,
                            tracking: 0.0,
                        }],
                    },
                );
                page.rules.push(Rule {
                    x0: m.left,
                    y0: baseline + size * 0.5,
                    x1: m.right(),
                    y1: baseline + size * 0.5,
                    width: 0.4,
                });
            }
        }
        if let Some(numbers) = style.page_numbers {
            let text = numbers.format(i + 1, total);
            let tracking = if letter_spaced(&text) {
                size * 0.25
            } else {
                0.0
            };
            page.lines.push(PlacedLine {
                line: SynthLine::new(LineKind::PageFooter, vec![text.clone()]),
                items: vec![PlacedText {
                    text,
                    x: m.left + m.width / 2.0,
                    baseline: PAGE_HEIGHT - style.margin_bottom * 0.5,
                    size,
                    face: Face::Regular,
                    anchor: Anchor::Center,
                    max_width: m.width,
                    tracking,
                }],
            });
        }
    }
}
