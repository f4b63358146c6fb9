//! The printout's model: a generated document's content laid out as a hospital printout
//! (page header, ruled tables, label/value grids, prose, footer), paginated by measuring
//! every line with the real fonts.
//!
//! Chromium only places what this model decides: every visual line is its own element
//! with `white-space: nowrap` and a fixed height, prose is wrapped here, table columns are
//! sized here, and pages are broken here. So the ground truth (one line per visual line,
//! in reading order) comes from this model, and `truth.rs` checks it against the PDF.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::fonts::{is_hand_family, FontLibrary, Stack};
use super::PrintError;
use crate::dataset::synth::rng::{mix, Rng};
use crate::dataset::synth::{LineKind, SynthDocument, SynthLine};
use crate::dataset::DocType;

/// A4 in points.
pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;
/// Salt separating the printout's draws from the document's content.
const PRINT_SALT: u64 = 0xC4_0311;
/// Height kept free at the bottom of every page's body, points: the model's row heights
/// are estimates of Chromium's (borders, rounding), so pages never overflow.
const SLACK: f32 = 14.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
    /// First cell left, last right, the others spread between (flex space-between).
    Spread,
}

/// What a line is, for its CSS class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Body,
    Meta,
    Heading,
    Hand,
    Signature,
    Header,
    Footer,
}

/// One visual line of text cells.
#[derive(Debug, Clone)]
pub struct TextLine {
    pub cells: Vec<String>,
    pub align: Align,
    pub class: Class,
    pub size: f32,
    /// Line box height, points.
    pub height: f32,
    pub bold: bool,
    pub space_before: f32,
    /// Bold for the first cell only (hospital names in headers).
    pub first_bold: bool,
}

impl TextLine {
    pub fn text(&self) -> String {
        join_cells(self.cells.iter().map(String::as_str))
    }
}

/// Non-empty cells joined by one space (the dataset's rule for rows).
pub fn join_cells<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    cells
        .into_iter()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TitleLook {
    Boxed,
    Underlined,
    DoubleUnderlined,
    Banded,
    Plain,
}

#[derive(Debug, Clone)]
pub struct Title {
    pub text: String,
    pub size: f32,
    pub look: TitleLook,
    pub align: Align,
    pub height: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridKind {
    /// Label/value pairs (labels shaded).
    Form,
    /// Label/value pairs without boxes: `label: value` in columns.
    Plain,
    /// A data table with a shaded header row.
    Table,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub span: usize,
    /// Shaded label (forms) or header cell (tables).
    pub shaded: bool,
    pub align: Align,
    /// An H/L flag: printed emphasised.
    pub flag: bool,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub header: bool,
}

impl Row {
    pub fn text(&self) -> String {
        join_cells(self.cells.iter().map(|c| c.text.as_str()))
    }
}

#[derive(Debug, Clone)]
pub struct Grid {
    pub kind: GridKind,
    /// Column widths, points.
    pub cols: Vec<f32>,
    pub rows: Vec<Row>,
    pub size: f32,
    pub row_height: f32,
    pub space_before: f32,
    /// A continuation of a table split over pages (its header row repeated).
    pub continued: bool,
}

impl Grid {
    pub fn width(&self) -> f32 {
        self.cols.iter().sum()
    }
}

#[derive(Debug, Clone)]
pub enum Block {
    Title(Title),
    Line(TextLine),
    Grid(Grid),
}

/// Table rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableLook {
    /// Every cell boxed.
    Grid,
    /// Rules above and below the table and under the header only.
    Horizontal,
    /// Boxed, with a thick outer border.
    ThickOuter,
    /// Boxed, with a double outer border.
    DoubleOuter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadingLook {
    Bar,
    Band,
    Underline,
    Plain,
}

/// The look of one printout, drawn from its seed.
#[derive(Debug, Clone)]
pub struct Look {
    pub body_size: f32,
    pub small_size: f32,
    pub table_size: f32,
    pub heading_size: f32,
    pub hand_size: f32,
    /// Line height as a multiple of the font size.
    pub lead: f32,
    /// Page margins, points: top, right, bottom, left.
    pub margin: [f32; 4],
    /// Rule width in CSS pixels (0.75 pt each).
    pub rule_px: f32,
    pub table: TableLook,
    pub heading: HeadingLook,
    /// Header row and label cell shades, `#rrggbb`.
    pub head_shade: String,
    pub label_shade: String,
    pub zebra: Option<String>,
    /// Label/value pairs per form row (2 or 3), and whether forms are boxed.
    pub pairs: usize,
    pub boxed_forms: bool,
    /// Colon after labels in unboxed forms (`환자명:` or `환자명 :`).
    pub colon: &'static str,
    /// Cell padding, points (horizontal, vertical).
    pub pad_h: f32,
    pub pad_v: f32,
    /// Tables fill the text width (else they keep their natural width).
    pub full_width: bool,
    /// Numbers in tables centred (else right-aligned).
    pub center_numbers: bool,
    pub ink: &'static str,
    pub hand_ink: &'static str,
    pub header_rule: f32,
    pub barcode: bool,
    pub seal: bool,
}

impl Look {
    fn draw(rng: &mut Rng, doc_type: DocType) -> Look {
        let body_size: f32 = rng.pick(&[8.5, 9.0, 9.5, 10.0, 10.0, 10.5, 11.0, 11.0, 12.0, 13.0]);
        let shade = |rng: &mut Rng| {
            let v = rng.range(0xD9, 0xF0);
            format!("#{v:02x}{v:02x}{v:02x}")
        };
        let head_shade = shade(rng);
        let label_shade = if rng.chance(0.5) {
            head_shade.clone()
        } else {
            shade(rng)
        };
        let mm = 72.0 / 25.4;
        // Long reports use a smaller table face more often.
        let table_size = if rng.chance(0.5) || doc_type == DocType::LabResult {
            (body_size - rng.pick(&[0.0, 0.5, 1.0])).max(8.0)
        } else {
            body_size
        };
        Look {
            body_size,
            small_size: (body_size - rng.pick(&[1.0, 1.5, 2.0])).max(7.5),
            table_size,
            heading_size: (body_size + rng.pick(&[1.0, 1.5, 2.0, 3.0])).min(16.0),
            hand_size: body_size * rng.uniform(1.15, 1.4) as f32,
            lead: rng.uniform(1.3, 1.6) as f32,
            margin: [
                (rng.uniform(14.0, 22.0) as f32) * mm,
                (rng.uniform(12.0, 20.0) as f32) * mm,
                (rng.uniform(12.0, 18.0) as f32) * mm,
                (rng.uniform(12.0, 20.0) as f32) * mm,
            ],
            rule_px: rng.pick(&[0.5, 0.75, 1.0, 1.0, 1.25, 1.5]),
            table: rng.pick(&[
                TableLook::Grid,
                TableLook::Grid,
                TableLook::Horizontal,
                TableLook::ThickOuter,
                TableLook::DoubleOuter,
            ]),
            heading: rng.pick(&[
                HeadingLook::Bar,
                HeadingLook::Band,
                HeadingLook::Underline,
                HeadingLook::Plain,
            ]),
            head_shade,
            label_shade,
            zebra: rng.chance(0.25).then(|| "#f6f6f6".to_string()),
            pairs: if rng.chance(0.45) { 3 } else { 2 },
            boxed_forms: rng.chance(0.75),
            colon: rng.pick(&[":", " :"]),
            pad_h: rng.uniform(2.5, 5.0) as f32,
            pad_v: rng.uniform(1.0, 3.0) as f32,
            full_width: rng.chance(0.75),
            center_numbers: rng.chance(0.5),
            ink: rng.pick(&["#000000", "#111111", "#202020"]),
            hand_ink: rng.pick(&["#1b2f8f", "#203a9c", "#102060", "#2a2a2a"]),
            header_rule: rng.pick(&[0.0, 0.75, 1.0, 1.5]),
            barcode: rng.chance(0.7),
            seal: rng.chance(0.7),
        }
    }

    pub fn rule_pt(&self) -> f32 {
        self.rule_px * 0.75
    }

    pub fn content_width(&self) -> f32 {
        PAGE_W - self.margin[1] - self.margin[3]
    }
}

/// A barcode's bars: (x, width) in modules, and the total modules.
#[derive(Debug, Clone)]
pub struct Barcode {
    pub bars: Vec<(u32, u32)>,
    pub modules: u32,
    pub width: f32,
    pub height: f32,
}

/// A red seal graphic (no text): where and how big.
#[derive(Debug, Clone)]
pub struct Seal {
    pub page: usize,
    pub x: f32,
    pub y: f32,
    pub size: f32,
    pub square: bool,
    pub rotate: f32,
    /// Pseudo-glyph strokes inside, in the unit square: (x0, y0, x1, y1).
    pub strokes: Vec<(f32, f32, f32, f32)>,
}

#[derive(Debug, Clone, Default)]
pub struct SheetPage {
    pub header: Vec<TextLine>,
    pub blocks: Vec<Block>,
    pub footer: Vec<TextLine>,
}

/// Font stacks of one printout (CSS values) and the faces they use.
#[derive(Debug, Clone)]
pub struct SheetFonts {
    pub regular: String,
    pub bold: Option<String>,
    pub hand: String,
    /// PostScript names of every face a stack may use.
    pub ps_names: BTreeSet<String>,
    /// The primary families (body, hand).
    pub body_family: String,
    pub hand_family: String,
}

/// One document as a printout.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub id_seed: u64,
    pub look: Look,
    pub fonts: SheetFonts,
    pub pages: Vec<SheetPage>,
    pub barcode: Option<Barcode>,
    pub seal: Option<Seal>,
    pub header_height: f32,
    pub footer_height: f32,
}

impl Sheet {
    /// The ground-truth lines of every page, in reading order (header, body, footer).
    pub fn page_lines(&self) -> Vec<Vec<String>> {
        self.pages
            .iter()
            .map(|p| {
                let mut out: Vec<String> = p.header.iter().map(TextLine::text).collect();
                for b in &p.blocks {
                    match b {
                        Block::Title(t) => out.push(t.text.clone()),
                        Block::Line(l) => out.push(l.text()),
                        Block::Grid(g) => out.extend(g.rows.iter().map(Row::text)),
                    }
                }
                out.extend(p.footer.iter().map(TextLine::text));
                out.retain(|l| !l.is_empty());
                out
            })
            .collect()
    }

    /// The data tables (not the label/value forms), one per page they appear on: rows of
    /// trimmed cell texts, a spanning cell once.
    pub fn tables(&self) -> Vec<Vec<Vec<String>>> {
        let mut out = Vec::new();
        for page in &self.pages {
            for b in &page.blocks {
                if let Block::Grid(g) = b {
                    if g.kind == GridKind::Table {
                        out.push(
                            g.rows
                                .iter()
                                .map(|r| {
                                    r.cells.iter().map(|c| c.text.trim().to_string()).collect()
                                })
                                .collect(),
                        );
                    }
                }
            }
        }
        out
    }

    /// The ground truth: every page's lines joined by `\n`.
    pub fn text(&self) -> String {
        self.page_lines()
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Measures with the printout's stacks.
struct Measure<'a> {
    regular: Stack<'a>,
    bold: Option<Stack<'a>>,
}

impl Measure<'_> {
    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        match (&self.bold, bold) {
            (Some(b), true) => b.width(text, size),
            _ => self.regular.width(text, size),
        }
    }
}

/// Page header and footer content found in the document.
struct Furniture {
    /// Header line 1 (hospital left, an identifier right).
    header: Vec<String>,
    /// Header line 2 (the patient), if any.
    patient: Option<String>,
    /// Whether the document's first block was hoisted into the header.
    hoisted_first: bool,
    footer_cells: Vec<Vec<String>>,
}

fn pairs_of(cells: &[String]) -> Vec<(String, String)> {
    cells
        .chunks(2)
        .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
        .collect()
}

fn is_hospital(s: &str) -> bool {
    let s = s.trim();
    ["병원", "의원", "의료원", "센터", "클리닉", "보건소"]
        .iter()
        .any(|k| s.ends_with(k))
}

/// Finds the hospital, identifiers and dates the header and footer repeat on every page.
fn furniture(doc: &SynthDocument, rng: &mut Rng) -> Furniture {
    let field = |label: &str| -> Option<String> {
        doc.blocks
            .iter()
            .filter(|b| b.kind == LineKind::Field)
            .flat_map(|b| pairs_of(&b.cells))
            .find(|(l, v)| l == label && !v.trim().is_empty())
            .map(|(_, v)| v)
    };
    let meta_cell = |prefix: &str| -> Option<String> {
        doc.blocks
            .iter()
            .filter(|b| b.kind == LineKind::Meta)
            .flat_map(|b| b.cells.iter())
            .find(|c| c.starts_with(prefix))
            .cloned()
    };
    let first = doc.blocks.first();
    let hoist = first.is_some_and(|b| {
        b.kind == LineKind::Meta && b.cells.first().is_some_and(|c| is_hospital(c))
    });
    let mut header: Vec<String> = Vec::new();
    if hoist {
        header = first.map(|b| b.cells.clone()).unwrap_or_default();
    } else {
        let hospital = field("의료기관 명칭").or_else(|| {
            doc.blocks
                .iter()
                .filter(|b| b.kind == LineKind::Meta)
                .flat_map(|b| b.cells.first())
                .find(|c| is_hospital(c))
                .cloned()
        });
        if let Some(h) = hospital {
            header.push(h);
        }
    }
    if !header.iter().any(|c| c.contains("등록번호")) {
        let id = field("등록번호")
            .map(|v| format!("등록번호: {v}"))
            .or_else(|| meta_cell("등록번호"))
            .or_else(|| meta_cell("요양기관기호"));
        if let Some(id) = id {
            header.push(id);
        }
    }
    let patient = doc
        .fields
        .patient_name
        .as_ref()
        .filter(|_| rng.chance(0.6))
        .map(|n| format!("{}: {n}", rng.pick(&["환자명", "성명", "환자"])));

    // Footer: print time (the issue date, a drawn time) and page numbers.
    let issued = doc
        .fields
        .dates
        .get("issued")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(2024, 1, 2).expect("a valid date"));
    let date = doc.style.date_format.format(issued);
    let (h, m, s) = (rng.range(8, 18), rng.range(0, 59), rng.range(0, 59));
    let stamp = match rng.below(3) {
        0 => format!("출력일시: {date} {h:02}:{m:02}"),
        1 => format!("출력: {date} {h:02}:{m:02}:{s:02}"),
        _ => format!("인쇄일시 {date} {h:02}:{m:02}"),
    };
    let page_style = rng.below(5);
    let layout = rng.below(3);
    let hospital = header.first().filter(|h| is_hospital(h)).cloned();
    let footer_cells = [vec![stamp], vec![format!("{{page:{page_style}}}")]];
    let footer_cells = match (layout, hospital) {
        (0, _) => vec![footer_cells.concat()],
        (1, Some(hosp)) if !hoist => {
            vec![vec![
                hosp,
                footer_cells[1][0].clone(),
                footer_cells[0][0].clone(),
            ]]
        }
        _ => vec![footer_cells[1].clone(), footer_cells[0].clone()],
    };
    Furniture {
        header,
        patient,
        hoisted_first: hoist,
        footer_cells,
    }
}

/// Page number text in one of five styles.
fn page_number(style: usize, page: usize, total: usize) -> String {
    match style {
        0 => format!("- {page} -"),
        1 => format!("{page} / {total}"),
        2 => format!("{page}/{total} 페이지"),
        3 => format!("Page {page} of {total}"),
        _ => format!("페이지: {page}/{total}"),
    }
}

/// Replaces `{page:N}` placeholders.
fn fill_page(cell: &str, page: usize, total: usize) -> String {
    if let Some(rest) = cell.strip_prefix("{page:") {
        let style = rest.trim_end_matches('}').parse().unwrap_or(1);
        page_number(style, page, total)
    } else {
        cell.to_string()
    }
}

/// Every character the printout prints (for font coverage), split into print and hand.
fn characters(doc: &SynthDocument, f: &Furniture) -> (BTreeSet<char>, BTreeSet<char>) {
    let mut print = BTreeSet::new();
    let mut hand = BTreeSet::new();
    for b in &doc.blocks {
        let set = if b.kind == LineKind::Handwritten {
            &mut hand
        } else {
            &mut print
        };
        for c in &b.cells {
            set.extend(c.chars());
        }
    }
    for c in f.header.iter().chain(f.patient.iter()) {
        print.extend(c.chars());
    }
    for c in f.footer_cells.iter().flatten() {
        print.extend(c.chars());
    }
    // Page numbers and colons of unboxed forms.
    print.extend("0123456789-/: 페이지Pageof".chars());
    print.remove(&'{');
    print.remove(&'}');
    (print, hand)
}

/// Lays `doc` out as a printout in the fonts of `lib`.
pub fn build(doc: &SynthDocument, lib: &FontLibrary) -> Result<Sheet, PrintError> {
    let mut rng = Rng::new(mix(doc.seed, PRINT_SALT));
    let look = Look::draw(&mut rng.fork(), doc.doc_type);
    let furn = furniture(doc, &mut rng.fork());
    let (print_chars, hand_chars) = characters(doc, &furn);
    let (fonts, m, hand_stack) = choose_fonts(doc, lib, &mut rng, &print_chars, &hand_chars)?;

    let mut lay = Layout {
        look: &look,
        m: &m,
        hand: &hand_stack,
        has_bold: fonts.bold.is_some(),
    };
    let start = usize::from(furn.hoisted_first);
    let mut blocks = lay.blocks(&doc.blocks[start..], &mut rng)?;

    // Header and footer heights (every page the same).
    let header = lay.header(&furn);
    let header_height: f32 = header
        .iter()
        .map(|l| l.height + l.space_before)
        .sum::<f32>()
        + 6.0
        + look.header_rule;
    let footer_lines = furn.footer_cells.len();
    let footer_height = footer_lines as f32 * look.small_size * look.lead + 8.0;
    let avail = PAGE_H - look.margin[0] - look.margin[2] - header_height - footer_height - SLACK;

    let mut pages = paginate(&mut blocks, avail);
    if doc.doc_type == DocType::DischargeSummary && pages.len() < 2 {
        // Discharge summaries run over two pages: break before a heading past the middle.
        pages = force_two_pages(pages);
    }
    let total = pages.len();
    let sheet_pages: Vec<SheetPage> = pages
        .into_iter()
        .enumerate()
        .map(|(i, body)| SheetPage {
            header: header.clone(),
            blocks: body,
            footer: footer(&furn, &look, i + 1, total),
        })
        .collect();
    // Every printout has a barcode, a seal or both (a seal needs a signature to sit on).
    let seal = if look.seal || !look.barcode {
        seal(&sheet_pages, &look, &m, header_height, &mut rng)
    } else {
        None
    };
    let barcode = (look.barcode || seal.is_none()).then(|| barcode(&mut rng));
    Ok(Sheet {
        id_seed: doc.seed,
        look,
        fonts,
        pages: sheet_pages,
        barcode,
        seal,
        header_height,
        footer_height,
    })
}

/// The printout's fonts: a print family (in shuffled order) whose stack covers the
/// document, its bold when the family has one, and a hand family for the notes. Returns
/// the stacks as CSS, the print measure and the hand stack.
fn choose_fonts<'a>(
    doc: &SynthDocument,
    lib: &'a FontLibrary,
    rng: &mut Rng,
    print_chars: &BTreeSet<char>,
    hand_chars: &BTreeSet<char>,
) -> Result<(SheetFonts, Measure<'a>, Stack<'a>), PrintError> {
    let mut body_families: Vec<&'static str> = lib
        .families()
        .into_iter()
        .filter(|f| !is_hand_family(f))
        .collect();
    shuffle(rng, &mut body_families);
    let regular =
        first_stack(lib, &body_families, print_chars).ok_or_else(|| PrintError::Coverage {
            doc: doc.doc_type.as_str().to_string(),
            families: body_families.join(", "),
            missing: missing_chars(lib, &body_families, print_chars),
        })?;
    let primary = regular.faces[0].family;
    let bold = if lib.has_bold(primary) {
        lib.stack(primary, 700, print_chars)
    } else {
        None
    };
    let mut hand_families: Vec<&'static str> = lib
        .families()
        .into_iter()
        .filter(|f| is_hand_family(f))
        .collect();
    shuffle(rng, &mut hand_families);
    let hand = if hand_chars.is_empty() {
        None
    } else {
        first_stack(lib, &hand_families, hand_chars)
    };
    // No hand face covers the notes: they are printed in the body face, in pen colour.
    let hand = hand.unwrap_or_else(|| regular.clone());
    let mut ps_names: BTreeSet<String> = regular.faces.iter().map(|f| f.ps_name.clone()).collect();
    ps_names.extend(hand.faces.iter().map(|f| f.ps_name.clone()));
    if let Some(b) = &bold {
        ps_names.extend(b.faces.iter().map(|f| f.ps_name.clone()));
    }
    let fonts = SheetFonts {
        regular: regular.css(),
        bold: bold.as_ref().map(Stack::css),
        hand: hand.css(),
        ps_names,
        body_family: primary.to_string(),
        hand_family: hand.primary().to_string(),
    };
    Ok((fonts, Measure { regular, bold }, hand))
}

/// The regular-weight stack of the first of `families` that covers `chars`.
fn first_stack<'a>(
    lib: &'a FontLibrary,
    families: &[&'static str],
    chars: &BTreeSet<char>,
) -> Option<Stack<'a>> {
    families.iter().find_map(|fam| lib.stack(fam, 400, chars))
}

/// The footer lines of page `page` of `total`.
fn footer(furn: &Furniture, look: &Look, page: usize, total: usize) -> Vec<TextLine> {
    furn.footer_cells
        .iter()
        .map(|cells| {
            let cells: Vec<String> = cells.iter().map(|c| fill_page(c, page, total)).collect();
            let align = match cells.len() {
                1 if cells[0].contains(':') || cells[0].starts_with("인쇄") => Align::Right,
                1 => Align::Center,
                _ => Align::Spread,
            };
            TextLine {
                cells,
                align,
                class: Class::Footer,
                size: look.small_size,
                height: look.small_size * look.lead,
                bold: false,
                space_before: 0.0,
                first_bold: false,
            }
        })
        .collect()
}

fn missing_chars(lib: &FontLibrary, families: &[&str], chars: &BTreeSet<char>) -> String {
    chars
        .iter()
        .filter(|&&c| {
            !families
                .iter()
                .any(|f| lib.face(f, 400).is_some_and(|face| face.covers(c)))
        })
        .collect()
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

struct Layout<'a> {
    look: &'a Look,
    m: &'a Measure<'a>,
    hand: &'a Stack<'a>,
    has_bold: bool,
}

impl Layout<'_> {
    fn line(&self, cells: Vec<String>, class: Class, align: Align) -> TextLine {
        let l = self.look;
        let (size, bold) = match class {
            Class::Body | Class::Signature => (l.body_size, false),
            Class::Meta | Class::Footer => (l.small_size, false),
            Class::Header => (l.small_size + 0.5, false),
            Class::Heading => (l.heading_size, self.has_bold),
            Class::Hand => (l.hand_size, false),
        };
        TextLine {
            cells,
            align,
            class,
            size,
            height: size * l.lead,
            bold,
            space_before: 0.0,
            first_bold: false,
        }
    }

    fn width(&self, text: &str, size: f32, bold: bool, class: Class) -> f32 {
        if class == Class::Hand {
            self.hand.width(text, size)
        } else {
            self.m.width(text, size, bold)
        }
    }

    /// Wraps prose to `width` at spaces (a word longer than the line breaks between
    /// characters). A safety margin covers rounding in Chromium's layout.
    fn wrap(&self, text: &str, size: f32, class: Class, width: f32) -> Vec<String> {
        let width = width * 0.97 - 1.0;
        let fits = |s: &str| self.width(s, size, false, class) <= width;
        let mut lines = Vec::new();
        let mut cur = String::new();
        for word in text.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if cur.is_empty() {
                word.to_string()
            } else {
                format!("{cur} {word}")
            };
            if fits(&candidate) {
                cur = candidate;
                continue;
            }
            if !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            for c in word.chars() {
                let mut next = cur.clone();
                next.push(c);
                if !cur.is_empty() && !fits(&next) {
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

    /// A line of several cells if they fit with gaps between them, else one line per cell
    /// (each wrapped).
    fn cells_or_wrapped(&self, cells: &[String], class: Class, align: Align) -> Vec<TextLine> {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if cells.is_empty() {
            return Vec::new();
        }
        let proto = self.line(Vec::new(), class, align);
        let gap = proto.size * 2.0;
        let total: f32 = cells
            .iter()
            .map(|c| self.width(c, proto.size, proto.bold, class))
            .sum::<f32>()
            + gap * (cells.len() - 1) as f32;
        let width = self.look.content_width();
        if total <= width * 0.97 - 1.0 {
            return vec![self.line(cells, class, align)];
        }
        let single = if align == Align::Spread {
            Align::Left
        } else {
            align
        };
        cells
            .iter()
            .flat_map(|c| self.wrap(c, proto.size, class, width))
            .map(|t| self.line(vec![t], class, single))
            .collect()
    }

    fn header(&self, f: &Furniture) -> Vec<TextLine> {
        let mut out = Vec::new();
        if !f.header.is_empty() {
            let mut l = self.cells_or_wrapped(&f.header, Class::Header, Align::Spread);
            if let Some(first) = l.first_mut() {
                first.first_bold = self.has_bold;
            }
            out.extend(l);
        }
        if let Some(p) = &f.patient {
            out.push(self.line(vec![p.clone()], Class::Header, Align::Left));
        }
        out
    }

    /// Turns the document's logical blocks into printout blocks.
    fn blocks(&mut self, src: &[SynthLine], rng: &mut Rng) -> Result<Vec<Block>, PrintError> {
        let l = self.look;
        let mut out = Vec::new();
        let mut i = 0;
        while i < src.len() {
            let b = &src[i];
            match b.kind {
                LineKind::Title => out.push(Block::Title(title(b.text(), rng))),
                LineKind::Meta | LineKind::PageHeader | LineKind::PageFooter => {
                    let align = if b.cells.len() > 1 {
                        Align::Spread
                    } else {
                        Align::Left
                    };
                    let lines = self.cells_or_wrapped(&b.cells, Class::Meta, align);
                    out.extend(spaced(lines, 2.0).map(Block::Line));
                }
                LineKind::Heading => {
                    let mut line = self.line(vec![b.text()], Class::Heading, Align::Left);
                    line.space_before = l.body_size * 0.8;
                    line.height = line.size * 1.45 + 3.0;
                    out.push(Block::Line(line));
                }
                LineKind::Body | LineKind::Handwritten => {
                    out.extend(self.prose(b).into_iter().map(Block::Line));
                }
                LineKind::Signature => {
                    let lines = self.cells_or_wrapped(&b.cells, Class::Signature, Align::Right);
                    out.extend(spaced(lines, l.body_size * 0.8).map(Block::Line));
                }
                LineKind::Field => {
                    let end = (i..src.len())
                        .find(|&j| src[j].kind != LineKind::Field)
                        .unwrap_or(src.len());
                    let pairs: Vec<(String, String)> = src[i..end]
                        .iter()
                        .flat_map(|b| pairs_of(&b.cells))
                        .collect();
                    out.push(Block::Grid(self.form(&pairs)?));
                    i = end;
                    continue;
                }
                LineKind::TableHeader | LineKind::TableRow => {
                    let end = (i + 1..src.len())
                        .find(|&j| src[j].kind != LineKind::TableRow)
                        .unwrap_or(src.len());
                    out.push(Block::Grid(self.table(&src[i..end])?));
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        Ok(out)
    }

    /// A body paragraph or a hand-written note (indented), wrapped to the content width.
    fn prose(&self, b: &SynthLine) -> Vec<TextLine> {
        let l = self.look;
        let class = if b.kind == LineKind::Body {
            Class::Body
        } else {
            Class::Hand
        };
        let proto = self.line(Vec::new(), class, Align::Left);
        let indent = if class == Class::Hand {
            l.body_size
        } else {
            0.0
        };
        let lines = self.wrap(&b.text(), proto.size, class, l.content_width() - indent);
        let lines = lines
            .into_iter()
            .map(|t| self.line(vec![t], class, Align::Left))
            .collect();
        spaced(lines, l.body_size * 0.15).collect()
    }

    fn row_height(&self, size: f32) -> f32 {
        size * 1.35 + 2.0 * self.look.pad_v
    }

    /// A label/value grid: pairs packed `look.pairs` to a row (fewer when they do not fit;
    /// a long value gets a row of its own, spanning the remaining columns).
    fn form(&self, pairs: &[(String, String)]) -> Result<Grid, PrintError> {
        let l = self.look;
        let kind = if l.boxed_forms {
            GridKind::Form
        } else {
            GridKind::Plain
        };
        let label_text = |s: &str| {
            if kind == GridKind::Plain {
                format!("{s}{}", l.colon)
            } else {
                s.to_string()
            }
        };
        let width = l.content_width();
        let mut size = l.table_size;
        loop {
            for k in (1..=l.pairs).rev() {
                if let Some(g) = self.try_form(pairs, k, size, width, kind, &label_text) {
                    return Ok(g);
                }
            }
            if size <= 7.0 {
                return Err(PrintError::Layout(format!(
                    "a label/value row does not fit the page even at 7 pt: {:?}",
                    pairs
                        .iter()
                        .map(|p| format!("{} {}", p.0, p.1))
                        .collect::<Vec<_>>()
                )));
            }
            size = (size - 0.5).max(7.0);
        }
    }

    /// The form with `k` pairs to a row at `size`, if its natural width fits `width`.
    fn try_form(
        &self,
        pairs: &[(String, String)],
        k: usize,
        size: f32,
        width: f32,
        kind: GridKind,
        label_text: &dyn Fn(&str) -> String,
    ) -> Option<Grid> {
        let l = self.look;
        let pad = 2.0 * l.pad_h + l.rule_pt() + 1.5;
        let lw = |s: &str| {
            self.m
                .width(s, size, self.has_bold && kind == GridKind::Form)
                * 1.02
                + pad
        };
        let vw = |s: &str| self.m.width(s, size, false) * 1.02 + pad;
        let label_w = |p: &(String, String)| lw(&label_text(&p.0));
        let rows = pack_pairs(pairs, k, width / k as f32, &|p| label_w(p) + vw(&p.1));
        let mut cols = form_columns(&rows, k, &label_w, &vw);
        let natural: f32 = cols.iter().sum();
        if natural > width {
            return None;
        }
        // Forms fill the width: the extra goes to the value columns.
        let extra = width - natural;
        let values: f32 = (0..k).map(|j| cols[2 * j + 1]).sum::<f32>().max(1.0);
        for j in 0..k {
            cols[2 * j + 1] += extra * cols[2 * j + 1] / values;
        }
        let grid_rows = rows
            .iter()
            .map(|r| form_row(r, k, kind, label_text))
            .collect();
        Some(Grid {
            kind,
            cols,
            rows: grid_rows,
            size,
            row_height: self.row_height(size),
            space_before: l.body_size * 0.6,
            continued: false,
        })
    }

    /// A data table: header row shaded, columns sized to their widest cell.
    fn table(&self, src: &[SynthLine]) -> Result<Grid, PrintError> {
        let l = self.look;
        let width = l.content_width();
        let ncols = src.iter().map(|r| r.cells.len()).max().unwrap_or(1);
        let mut size = l.table_size;
        loop {
            let mut cols = self.table_columns(src, ncols, size);
            let natural: f32 = cols.iter().sum();
            if natural <= width {
                let col_align = column_alignments(src, ncols, l.center_numbers);
                if l.full_width {
                    let extra = width - natural;
                    for c in &mut cols {
                        *c += extra * *c / natural;
                    }
                }
                return Ok(Grid {
                    kind: GridKind::Table,
                    cols,
                    rows: table_rows(src, ncols, &col_align),
                    size,
                    row_height: self.row_height(size),
                    space_before: l.body_size * 0.6,
                    continued: false,
                });
            }
            if size <= 7.0 {
                return Err(PrintError::Layout(format!(
                    "a table of {ncols} columns does not fit the page even at 7 pt"
                )));
            }
            size = (size - 0.5).max(7.0);
        }
    }

    /// Natural column widths at `size`: each column's widest cell, padding included.
    fn table_columns(&self, src: &[SynthLine], ncols: usize, size: f32) -> Vec<f32> {
        let l = self.look;
        let pad = 2.0 * l.pad_h + l.rule_pt() + 1.5;
        let mut cols = vec![0.0f32; ncols];
        for r in src {
            let header = r.kind == LineKind::TableHeader;
            for (j, c) in r.cells.iter().enumerate() {
                let w = self.m.width(c.trim(), size, header && self.has_bold) * 1.02 + pad;
                cols[j] = cols[j].max(w);
            }
        }
        cols
    }
}

/// The title block: size, look and alignment drawn from `rng`.
fn title(text: String, rng: &mut Rng) -> Title {
    let size = rng.pick(&[16.0, 17.0, 18.0, 19.0, 20.0, 22.0]);
    let look = rng.pick(&[
        TitleLook::Boxed,
        TitleLook::Boxed,
        TitleLook::Underlined,
        TitleLook::DoubleUnderlined,
        TitleLook::Banded,
        TitleLook::Plain,
    ]);
    let align = if rng.chance(0.8) {
        Align::Center
    } else {
        Align::Left
    };
    Title {
        height: size * 1.3 + 2.0 * 5.0 + 4.0 + 14.0,
        text,
        size,
        look,
        align,
    }
}

/// `lines` with `space` before the first.
fn spaced(mut lines: Vec<TextLine>, space: f32) -> impl Iterator<Item = TextLine> {
    if let Some(first) = lines.first_mut() {
        first.space_before = space;
    }
    lines.into_iter()
}

/// Packs label/value pairs `k` to a row; a pair wider than `share` gets a row of its own.
fn pack_pairs<'p>(
    pairs: &'p [(String, String)],
    k: usize,
    share: f32,
    pair_width: &dyn Fn(&(String, String)) -> f32,
) -> Vec<Vec<&'p (String, String)>> {
    let mut rows: Vec<Vec<&(String, String)>> = Vec::new();
    let mut cur: Vec<&(String, String)> = Vec::new();
    for p in pairs {
        let wide = pair_width(p) > share;
        if wide && k > 1 {
            if !cur.is_empty() {
                rows.push(std::mem::take(&mut cur));
            }
            rows.push(vec![p]);
            continue;
        }
        cur.push(p);
        if cur.len() == k {
            rows.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        rows.push(cur);
    }
    rows
}

/// Natural column widths (label, value, label, value, …) of a form's rows: the widest
/// cell that does not span, then the last column widened for short spans.
fn form_columns(
    rows: &[Vec<&(String, String)>],
    k: usize,
    label_w: &dyn Fn(&(String, String)) -> f32,
    value_w: &dyn Fn(&str) -> f32,
) -> Vec<f32> {
    let mut cols = vec![0.0f32; 2 * k];
    for r in rows {
        for (j, p) in r.iter().enumerate() {
            cols[2 * j] = cols[2 * j].max(label_w(p));
            if j + 1 < r.len() || r.len() == k {
                cols[2 * j + 1] = cols[2 * j + 1].max(value_w(&p.1));
            }
        }
    }
    // Spanning values: widen the last column when the span is short.
    for r in rows {
        if r.len() < k {
            let j = r.len() - 1;
            let span: f32 = cols[2 * j + 1..].iter().sum();
            let need = value_w(&r[j].1);
            if need > span {
                cols[2 * k - 1] += need - span;
            }
        }
    }
    cols
}

/// One form row: label and value cells, the last value spanning the remaining columns.
fn form_row(
    r: &[&(String, String)],
    k: usize,
    kind: GridKind,
    label_text: &dyn Fn(&str) -> String,
) -> Row {
    let mut cells = Vec::new();
    for (j, p) in r.iter().enumerate() {
        cells.push(Cell {
            text: label_text(&p.0),
            span: 1,
            shaded: kind == GridKind::Form,
            align: Align::Left,
            flag: false,
        });
        let span = if j + 1 == r.len() { 2 * (k - j) - 1 } else { 1 };
        cells.push(Cell {
            text: p.1.clone(),
            span,
            shaded: false,
            align: Align::Left,
            flag: false,
        });
    }
    Row {
        cells,
        header: false,
    }
}

/// Whether a table cell reads as a number (or a range or bound of numbers).
fn is_number(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty()
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '<' || c == '>')
        && t.chars()
            .all(|c| c.is_ascii_digit() || ".-~<>,/".contains(c))
}

/// One alignment per column: numbers right (or centred), short codes (flags, %)
/// centred, text left.
fn column_alignments(src: &[SynthLine], ncols: usize, center_numbers: bool) -> Vec<Align> {
    let data: Vec<&SynthLine> = src
        .iter()
        .filter(|r| r.kind != LineKind::TableHeader)
        .collect();
    (0..ncols)
        .map(|j| {
            let cells: Vec<&str> = data
                .iter()
                .filter_map(|r| r.cells.get(j))
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
                .collect();
            let numbers = cells.iter().filter(|c| is_number(c)).count();
            if j == 0 || cells.is_empty() {
                Align::Left
            } else if numbers * 10 >= cells.len() * 6 {
                if center_numbers {
                    Align::Center
                } else {
                    Align::Right
                }
            } else if cells.iter().all(|c| c.chars().count() <= 2) {
                Align::Center
            } else {
                Align::Left
            }
        })
        .collect()
}

/// A table's rows: header cells centred and shaded, H/L flags marked, short rows padded
/// with empty cells.
fn table_rows(src: &[SynthLine], ncols: usize, col_align: &[Align]) -> Vec<Row> {
    src.iter()
        .map(|r| {
            let header = r.kind == LineKind::TableHeader;
            let mut cells: Vec<Cell> = r
                .cells
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let t = c.trim().to_string();
                    let align = if header { Align::Center } else { col_align[j] };
                    let flag = !header && (t == "H" || t == "L");
                    Cell {
                        text: t,
                        span: 1,
                        shaded: header,
                        align,
                        flag,
                    }
                })
                .collect();
            while cells.len() < ncols {
                cells.push(Cell {
                    text: String::new(),
                    span: 1,
                    shaded: header,
                    align: Align::Left,
                    flag: false,
                });
            }
            Row { cells, header }
        })
        .collect()
}

impl Block {
    /// Height on the page, points (space before included).
    pub fn height(&self) -> f32 {
        block_height(self)
    }

    fn keep_with_next(&self) -> bool {
        match self {
            Block::Title(_) => true,
            Block::Line(l) => l.class == Class::Heading,
            Block::Grid(_) => false,
        }
    }
}

/// Greedy page breaks: blocks in order; a grid splits between rows (a table repeats its
/// header row); a heading or title never ends a page.
fn paginate(blocks: &mut Vec<Block>, avail: f32) -> Vec<Vec<Block>> {
    let mut pages: Vec<Vec<Block>> = vec![Vec::new()];
    let mut used = 0.0f32;
    let mut queue: std::collections::VecDeque<Block> = std::mem::take(blocks).into();
    while let Some(block) = queue.pop_front() {
        let h = block_height(&block);
        let next_h = queue.front().map(first_unit_height).unwrap_or(0.0);
        let need = if block.keep_with_next() {
            h + next_h
        } else {
            h
        };
        let page_empty = pages.last().is_some_and(Vec::is_empty);
        if used + need <= avail || page_empty && used + h <= avail {
            used += h;
            pages.last_mut().expect("a page").push(block);
            continue;
        }
        if let Block::Grid(g) = block {
            // Split: as many rows as fit here (at least one data row after a header).
            let unit = g_row(&g);
            let fixed = g.space_before + g_outer(&g);
            let header_rows = g.rows.iter().take_while(|r| r.header).count();
            let fit = ((avail - used - fixed) / unit).floor().max(0.0) as usize;
            if fit > header_rows && fit < g.rows.len() {
                let mut first = g.clone();
                first.rows.truncate(fit);
                let mut rest = g.clone();
                let mut rows: Vec<Row> = g.rows[..header_rows].to_vec();
                rows.extend(g.rows[fit..].iter().cloned());
                rest.rows = rows;
                rest.continued = true;
                pages.last_mut().expect("a page").push(Block::Grid(first));
                pages.push(Vec::new());
                used = 0.0;
                queue.push_front(Block::Grid(rest));
                continue;
            }
            if !page_empty {
                pages.push(Vec::new());
                used = 0.0;
                queue.push_front(Block::Grid(g));
                continue;
            }
            // An empty page and still too tall: split wherever it fits.
            let fit = fit.max(header_rows + 1).min(g.rows.len());
            let mut first = g.clone();
            first.rows.truncate(fit);
            pages.last_mut().expect("a page").push(Block::Grid(first));
            if fit < g.rows.len() {
                let mut rest = g.clone();
                let mut rows: Vec<Row> = g.rows[..header_rows].to_vec();
                rows.extend(g.rows[fit..].iter().cloned());
                rest.rows = rows;
                rest.continued = true;
                pages.push(Vec::new());
                used = 0.0;
                queue.push_front(Block::Grid(rest));
            }
            continue;
        }
        pages.push(Vec::new());
        used = h;
        pages.last_mut().expect("a page").push(block);
    }
    pages.retain(|p| !p.is_empty());
    pages
}

/// A block's height on the page, points (space before included). Grid rules and outer
/// borders are counted at their widest (1.5 px rules, 3 px double borders), so a look's
/// thinner rules only leave more slack.
fn block_height(b: &Block) -> f32 {
    match b {
        Block::Title(t) => t.height,
        Block::Line(l) => l.height + l.space_before,
        Block::Grid(g) => g.space_before + g_outer(g) + g.rows.len() as f32 * g_row(g),
    }
}

fn first_unit_height(b: &Block) -> f32 {
    match b {
        Block::Grid(g) => {
            let header_rows = g.rows.iter().take_while(|r| r.header).count();
            g.space_before + g_outer(g) + (header_rows + 1).min(g.rows.len()) as f32 * g_row(g)
        }
        other => block_height(other),
    }
}

/// A row's height with its rule (rules are at most 1.5 px = 1.125 pt; counted in full).
fn g_row(g: &Grid) -> f32 {
    g.row_height + 1.2
}

/// Outer borders, top and bottom (a double border is 3 px).
fn g_outer(_g: &Grid) -> f32 {
    2.0 * 2.3
}

/// Moves everything from a heading past the middle of a one-page document to a second
/// page.
fn force_two_pages(mut pages: Vec<Vec<Block>>) -> Vec<Vec<Block>> {
    if pages.len() != 1 {
        return pages;
    }
    let blocks = pages.remove(0);
    let total: f32 = blocks.iter().map(block_height).sum();
    let mut acc = 0.0;
    let mut cut = None;
    for (i, b) in blocks.iter().enumerate() {
        if acc >= total / 2.0 && i > 0 {
            if let Block::Line(l) = b {
                if l.class == Class::Heading {
                    cut = Some(i);
                    break;
                }
            }
        }
        acc += block_height(b);
    }
    let cut = cut.unwrap_or(blocks.len() / 2).max(1);
    let mut first = blocks;
    let second = first.split_off(cut);
    vec![first, second]
}

/// Bars of a Code 128-like barcode (no human-readable text: that would need a line of
/// ground truth).
fn barcode(rng: &mut Rng) -> Barcode {
    let mut bars = Vec::new();
    let mut x = 10u32; // quiet zone
                       // Start pattern, 14 symbols of 3 bars and 3 spaces (widths 1–4), stop pattern.
    for _ in 0..16 {
        for _ in 0..3 {
            let bar = 1 + rng.below(3) as u32;
            let space = 1 + rng.below(3) as u32;
            bars.push((x, bar));
            x += bar + space;
        }
    }
    bars.push((x, 2));
    x += 3;
    bars.push((x, 1));
    x += 11;
    Barcode {
        bars,
        modules: x,
        width: rng.uniform(95.0, 140.0) as f32,
        height: rng.uniform(16.0, 24.0) as f32,
    }
}

/// A seal placed over the signature or the name marked for one (`(인)`, `(서명`, `날인`).
fn seal(
    pages: &[SheetPage],
    look: &Look,
    m: &Measure<'_>,
    header_h: f32,
    rng: &mut Rng,
) -> Option<Seal> {
    let marker = |t: &str| {
        t.contains("(인)") || t.contains("(서명") || t.contains("날인") || t.contains("인)")
    };
    let left = look.margin[3];
    let right = PAGE_W - look.margin[1];
    for (pi, page) in pages.iter().enumerate().rev() {
        let mut y = look.margin[0] + header_h;
        let mut found: Option<(f32, f32)> = None;
        for b in &page.blocks {
            let h = block_height(b);
            match b {
                Block::Line(l) if l.cells.iter().any(|c| marker(c)) => {
                    let cy = y + l.space_before + l.height / 2.0;
                    let x = match l.align {
                        Align::Right | Align::Spread => right - 8.0,
                        _ => left + m.width(&l.text(), l.size, false),
                    };
                    found = Some((x, cy));
                }
                Block::Grid(g) => {
                    let mut ry = y + g.space_before + 2.3;
                    for r in &g.rows {
                        let mut x = left;
                        let mut col = 0;
                        for c in &r.cells {
                            let w: f32 = g.cols[col..(col + c.span).min(g.cols.len())].iter().sum();
                            if marker(&c.text) {
                                let tx = x + look.pad_h + m.width(&c.text, g.size, false);
                                found = Some((tx - 10.0, ry + g_row(g) / 2.0));
                            }
                            x += w;
                            col += c.span;
                        }
                        ry += g_row(g);
                    }
                }
                _ => {}
            }
            y += h;
        }
        if let Some((x, y)) = found {
            let size = rng.uniform(40.0, 58.0) as f32;
            // Four pseudo-characters in a 2×2 grid, like a name seal's 인장 script.
            let mut strokes = Vec::new();
            for (cx, cy) in [(0.3, 0.3), (0.62, 0.3), (0.3, 0.62), (0.62, 0.62)] {
                for _ in 0..rng.range(3, 5) {
                    let x0 = cx + rng.uniform(0.0, 0.16) as f32;
                    let y0 = cy + rng.uniform(0.0, 0.16) as f32;
                    if rng.chance(0.5) {
                        strokes.push((cx, y0, cx + 0.16, y0));
                    } else {
                        strokes.push((x0, cy, x0, cy + 0.16));
                    }
                }
            }
            return Some(Seal {
                page: pi,
                x: (x - size / 2.0).min(PAGE_W - size - 6.0),
                y: y - size / 2.0,
                size,
                square: rng.chance(0.4),
                rotate: rng.uniform(-12.0, 12.0) as f32,
                strokes,
            });
        }
    }
    None
}
