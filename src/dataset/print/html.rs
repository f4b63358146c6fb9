//! The printout as HTML + CSS for Chromium: one fixed-size `div` per A4 page, every line
//! and table row with an explicit height, nothing wrapped by the browser.
//!
//! Paint order is reading order: in-flow content in document order, then the absolutely
//! positioned footer; the barcode and the seal are positioned too but carry no text, so
//! the PDF's text layer lists the lines exactly as [`Sheet::page_lines`] does.

use std::fmt::Write;

use super::layout::{
    Align, Barcode, Block, Class, Grid, GridKind, HeadingLook, Look, Seal, Sheet, SheetPage,
    TableLook, TextLine, Title, TitleLook,
};

/// HTML text escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

fn pt(v: f32) -> String {
    format!("{v:.2}pt")
}

/// The whole document.
pub fn render(sheet: &Sheet) -> String {
    let css = stylesheet(sheet);
    let mut body = String::new();
    for (pi, page) in sheet.pages.iter().enumerate() {
        page_html(&mut body, sheet, pi, page);
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"ko\">\n<head>\n<meta charset=\"utf-8\">\n<title></title>\n<style>\n{css}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

/// The style sheet: page box, fonts, table looks and shades of this printout.
fn stylesheet(sheet: &Sheet) -> String {
    let l = &sheet.look;
    let f = &sheet.fonts;
    let bold_family = f.bold.clone().unwrap_or_else(|| f.regular.clone());
    let bold_weight = if f.bold.is_some() { 700 } else { 400 };
    let rule = format!("{:.2}px solid {}", l.rule_px, "#000");
    let outer = match l.table {
        TableLook::Grid | TableLook::Horizontal => rule.clone(),
        TableLook::ThickOuter => format!("{:.2}px solid #000", (l.rule_px * 2.0).max(1.5)),
        TableLook::DoubleOuter => "3px double #000".to_string(),
    };
    let mut css = String::new();
    // Kerning and ligatures off: widths are then the sums of advances measured in layout.
    let _ = write!(
        css,
        "@page {{ size: A4; margin: 0; }}\n\
         html, body {{ margin: 0; padding: 0; }}\n\
         body {{ font-family: {reg}; font-size: {body}; color: {ink}; font-kerning: none; \
         font-variant-ligatures: none; font-feature-settings: \"kern\" 0, \"liga\" 0, \"clig\" 0; \
         -webkit-print-color-adjust: exact; print-color-adjust: exact; }}\n\
         .page {{ position: relative; z-index: 0; width: 210mm; height: 296.5mm; overflow: hidden; \
         box-sizing: border-box; padding: {mt} {mr} {mb} {ml}; break-after: page; }}\n\
         .page:last-child {{ break-after: auto; }}\n\
         .ln {{ white-space: nowrap; overflow: visible; }}\n\
         .row {{ display: flex; align-items: baseline; white-space: nowrap; }}\n\
         .row > span {{ white-space: nowrap; }}\n\
         .b {{ font-family: {bold}; font-weight: {bw}; }}\n\
         .hand {{ font-family: {hand}; color: {hink}; }}\n\
         .hdr {{ margin-bottom: 6pt; border-bottom: {hr}; }}\n\
         .ftr {{ position: absolute; left: {ml}; right: {mr}; bottom: {mb}; }}\n\
         table {{ border-collapse: collapse; table-layout: fixed; }}\n\
         td {{ white-space: nowrap; overflow: hidden; vertical-align: baseline; \
         padding: {pv} {ph}; font-weight: 400; }}\n\
         table.box td {{ border: {rule}; }}\n\
         table.box {{ border: {outer}; }}\n\
         table.hz {{ border-top: {outer}; border-bottom: {outer}; }}\n\
         table.hz tr.th td {{ border-bottom: {rule}; }}\n\
         table.plain td {{ border: none; }}\n\
         td.sh {{ background: {lshade}; }}\n\
         tr.th td {{ background: {hshade}; }}\n\
         td.flag {{ color: #b00000; }}\n",
        reg = f.regular,
        body = pt(l.body_size),
        ink = l.ink,
        mt = pt(l.margin[0]),
        mr = pt(l.margin[1]),
        mb = pt(l.margin[2]),
        ml = pt(l.margin[3]),
        bold = bold_family,
        bw = bold_weight,
        hand = f.hand,
        hink = l.hand_ink,
        hr = if l.header_rule > 0.0 {
            format!("{:.2}px solid #000", l.header_rule)
        } else {
            "none".into()
        },
        pv = pt(l.pad_v),
        ph = pt(l.pad_h),
        rule = rule,
        outer = outer,
        lshade = l.label_shade,
        hshade = l.head_shade,
    );
    if let Some(z) = &l.zebra {
        let _ = writeln!(css, "tr.z td {{ background: {z}; }}");
    }
    if f.bold.is_some() {
        let _ = writeln!(
            css,
            "td.sh.b, tr.th td {{ font-family: {bold_family}; font-weight: 700; }}"
        );
        let _ = writeln!(
            css,
            "td.flag {{ font-family: {bold_family}; font-weight: 700; }}"
        );
    }

    css
}

/// One page: header, blocks, footer, then the positioned barcode and seal.
fn page_html(body: &mut String, sheet: &Sheet, pi: usize, page: &SheetPage) {
    body.push_str("<div class=\"page\">\n");
    if !page.header.is_empty() {
        body.push_str("<div class=\"hdr\">\n");
        for line in &page.header {
            body.push_str(&text_line(line));
        }
        body.push_str("</div>\n");
    }
    for b in &page.blocks {
        match b {
            Block::Title(t) => body.push_str(&title(t, sheet)),
            Block::Line(line) => body.push_str(&text_line_styled(line, sheet)),
            Block::Grid(g) => body.push_str(&grid(g, sheet)),
        }
    }
    body.push_str("<div class=\"ftr\">\n");
    for line in &page.footer {
        body.push_str(&text_line(line));
    }
    body.push_str("</div>\n");
    if let Some(bc) = &sheet.barcode {
        barcode_svg(body, bc, &sheet.look);
    }
    if let Some(s) = sheet.seal.as_ref().filter(|s| s.page == pi) {
        seal_svg(body, s);
    }
    body.push_str("</div>\n");
}

/// The barcode, top right above the top margin.
fn barcode_svg(body: &mut String, bc: &Barcode, l: &Look) {
    let top = (l.margin[0] - bc.height - 4.0).max(4.0);
    let _ = write!(
        body,
        "<svg style=\"position:absolute; top:{}; right:{}; width:{}; height:{}\" viewBox=\"0 0 {} 10\" preserveAspectRatio=\"none\">",
        pt(top),
        pt(l.margin[1]),
        pt(bc.width),
        pt(bc.height),
        bc.modules
    );
    for (x, w) in &bc.bars {
        let _ = write!(
            body,
            "<rect x=\"{x}\" y=\"0\" width=\"{w}\" height=\"10\" fill=\"#000\"/>"
        );
    }
    body.push_str("</svg>\n");
}

/// The red seal: a ring or a rounded square with pseudo-glyph strokes inside.
fn seal_svg(body: &mut String, s: &Seal) {
    let _ = write!(
        body,
        "<svg style=\"position:absolute; left:{}; top:{}; width:{}; height:{}; opacity:0.82; transform: rotate({:.1}deg)\" viewBox=\"0 0 100 100\">",
        pt(s.x),
        pt(s.y),
        pt(s.size),
        pt(s.size),
        s.rotate
    );
    let red = "#c8102e";
    if s.square {
        let _ = write!(body, "<rect x=\"6\" y=\"6\" width=\"88\" height=\"88\" rx=\"4\" fill=\"none\" stroke=\"{red}\" stroke-width=\"6\"/>");
    } else {
        let _ = write!(body, "<circle cx=\"50\" cy=\"50\" r=\"44\" fill=\"none\" stroke=\"{red}\" stroke-width=\"6\"/><circle cx=\"50\" cy=\"50\" r=\"36\" fill=\"none\" stroke=\"{red}\" stroke-width=\"2\"/>");
    }
    for (x0, y0, x1, y1) in &s.strokes {
        let _ = write!(
            body,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{red}\" stroke-width=\"5\" stroke-linecap=\"square\"/>",
            x0 * 100.0,
            y0 * 100.0,
            x1 * 100.0,
            y1 * 100.0
        );
    }
    body.push_str("</svg>\n");
}

fn justify(a: Align) -> &'static str {
    match a {
        Align::Left => "flex-start",
        Align::Center => "center",
        Align::Right => "flex-end",
        Align::Spread => "space-between",
    }
}

/// A line of cells: a flex row at a fixed height (cells on one baseline).
fn text_line(l: &TextLine) -> String {
    line_with(l, "")
}

fn line_with(l: &TextLine, extra_style: &str) -> String {
    let class = match l.class {
        Class::Hand => "row hand",
        _ if l.bold => "row b",
        _ => "row",
    };
    let gap = if l.align == Align::Spread {
        String::new()
    } else {
        format!(" column-gap: {};", pt(l.size * 2.0))
    };
    let mut out = format!(
        "<div class=\"{class}\" style=\"height:{h}; line-height:{h}; font-size:{s}; margin-top:{mt}; justify-content:{j};{gap}{extra_style}\">",
        h = pt(l.height),
        s = pt(l.size),
        mt = pt(l.space_before),
        j = justify(l.align),
    );
    for (i, c) in l.cells.iter().enumerate() {
        if c.trim().is_empty() {
            continue;
        }
        if i == 0 && l.first_bold {
            let _ = write!(out, "<span class=\"b\">{}</span>", escape(c.trim()));
        } else {
            let _ = write!(out, "<span>{}</span>", escape(c.trim()));
        }
    }
    out.push_str("</div>\n");
    out
}

/// Body lines, with the heading decorations (none of them adds text).
fn text_line_styled(l: &TextLine, sheet: &Sheet) -> String {
    let look = &sheet.look;
    if l.class == Class::Heading {
        let deco = match look.heading {
            HeadingLook::Bar => " border-left: 3pt solid #333; padding-left: 5pt;".to_string(),
            HeadingLook::Band => format!(" background: {}; padding-left: 4pt;", look.head_shade),
            HeadingLook::Underline => " border-bottom: 0.75pt solid #444;".to_string(),
            HeadingLook::Plain => String::new(),
        };
        // The decoration's own height is part of the line's box (box-sizing).
        return line_with(l, &format!(" box-sizing: border-box;{deco}"));
    }
    if l.class == Class::Hand {
        return line_with(l, &format!(" padding-left: {};", pt(look.body_size)));
    }
    text_line(l)
}

fn title(t: &Title, sheet: &Sheet) -> String {
    let look = &sheet.look;
    let bold = if sheet.fonts.bold.is_some() { " b" } else { "" };
    let deco = match t.look {
        TitleLook::Boxed => "border: 1.5px solid #000; padding: 3pt 22pt;".to_string(),
        TitleLook::Underlined => {
            "border-bottom: 2px solid #000; padding: 0 8pt 2pt 8pt;".to_string()
        }
        TitleLook::DoubleUnderlined => {
            "border-bottom: 4px double #000; padding: 0 8pt 2pt 8pt;".to_string()
        }
        TitleLook::Banded => format!("background: {}; padding: 3pt 30pt;", look.head_shade),
        TitleLook::Plain => "padding: 3pt 0;".to_string(),
    };
    let align = match t.align {
        Align::Left => "left",
        _ => "center",
    };
    format!(
        "<div style=\"height:{h}; box-sizing:border-box; padding-top:8pt; text-align:{align};\"><div class=\"ln{bold}\" style=\"display:inline-block; font-size:{s}; line-height:{lh}; {deco}\">{text}</div></div>\n",
        h = pt(t.height),
        s = pt(t.size),
        lh = pt(t.size * 1.3),
        text = escape(&t.text),
    )
}

fn grid(g: &Grid, sheet: &Sheet) -> String {
    let look = &sheet.look;
    let class = match (g.kind, look.table) {
        (GridKind::Plain, _) => "plain",
        (GridKind::Table, TableLook::Horizontal) => "hz",
        _ => "box",
    };
    let bold = sheet.fonts.bold.is_some();
    let mut out = format!(
        "<table class=\"{class}\" style=\"width:{w}; font-size:{s}; line-height:{lh}; margin-top:{mt};\"><colgroup>",
        w = pt(g.width()),
        s = pt(g.size),
        lh = pt(g.size * 1.35),
        mt = pt(g.space_before),
    );
    for c in &g.cols {
        let _ = write!(out, "<col style=\"width:{}\">", pt(*c));
    }
    out.push_str("</colgroup>\n");
    for (ri, r) in g.rows.iter().enumerate() {
        let mut classes = Vec::new();
        if r.header {
            classes.push("th");
        } else if look.zebra.is_some() && g.kind == GridKind::Table && ri % 2 == 0 {
            classes.push("z");
        }
        let _ = write!(
            out,
            "<tr class=\"{}\" style=\"height:{}\">",
            classes.join(" "),
            pt(g.row_height)
        );
        for c in &r.cells {
            let mut cls = Vec::new();
            if c.shaded && !r.header && g.kind == GridKind::Form {
                cls.push("sh");
                if bold {
                    cls.push("b");
                }
            }
            if c.flag {
                cls.push("flag");
            }
            let align = match c.align {
                Align::Left | Align::Spread => "left",
                Align::Center => "center",
                Align::Right => "right",
            };
            let span = if c.span > 1 {
                format!(" colspan=\"{}\"", c.span)
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<td class=\"{}\"{span} style=\"text-align:{align}\">{}</td>",
                cls.join(" "),
                escape(&c.text)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}
