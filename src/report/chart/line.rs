//! x/y charts of line or step series (DPI trade-offs, latency CDFs, bench curves), with
//! limit rules.

use super::{esc, legend, open_svg, Axis, BOTTOM, H, LEFT, RIGHT, TOP, W};
use std::fmt::Write;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Straight segments between points, with markers.
    Line,
    /// A right-continuous step function (an empirical CDF), markers on the steps.
    Step,
}

#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// Tooltip text.
    pub tip: String,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub style: Style,
    pub dashed: bool,
    pub points: Vec<Point>,
}

/// A reference line (an SLA limit): horizontal at `value` on the y axis, or vertical at
/// `value` on the x axis.
#[derive(Debug, Clone)]
pub struct Rule {
    pub value: f64,
    pub vertical: bool,
    pub label: String,
}

/// An x/y chart of line or step series.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
}

impl LineChart {
    pub fn render(&self) -> String {
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
        let mut o = String::new();
        open_svg(&mut o, W, H, &self.title);
        let _ = write!(
            o,
            r##"<rect class="plot" x="{x0}" y="{y1}" width="{:.1}" height="{:.1}" fill="#fff" stroke="#bbb"/>"##,
            x1 - x0,
            y0 - y1
        );
        self.axes(&mut o, (x0, x1, y0, y1));
        self.rules(&mut o, (x0, x1, y0, y1));
        for s in &self.series {
            self.series(&mut o, s, (x0, x1, y0, y1));
        }
        let entries: Vec<(&str, &str, bool)> = self
            .series
            .iter()
            .map(|s| (s.name.as_str(), s.color, s.dashed))
            .collect();
        legend(&mut o, &entries, x0, 16.0);
        o.push_str("</svg>");
        o
    }

    /// Grid lines, tick labels and the two axis labels.
    fn axes(&self, o: &mut String, (x0, x1, y0, y1): Plot) {
        for &t in &self.y.ticks {
            let y = self.y.map(t, y0, y1);
            let _ = write!(
                o,
                r##"<line class="grid" x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#e5e5e5"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                x0 - 6.0,
                y + 4.0,
                esc(&self.y.format(t))
            );
        }
        for &t in &self.x.ticks {
            let x = self.x.map(t, x0, x1);
            let _ = write!(
                o,
                r##"<line class="grid" x1="{x:.1}" y1="{y1}" x2="{x:.1}" y2="{y0}" stroke="#e5e5e5"/><line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{:.1}" stroke="#888"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                y0 + 4.0,
                y0 + 16.0,
                esc(&self.x.format(t))
            );
        }
        let _ = write!(
            o,
            r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="axis-label" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 8.0,
            esc(&self.x.label),
            (y0 + y1) / 2.0,
            esc(&self.y.label)
        );
    }

    /// The limit lines, dashed red, with their labels.
    fn rules(&self, o: &mut String, (x0, x1, y0, y1): Plot) {
        for r in &self.rules {
            // Line ends, then the label's anchor: left of a vertical rule's top, above a
            // horizontal rule's left end.
            let (ax, ay, bx, by, tx, ty, anchor) = if r.vertical {
                let x = self.x.map(r.value, x0, x1);
                (x, y0, x, y1, x - 4.0, y1 + 12.0, "end")
            } else {
                let y = self.y.map(r.value, y0, y1);
                (x0, y, x1, y, x0 + 4.0, y - 4.0, "start")
            };
            let _ = write!(
                o,
                r##"<g class="rule"><title>{l}</title><line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="#cf222e" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="{anchor}" fill="#cf222e">{l}</text></g>"##,
                l = esc(&r.label)
            );
        }
    }

    /// One series: its line (or steps) and a marker with a tooltip per point.
    fn series(&self, o: &mut String, s: &Series, (x0, x1, y0, y1): Plot) {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|p| (self.x.map(p.x, x0, x1), self.y.map(p.y, y0, y1)))
            .collect();
        let path: Vec<(f64, f64)> = match s.style {
            Style::Line => pts.clone(),
            Style::Step => steps(&pts, self.y.map(0.0, y0, y1), x1),
        };
        let dash = if s.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let _ = write!(o, r#"<g class="series"><title>{}</title>"#, esc(&s.name));
        if path.len() > 1 {
            let coords: Vec<String> = path.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                o,
                r#"<polyline fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
                s.color,
                coords.join(" ")
            );
        }
        let radius = if s.style == Style::Step { 2.5 } else { 4.0 };
        for (p, (x, y)) in s.points.iter().zip(&pts) {
            let _ = write!(
                o,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="{radius}" fill="{}" stroke="#fff"><title>{}</title></circle>"##,
                s.color,
                esc(&p.tip)
            );
        }
        o.push_str("</g>");
    }
}

/// The plot area in pixels: left, right, bottom and top.
type Plot = (f64, f64, f64, f64);

/// A step function through `pts`: from `base` (zero) at the first sample, up one step at
/// each sample, flat to the right edge `x1` after the last.
fn steps(pts: &[(f64, f64)], base: f64, x1: f64) -> Vec<(f64, f64)> {
    let mut v = Vec::with_capacity(pts.len() * 2 + 1);
    let mut prev = base;
    for &(x, y) in pts {
        v.push((x, prev));
        v.push((x, y));
        prev = y;
    }
    if let Some(&(_, y)) = pts.last() {
        v.push((x1, y));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::{Unit, PALETTE};

    #[test]
    fn charts_escape_text_and_draw_marks() {
        let chart = LineChart {
            title: "a <b> & \"c\"".into(),
            x: Axis::log_at("DPI", &[150.0, 300.0]),
            y: Axis::linear("CER", [0.01, 0.05], true, 0.0, Unit::Percent),
            series: vec![Series {
                name: "CER <x>".into(),
                color: PALETTE[0],
                style: Style::Line,
                dashed: false,
                points: vec![
                    Point {
                        x: 150.0,
                        y: 0.05,
                        tip: "150 DPI: 5%".into(),
                    },
                    Point {
                        x: 300.0,
                        y: 0.01,
                        tip: "300 DPI: 1%".into(),
                    },
                ],
            }],
            rules: vec![Rule {
                value: 0.02,
                vertical: false,
                label: "limit 2%".into(),
            }],
        };
        let svg = chart.render();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(svg.contains("CER &lt;x&gt;"));
        assert!(!svg.contains("<b>") && !svg.contains("<x>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("limit 2%"));
        assert!(!svg.contains("http"));
    }
}
