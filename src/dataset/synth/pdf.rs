//! Writes a laid-out document as an A4 PDF with its Korean fonts embedded as subsets.
//!
//! Each font file becomes a Type0 font (Identity-H encoding) over a CIDFontType2 whose
//! CIDs are the subset's glyph ids (CIDToGIDMap /Identity), with a widths array and a
//! ToUnicode CMap so that text extraction gives back exactly the ground-truth runs.
//! Streams are zlib-compressed; nothing depends on the clock, so output is reproducible.

use std::collections::{BTreeMap, BTreeSet};

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap};
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};

use super::document::SynthDocument;
use super::error::GenError;
use super::fonts::{FontBook, HAND_FILE};
use super::layout::{Anchor, Face, Page, PlacedText, PAGE_HEIGHT, PAGE_WIDTH};
use super::widths::MIN_SPACE_EM;

/// Which font file prints a run, and whether bold is simulated by stroking the outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resolved {
    file: &'static str,
    fake_bold: bool,
}

/// One embedded font: its subset's glyph ids for each char it prints.
struct Embedded {
    file: &'static str,
    /// Resource name on the pages (`F0`, `F1`, …).
    name: String,
    /// char → glyph id in the subset (= CID).
    cids: BTreeMap<char, u16>,
    /// Advance of each subset glyph, in font units (index = CID).
    advances: Vec<u16>,
    units_per_em: f32,
}

/// Writes `doc` as PDF bytes. The file is dated by the document's own issue date, never
/// by the clock, so the same document always gives the same bytes.
pub fn write_pdf(doc: &SynthDocument, book: &mut FontBook) -> Result<Vec<u8>, GenError> {
    // 1. Decide each run's font; collect the chars every font must carry.
    let (resolved, chars) = resolve_runs(doc, book)?;

    // 2. Subset and embed every font.
    let mut pdf = Pdf::new();
    let mut refs = Refs::default();
    let catalog_id = refs.next();
    let tree_id = refs.next();
    let info_id = refs.next();
    let mut fonts: BTreeMap<&'static str, (Embedded, Ref)> = BTreeMap::new();
    for (i, (file, set)) in chars.iter().enumerate() {
        let font_ref = refs.next();
        let objects = [refs.next(), refs.next(), refs.next(), refs.next()];
        let embedded = embed_font(&mut pdf, book, file, set, i, font_ref, objects)?;
        fonts.insert(file, (embedded, font_ref));
    }

    // 3. Pages: shading, rules, then text.
    let mut page_ids = Vec::new();
    for (page, page_res) in doc.pages.iter().zip(&resolved) {
        let page_id = refs.next();
        let content_id = refs.next();
        page_ids.push(page_id);
        let content = page_content(page, page_res, &fonts);
        pdf.stream(content_id, &content).filter(Filter::FlateDecode);

        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        p.parent(tree_id);
        p.contents(content_id);
        let mut res = p.resources();
        let mut dict = res.fonts();
        for (embedded, font_ref) in fonts.values() {
            dict.pair(Name(embedded.name.as_bytes()), *font_ref);
        }
    }
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    pdf.catalog(catalog_id).pages(tree_id);

    // 4. Metadata: dated by the document's issue date, never by the clock.
    write_info(&mut pdf, info_id, doc);
    Ok(pdf.finish())
}

/// The font of every run (page → line → item), and the chars each font file must carry.
type ResolvedRuns = (
    Vec<Vec<Vec<Resolved>>>,
    BTreeMap<&'static str, BTreeSet<char>>,
);

fn resolve_runs(doc: &SynthDocument, book: &mut FontBook) -> Result<ResolvedRuns, GenError> {
    let mut resolved: Vec<Vec<Vec<Resolved>>> = Vec::with_capacity(doc.pages.len());
    let mut chars: BTreeMap<&'static str, BTreeSet<char>> = BTreeMap::new();
    for page in &doc.pages {
        let mut page_res = Vec::new();
        for line in &page.lines {
            let mut line_res = Vec::new();
            for item in &line.items {
                let r = resolve(item, doc, book)?;
                chars.entry(r.file).or_default().extend(item.text.chars());
                line_res.push(r);
            }
            page_res.push(line_res);
        }
        resolved.push(page_res);
    }
    Ok((resolved, chars))
}

/// Object numbers, handed out in order from 1.
struct Refs(i32);

impl Default for Refs {
    fn default() -> Self {
        Refs(1)
    }
}

impl Refs {
    fn next(&mut self) -> Ref {
        let r = Ref::new(self.0);
        self.0 += 1;
        r
    }
}

/// One page's content stream, compressed: shading, rules, then text.
fn page_content(
    page: &Page,
    page_res: &[Vec<Resolved>],
    fonts: &BTreeMap<&'static str, (Embedded, Ref)>,
) -> Vec<u8> {
    let mut c = Content::new();
    for s in &page.shades {
        c.set_fill_gray(s.gray);
        c.rect(s.x, PAGE_HEIGHT - s.y - s.h, s.w, s.h);
        c.fill_nonzero();
    }
    c.set_fill_gray(0.0);
    c.set_stroke_gray(0.0);
    for r in &page.rules {
        c.set_line_width(r.width);
        c.move_to(r.x0, PAGE_HEIGHT - r.y0);
        c.line_to(r.x1, PAGE_HEIGHT - r.y1);
        c.stroke();
    }
    let mut pen = Pen::default();
    c.begin_text();
    for (line, line_res) in page.lines.iter().zip(page_res) {
        for (item, res) in line.items.iter().zip(line_res) {
            let (font, _) = &fonts[res.file];
            pen.show(&mut c, item, *res, font);
        }
    }
    c.end_text();
    compress(&c.finish())
}

/// The document information dictionary, dated by the document's issue date (or its
/// first date), never by the clock.
fn write_info(pdf: &mut Pdf, info_id: Ref, doc: &SynthDocument) {
    let mut info = pdf.document_info(info_id);
    info.title(TextStr(&doc.title));
    info.producer(TextStr("medocr synthetic document generator"));
    if let Some(date) = doc
        .fields
        .dates
        .get("issued")
        .or_else(|| doc.fields.dates.values().next())
        .and_then(|d| super::dates::parse(d))
    {
        use chrono::Datelike;
        let d = Date::new(date.year() as u16)
            .month(date.month() as u8)
            .day(date.day() as u8);
        info.creation_date(d);
        info.modified_date(d);
    }
    info.finish();
}

/// Picks the font file for a run: the family's face, a stroked regular face when the
/// family has no bold, and the regular face for hand-written lines the pen font lacks.
fn resolve(
    item: &PlacedText,
    doc: &SynthDocument,
    book: &mut FontBook,
) -> Result<Resolved, GenError> {
    let family = doc.style.family;
    let r = match item.face {
        Face::Regular => Resolved {
            file: family.regular_file(),
            fake_bold: false,
        },
        Face::Bold => match family.bold_file() {
            Some(file) => Resolved {
                file,
                fake_bold: false,
            },
            None => Resolved {
                file: family.regular_file(),
                fake_bold: true,
            },
        },
        Face::Hand => {
            if book.get(HAND_FILE)?.covers(&item.text) {
                Resolved {
                    file: HAND_FILE,
                    fake_bold: false,
                }
            } else {
                Resolved {
                    file: family.regular_file(),
                    fake_bold: false,
                }
            }
        }
    };
    let font = book.get(r.file)?;
    if let Some(ch) = item.text.chars().find(|c| font.glyph(*c).is_none()) {
        return Err(GenError::GlyphMissing {
            path: font.path.clone(),
            ch,
        });
    }
    Ok(r)
}

/// Subsets `file` to `set` and writes the font objects: Type0 at `font_ref`, then the
/// CIDFont, descriptor, font program and ToUnicode CMap at `refs`.
fn embed_font(
    pdf: &mut Pdf,
    book: &mut FontBook,
    file: &'static str,
    set: &BTreeSet<char>,
    index: usize,
    font_ref: Ref,
    refs: [Ref; 4],
) -> Result<Embedded, GenError> {
    let [cid_ref, desc_ref, file_ref, cmap_ref] = refs;
    let font = book.get(file)?;
    let mut glyphs: Vec<(char, u16, u16)> = Vec::with_capacity(set.len());
    for &ch in set {
        let (gid, adv) = font.glyph(ch).ok_or_else(|| GenError::GlyphMissing {
            path: font.path.clone(),
            ch,
        })?;
        glyphs.push((ch, gid, adv));
    }
    // Remap in ascending old-gid order: the subset is then independent of char order.
    let mut old: Vec<u16> = glyphs.iter().map(|g| g.1).collect();
    old.sort_unstable();
    old.dedup();
    let remapper = subsetter::GlyphRemapper::new_from_glyphs_sorted(&old);
    let subset = subsetter::subset(&font.data, 0, &remapper).map_err(|e| GenError::Subset {
        path: font.path.clone(),
        reason: e.to_string(),
    })?;

    let mut cids = BTreeMap::new();
    let mut advances = vec![0u16; usize::from(remapper.num_gids())];
    for &(ch, gid, adv) in &glyphs {
        let cid = remapper.get(gid).expect("every glyph was remapped");
        cids.insert(ch, cid);
        advances[usize::from(cid)] = adv;
    }
    let upem = font.units_per_em;
    let to_pdf = |v: f32| v * 1000.0 / upem;

    // Subset fonts are named with a tag derived from their content (PDF 9.6.4).
    let mut hash = Sha256::new();
    hash.update(file.as_bytes());
    for g in &old {
        hash.update(g.to_be_bytes());
    }
    let tag: String = hash.finalize()[..6]
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    let base_font = format!("{tag}+{}", font.postscript_name);
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(font_ref)
        .base_font(Name(base_font.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_ref)
        .to_unicode(cmap_ref);

    let mut cid = pdf.cid_font(cid_ref);
    cid.subtype(CidFontType::Type2)
        .base_font(Name(base_font.as_bytes()))
        .system_info(system_info)
        .font_descriptor(desc_ref)
        .cid_to_gid_map_predefined(Name(b"Identity"))
        .default_width(1000.0);
    cid.widths()
        .consecutive(0, advances.iter().map(|a| to_pdf(f32::from(*a)).round()));
    cid.finish();

    let mut flags = FontFlags::SYMBOLIC;
    if file.contains("Myeongjo") || file.contains("Batang") || file.contains("batang") {
        flags |= FontFlags::SERIF;
    }
    let [x0, y0, x1, y1] = font.bbox;
    pdf.font_descriptor(desc_ref)
        .name(Name(base_font.as_bytes()))
        .flags(flags)
        .bbox(Rect::new(to_pdf(x0), to_pdf(y0), to_pdf(x1), to_pdf(y1)))
        .italic_angle(0.0)
        .ascent(to_pdf(font.ascent))
        .descent(to_pdf(font.descent))
        .cap_height(to_pdf(font.cap_height))
        .stem_v(80.0)
        .font_file2(file_ref);

    let program = compress(&subset);
    pdf.stream(file_ref, &program)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), subset.len() as i32);

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
    for (&ch, &cid) in &cids {
        cmap.pair(cid, ch);
    }
    let cmap = compress(&cmap.finish());
    pdf.cmap(cmap_ref, &cmap).filter(Filter::FlateDecode);

    Ok(Embedded {
        file,
        name: format!("F{index}"),
        cids,
        advances,
        units_per_em: upem,
    })
}

/// Text state carried across runs, so that operators are only written when they change.
#[derive(Default)]
struct Pen {
    font: Option<(&'static str, f32)>,
    scale: Option<f32>,
    fake_bold: Option<bool>,
    hand: Option<bool>,
    tracking: Option<f32>,
}

impl Pen {
    fn show(&mut self, c: &mut Content, item: &PlacedText, res: Resolved, font: &Embedded) {
        let size = item.size;
        if self.font != Some((font.file, size)) {
            c.set_font(Name(font.name.as_bytes()), size);
            self.font = Some((font.file, size));
        }
        let hand = res.file == HAND_FILE;
        if self.hand != Some(hand) {
            // Hand-written notes in ballpoint blue; everything else black.
            if hand {
                c.set_fill_rgb(0.1, 0.16, 0.45);
            } else {
                c.set_fill_gray(0.0);
            }
            self.hand = Some(hand);
        }
        if self.fake_bold != Some(res.fake_bold) {
            if res.fake_bold {
                c.set_text_rendering_mode(TextRenderingMode::FillStroke);
                c.set_line_width(size * 0.03);
            } else {
                c.set_text_rendering_mode(TextRenderingMode::Fill);
            }
            self.fake_bold = Some(res.fake_bold);
        }
        // Glyph codes in pieces, each followed by how far to move right (font units):
        // narrow spaces are widened to MIN_SPACE_EM, as the layout measured them.
        let min_space = MIN_SPACE_EM * font.units_per_em;
        let mut pieces: Vec<(Vec<u8>, f32)> = vec![(Vec::new(), 0.0)];
        let mut units = 0.0f32;
        for ch in item.text.chars() {
            let cid = font.cids[&ch];
            let advance = f32::from(font.advances[usize::from(cid)]);
            let piece = pieces.last_mut().expect("never empty");
            piece.0.extend_from_slice(&cid.to_be_bytes());
            units += advance;
            if ch == ' ' && advance < min_space {
                piece.1 = min_space - advance;
                units += piece.1;
                pieces.push((Vec::new(), 0.0));
            }
        }
        if self.tracking != Some(item.tracking) {
            c.set_char_spacing(item.tracking);
            self.tracking = Some(item.tracking);
        }
        let glyphs = item.text.chars().count() as f32;
        // Tracking follows every glyph; the last one's does not widen the run visibly.
        let natural = units * size / font.units_per_em + item.tracking * (glyphs - 1.0).max(0.0);
        // Squeeze a run that the real font sets wider than its slot, rather than re-wrap.
        let scale = if natural > item.max_width {
            item.max_width / natural
        } else {
            1.0
        };
        let width = natural * scale;
        if self.scale != Some(scale) {
            c.set_horizontal_scaling(scale * 100.0);
            self.scale = Some(scale);
        }
        let x = match item.anchor {
            Anchor::Left => item.x,
            Anchor::Center => item.x - width / 2.0,
            Anchor::Right => item.x - width,
        };
        c.set_text_matrix([1.0, 0.0, 0.0, 1.0, x, PAGE_HEIGHT - item.baseline]);
        if pieces.len() == 1 {
            c.show(Str(&pieces[0].0));
        } else {
            let mut tj = c.show_positioned();
            let mut items = tj.items();
            for (codes, extra) in &pieces {
                if !codes.is_empty() {
                    items.show(Str(codes));
                }
                if *extra > 0.0 {
                    // TJ adjustments are in 1/1000 of the font size; negative moves right.
                    items.adjust(-extra * 1000.0 / font.units_per_em);
                }
            }
        }
    }
}

/// zlib (FlateDecode) compression at a fixed level: deterministic bytes.
fn compress(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}
