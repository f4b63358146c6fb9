//! Inline-SVG charts for every report: the run's `report.html` and the bench's standalone
//! `.svg` files. Linear and log scales with "nice" ticks ([`axis`]), line/step series with
//! limit rules ([`mod@line`]), grouped horizontal bars ([`bar`]) and legends; the bench's
//! charts ([`mod@bench`]) and the roofline ([`roofline`]) are built from the same primitives.
//! Every mark carries a `<title>` tooltip.
//!
//! Inline charts are plain SVG markup meant to sit inside HTML: no `xmlns`, no scripts, no
//! external references, every text escaped; [`standalone`] makes one a file of its own.

pub mod axis;
pub mod bar;
pub mod bench;
pub mod line;
pub mod roofline;

pub use axis::{decimals, nice_step, nice_ticks, Axis, Unit};
pub use bar::{Bar, BarChart, BarRow};
pub use line::{LineChart, Point, Rule, Series, Style};

use super::escape::html as esc;
use std::fmt::Write;

/// Series colours, picked in order (readable on white, distinct in greyscale order).
pub const PALETTE: [&str; 8] = [
    "#1f6feb", "#d97706", "#059669", "#9333ea", "#dc2626", "#0891b2", "#65a30d", "#db2777",
];

/// The `i`-th palette colour, cycling.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

pub(crate) const W: f64 = 440.0;
pub(crate) const H: f64 = 270.0;
pub(crate) const LEFT: f64 = 62.0;
pub(crate) const RIGHT: f64 = 16.0;
pub(crate) const TOP: f64 = 34.0;
pub(crate) const BOTTOM: f64 = 46.0;

pub(crate) fn open_svg(o: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        o,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
}

/// A legend row above the plot area: a swatch and a name per entry.
pub(crate) fn legend(o: &mut String, entries: &[(&str, &str, bool)], x0: f64, y: f64) {
    let mut x = x0;
    for (name, color, dashed) in entries {
        let dash = if *dashed {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        let _ = write!(
            o,
            r#"<g class="legend"><line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
            x + 16.0,
            x + 20.0,
            y + 4.0,
            esc(name)
        );
        x += 32.0 + 6.5 * name.chars().count() as f64;
    }
}

/// Makes an inline chart a standalone SVG file (namespace, font, XML declaration) that
/// opens on its own.
pub fn standalone(svg: &str) -> String {
    let body = svg.replacen(
        "<svg ",
        r#"<svg xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11" "#,
        1,
    );
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}\n")
}
